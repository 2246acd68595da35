"""The checklist on the migrated store (SQLite and PostgreSQL): each item flips when the real state changes.

Nothing is faked: pacts are proposed and signed, events ingested, files imported, a channels
file written, the sweep run, people deactivated, through the same services the CLI calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete

from leadpact.adapters.db import tables as t
from leadpact.adapters.importers.mapping import load_import_mapping
from leadpact.adapters.pact_yaml import parse_pact
from leadpact.bootstrap import App
from leadpact.domain.checklist import ItemResult, Status
from leadpact.domain.clock import FixedClock
from leadpact.services import pacts
from leadpact.services.checklist import run_checklist
from leadpact.services.imports import import_file
from leadpact.services.ingest import ingest
from leadpact.services.rescore import rescore_active
from leadpact.services.routing import set_active
from leadpact.services.sla import sweep
from tests.conftest import EXAMPLE_PACT, ROOT
from tests.factories import event, example_document, example_text, lines, sign_example_pact

JST = timezone(timedelta(hours=9))
MONDAY = datetime(2026, 9, 7, 10, 0, tzinfo=JST)
FIT = {"company": "株式会社テスト製作所", "industry": "製造業", "employees": 300}
HOOK = """channels:
  - id: sales-hook
    type: webhook
    url: https://hooks.example.co.jp/leadpact
    secret_env: LEADPACT_TEST_HOOK_SECRET
"""
ENV = {"LEADPACT_TEST_HOOK_SECRET": "s3cret"}


def checklist(app: App, now: datetime | None = None, channels: Path | None = None) -> dict[str, ItemResult]:
    found = run_checklist(app.engine, now or app.clock.now(), channels, ENV)
    return {item.id: item for item in found.items}


def statuses(app: App, now: datetime | None = None, channels: Path | None = None) -> dict[str, Status]:
    return {key: item.status for key, item in checklist(app, now, channels).items()}


def said(item: ItemResult) -> str:
    return "\n".join(line("en") for line in item.evidence)


def an_mql(source: str = "satori") -> list[dict[str, object]]:
    """Fit 25 + download 20 + seminar 30 + pricing view 12: an MQL at the pricing view, Monday 12:00."""
    return [
        event("lead_upsert", MONDAY - timedelta(days=1), id="u1", source=source, attributes=FIT),
        event("activity", MONDAY, id="a1", source=source, activity="document_download"),
        event("activity", MONDAY + timedelta(hours=1), id="a2", source=source, activity="seminar_attended"),
        event(
            "activity",
            MONDAY + timedelta(hours=2),
            id="a3",
            source=source,
            activity="page_view",
            properties={"url": "/pricing"},
        ),
    ]


def assigned(source: str = "salesforce") -> dict[str, object]:
    return event("assignment", MONDAY + timedelta(hours=4), id="s1", source=source, to="田中")


def test_an_empty_store_fails_every_item_and_the_signed_example_pact_passes_what_it_agrees(app: App) -> None:
    empty = checklist(app)
    assert {item.status for item in empty.values()} == {Status.FAIL}
    assert said(empty["mql_definition"]) == "no pact is active"

    sign_example_pact(app)
    found = checklist(app)
    assert {k for k, item in found.items() if item.status is Status.PASS} == {
        "mql_definition",
        "sql_definition",
        "scoring",
        "mql_handoff",
        "sql_handoff",
        "shared_kpis",
        "regular_review",
        "review_cycle",
        "responsibilities_shared",
    }
    signed = (
        "v1 approved by 佐藤 (Marketing) 2026-10-01, 田中 (Inside sales) 2026-10-01 and 鈴木 (Field sales) 2026-10-01"
    )
    assert said(found["sql_definition"]).startswith(signed)
    assert said(found["scoring"]).endswith("no leads yet")
    assert said(found["neglect_detection"]).startswith("no notification channel configured")
    assert said(found["visibility"]).startswith("no data has arrived from an MA or SFA yet")
    assert said(found["feedback_loop"]).startswith("no return with a reason code since 2026-07-01")


def test_a_channel_for_every_department_and_a_sweep_that_runs_flip_neglect_detection(app: App, tmp_path: Path) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines([*an_mql(), assigned()]))  # is_first_contact due at the end of Thu 9/10
    now = app.clock.now()
    assert statuses(app, now)["neglect_detection"] is Status.FAIL

    channels = tmp_path / "channels.yaml"
    channels.write_text(HOOK.replace("secret_env", "departments: [marketing]\n    secret_env"), encoding="utf-8")
    found = checklist(app, now, channels)["neglect_detection"]
    assert found.status is Status.PARTIAL
    assert "breaches of Inside sales, Field sales reach no channel" in said(found)
    assert "1 clocks more than 24 hours past due were never recorded (the oldest due 2026-09-10)" in said(found)

    channels.write_text(HOOK, encoding="utf-8")
    found = checklist(app, now, channels)["neglect_detection"]
    assert found.status is Status.PARTIAL
    assert said(found).startswith("1 clocks more than 24 hours past due were never recorded")

    sweep(app.engine, now)
    found = checklist(app, now, channels)["neglect_detection"]
    assert found.status is Status.PASS
    assert "notification channels: sales-hook (webhook)\nthe last breach was recorded on 2026-10-01" in said(found)

    channels.write_text(HOOK.replace("LEADPACT_TEST_HOOK_SECRET", "UNSET_SECRET"), encoding="utf-8")
    found = checklist(app, now, channels)["neglect_detection"]
    assert found.status is Status.FAIL
    assert said(found).startswith(f"the channels file {channels} has 1 problem(s) and cannot be used")


def test_data_from_both_the_ma_and_the_sfa_flips_visibility_and_stale_data_fails_it(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(an_mql("satori")))
    found = checklist(app)["visibility"]
    assert found.status is Status.PARTIAL
    assert "no sales side (stages, owners, contacts) data has ever arrived" in said(found)
    assert "satori (events) last 2026-10-01, 4 rows" in said(found)

    ingest(app.engine, app.clock, lines([assigned("salesforce")]))
    assert statuses(app)["visibility"] is Status.PASS

    # Thursday 10/08 is 5 business days after Thursday 10/01; Friday 10/09 is 6
    assert statuses(app, datetime(2026, 10, 8, 23, tzinfo=JST))["visibility"] is Status.PASS
    stale = checklist(app, datetime(2026, 10, 9, 9, tzinfo=JST))["visibility"]
    assert stale.status is Status.FAIL
    assert "no marketing side (leads, activities) data for more than 5 business days (the newest 2026-10-01)" in said(
        stale
    )


def test_an_sfa_export_counts_as_the_sales_side(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(an_mql("satori")))
    mapping = load_import_mapping(ROOT / "tests" / "data" / "salesforce" / "mapping.yaml")
    path = ROOT / "tests" / "data" / "salesforce" / "leads.csv"
    report = import_file(app.engine, app.clock, path, "salesforce-leads", mapping=mapping)
    found = checklist(app)["visibility"]
    assert found.status is Status.PASS
    assert f"salesforce-leads (import) last 2026-10-01, {report.rows} rows" in said(found)


def test_a_recycle_with_a_reason_code_flips_the_feedback_loop(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines([*an_mql(), assigned()]))
    assert statuses(app)["feedback_loop"] is Status.FAIL

    recycle = event(
        "stage_change",
        MONDAY + timedelta(days=1),
        id="r1",
        source="salesforce",
        to="recycled",
        by="田中",
        reason="no_budget",
    )
    ingest(app.engine, app.clock, lines([recycle]))
    found = checklist(app)["feedback_loop"]
    assert found.status is Status.PASS
    assert said(found) == (
        "since 2026-07-01 sales returned 1 leads (recycled or disqualified), 1 with a reason code\nreasons: No budget 1"
    )
    # a quarter later the return falls out of the window
    assert statuses(app, datetime(2027, 1, 5, tzinfo=JST))["feedback_loop"] is Status.FAIL


def test_marketing_disqualifying_its_own_leads_is_not_feedback_from_sales(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(an_mql()))
    drop = event("stage_change", MONDAY + timedelta(days=1), id="d1", to="disqualified", by="佐藤", reason="duplicate")
    ingest(app.engine, app.clock, lines([drop]))
    found = checklist(app)["feedback_loop"]
    assert found.status is Status.FAIL
    assert said(found).startswith("no return with a reason code since 2026-07-01")


def test_a_review_signed_again_flips_the_review_items(app: App) -> None:
    sign_example_pact(app)  # signed 2026-10-01: the quarterly review is due by 2027-01-01
    assert statuses(app, datetime(2027, 1, 1, 23, tzinfo=JST))["review_cycle"] is Status.PASS
    later = datetime(2027, 1, 15, 10, tzinfo=JST)
    found = checklist(app, later)
    assert (found["regular_review"].status, found["review_cycle"].status) == (Status.PARTIAL, Status.PARTIAL)
    assert said(found["review_cycle"]).startswith("v1 was due for review on 2027-01-01")

    clock = FixedClock(later)
    reviewed = parse_pact(example_text() + "# 2027-01 review: no change\n", "pact.yaml")
    version = pacts.propose_pact(app.store(), clock, reviewed, "佐藤").version
    assert statuses(app, later)["regular_review"] is Status.PASS  # proposing is reviewing
    assert statuses(app, later)["review_cycle"] is Status.PARTIAL  # v1 is still the one in force
    for name in ("佐藤", "田中", "鈴木"):
        pacts.approve_pact(app.store(), clock, version, name)
    found = checklist(app, later)
    assert (found["regular_review"].status, found["review_cycle"].status) == (Status.PASS, Status.PASS)
    assert "next review due by 2027-04-15" in said(found["review_cycle"])


def test_a_pact_that_leaves_the_review_cycle_to_its_default_has_not_decided_it(app: App) -> None:
    sign_example_pact(app, example_document(("review_cycle: quarterly\n", "")))
    found = checklist(app)["review_cycle"]
    assert found.status is Status.FAIL
    assert said(found).startswith("pact v1 does not say review_cycle (leadpact assumes quarterly)")


def test_kpi_targets_and_routing_written_into_a_new_version_flip_their_items(app: App) -> None:
    text = EXAMPLE_PACT.read_text(encoding="utf-8")
    routing = text[text.index("routing:\n") : text.index("\n", text.index("capacity_per_day")) + 1]
    bare = text.replace(routing, "").split("# 共通KPIと責任部門")[0]
    sign_example_pact(app, parse_pact(bare, "pact.yaml"))
    found = checklist(app)
    assert (found["shared_kpis"].status, found["mql_handoff"].status) == (Status.FAIL, Status.FAIL)
    assert said(found["shared_kpis"]) == "no target for mql_count\nno target for mql_to_sql_rate"

    ingest(app.engine, app.clock, lines([*an_mql(), assigned()]))
    assert statuses(app)["mql_handoff"] is Status.PARTIAL  # assigned, by a method the pact does not state

    sign_example_pact(app, example_document(("# 見直しサイクル", "# v2\n# 見直しサイクル")))
    found = checklist(app)
    assert (found["shared_kpis"].status, found["mql_handoff"].status) == (Status.PASS, Status.PASS)
    assert "1 assignments since 2026-07-01" in said(found["mql_handoff"])


def test_a_department_left_without_an_active_member_flips_the_handoff_and_the_responsibilities(app: App) -> None:
    sign_example_pact(app)
    set_active(app.engine, "鈴木", False)  # the only member of field sales
    found = checklist(app)
    assert (found["sql_handoff"].status, found["responsibilities_shared"].status) == (Status.PARTIAL, Status.PARTIAL)
    assert said(found["sql_handoff"]).startswith("Field sales has no one to take SQLs")
    assert said(found["responsibilities_shared"]).startswith("Field sales has no active member with an e-mail address")
    set_active(app.engine, "鈴木", True)
    found = checklist(app)
    assert (found["sql_handoff"].status, found["responsibilities_shared"].status) == (Status.PASS, Status.PASS)


def test_leads_without_a_score_under_the_active_version_are_partial_until_rescored(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(an_mql()))
    assert said(checklist(app)["scoring"]).endswith("1 of 1 leads have a score under v1")
    with app.engine.begin() as connection:  # as an upgrade that empties the stored scores leaves them
        connection.execute(delete(t.lead_scores))
    found = checklist(app)["scoring"]
    assert found.status is Status.PARTIAL
    assert said(found).startswith("1 leads have no stored score under v1")
    rescore_active(app.engine, app.clock.now())
    assert statuses(app)["scoring"] is Status.PASS
