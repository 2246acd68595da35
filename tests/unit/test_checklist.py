"""The 12 checklist rules on hand-built snapshots: each item passing, partial and failing for a stated reason.

The base snapshot satisfies every item at Thursday 2026-10-01 12:00 in Tokyo; each case changes
one thing and names the status and the sentence (English, and Japanese where it matters) it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from leadpact.domain.checklist import (
    RULES,
    ChannelReach,
    Checklist,
    Feed,
    Member,
    PactRecord,
    Returned,
    Side,
    Signature,
    Snapshot,
    Status,
    cycle_start,
    evaluate,
    shift_months,
)
from leadpact.domain.pact import Pact, ReviewCycle
from tests.factories import example_document

JST = timezone(timedelta(hours=9))
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=JST)  # a Thursday
PACT = example_document().pact
SIGNED = (
    Signature("佐藤", "marketing", datetime(2026, 8, 31, 10, tzinfo=JST)),
    Signature("田中", "inside_sales", datetime(2026, 8, 31, 15, tzinfo=JST)),
    Signature("鈴木", "field_sales", datetime(2026, 9, 1, 9, tzinfo=JST)),
)
SINCE = datetime(2026, 7, 1, 12, 0, tzinfo=JST)  # a quarter before NOW


def record(pact: Pact = PACT, **changes: object) -> PactRecord:
    base = PactRecord(
        version=1,
        pact=pact,
        status="active",
        proposed_by="佐藤",
        proposed_at=datetime(2026, 8, 28, 10, tzinfo=JST),
        activated_at=SIGNED[-1].at,
        approvals=SIGNED,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def snapshot(**changes: object) -> Snapshot:
    base = Snapshot(
        now=NOW,
        versions=(record(),),
        members=(
            Member("佐藤", "marketing", "sato@corp.example", True),
            Member("田中", "inside_sales", "tanaka@corp.example", True),
            Member("鈴木", "field_sales", "suzuki@corp.example", True),
        ),
        leads=120,
        scored=120,
        channels=(ChannelReach("slack-sales", "slack", frozenset()),),
        channels_file="channels.yaml",
        channel_problems=0,
        unswept=0,
        oldest_unswept_due=None,
        last_breach_at=datetime(2026, 9, 30, 9, tzinfo=JST),
        feeds=(
            Feed("hubspot", Side.MARKETING, "events", datetime(2026, 10, 1, 8, tzinfo=JST), 5_000),
            Feed("salesforce", Side.SALES, "import", datetime(2026, 9, 30, 19, tzinfo=JST), 800),
        ),
        since=SINCE,
        returns=(
            Returned("inside_sales", "recycled", "no_budget", 1, 7),
            Returned("field_sales", "disqualified", "competitor", 1, 2),
        ),
        assignments=40,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def with_pact(pact: Pact, **changes: object) -> Snapshot:
    """The base snapshot with `pact` as its active version (approved by the departments that approve it)."""
    approvals = tuple(s for s in SIGNED if s.department in pact.approvers)
    return snapshot(versions=(record(pact, approvals=approvals),), **changes)


def edited(**sections: Callable[[Pact], object]) -> Pact:
    """The example pact with some top-level sections replaced (each computed from the example)."""
    return PACT.model_copy(update={name: make(PACT) for name, make in sections.items()})


def item(checklist: Checklist, item_id: str) -> tuple[Status, str, str, str | None]:
    found = next(i for i in checklist.items if i.id == item_id)
    step = found.next_step("en") if found.next_step else None
    return found.status, "\n".join(e("en") for e in found.evidence), "\n".join(e("ja") for e in found.evidence), step


def test_the_base_snapshot_passes_every_item_in_the_seeds_order() -> None:
    checklist = evaluate(snapshot())
    assert [i.id for i in checklist.items] == [
        "mql_definition",
        "sql_definition",
        "scoring",
        "mql_handoff",
        "sql_handoff",
        "neglect_detection",
        "shared_kpis",
        "visibility",
        "regular_review",
        "review_cycle",
        "responsibilities_shared",
        "feedback_loop",
    ]
    assert [i.status for i in checklist.items] == [Status.PASS] * 12
    assert all(i.next_step is None for i in checklist.items)
    assert (checklist.count(Status.PASS), checklist.count(Status.FAIL)) == (12, 0)
    assert len(RULES) == 12


def test_a_signed_definition_names_who_signed_which_version_and_when() -> None:
    status, en, ja, _ = item(evaluate(snapshot()), "sql_definition")
    assert status is Status.PASS
    assert (
        "v1 approved by 佐藤 (Marketing) 2026-08-31, 田中 (Inside sales) 2026-08-31 and 鈴木 (Field sales) "
        "2026-09-01; active since 2026-09-01" in en
    )
    assert "BANT ≥ 2 / 4" in en and "(responsible: Field sales)" in en
    assert "v1 を承認: 佐藤 (マーケティング部) 2026-08-31、田中 (インサイドセールス部) 2026-08-31" in ja
    assert "(責任部門 営業部)" in ja


# (item, snapshot, status, a sentence of the evidence, a piece of the next step)
CASES: list[tuple[str, Snapshot, Status, str, str | None]] = [
    # 1–2: definitions signed by both sides
    (
        "mql_definition",
        snapshot(versions=(record(status="draft", activated_at=None, approvals=SIGNED[:2]),)),
        Status.FAIL,
        "no pact is active; draft v1 waits for: field_sales",
        "`leadpact pact approve 1 --by USER`",
    ),
    (
        "mql_definition",
        snapshot(versions=()),
        Status.FAIL,
        "no pact is active",
        "`leadpact pact propose pact.yaml --by USER`",
    ),
    (
        "mql_definition",
        with_pact(edited(approvers=lambda p: ("marketing",))),
        Status.FAIL,
        "v1 is not agreed by both sides: its approvers lack a sales department",
        "marketing and sales both among the approvers",
    ),
    (
        "mql_definition",
        with_pact(edited(approvers=lambda p: ("inside_sales", "field_sales"))),
        Status.FAIL,
        "its approvers lack a marketing department and Marketing, the responsible department",
        "marketing and sales both among the approvers",
    ),
    (
        "sql_definition",
        with_pact(edited(approvers=lambda p: ("marketing", "inside_sales"))),
        Status.FAIL,
        "its approvers lack Field sales, the responsible department",
        "propose it with `leadpact pact propose`",
    ),
    (
        "mql_definition",
        with_pact(
            edited(
                mql=lambda p: p.mql.model_copy(update={"score_threshold": 0, "required_actions": (), "attributes": ()})
            )
        ),
        Status.FAIL,
        "the MQL definition sets no criterion (threshold 0, no required action, no attribute condition)",
        "write the criteria under mql:",
    ),
    (
        "sql_definition",
        with_pact(
            edited(sql=lambda p: p.sql.model_copy(update={"bant_min": 0, "required_actions": (), "required_facts": ()}))
        ),
        Status.FAIL,
        "the SQL definition sets no criterion (BANT 0 of 4, no required action, no required fact)",
        "write the criteria under sql:",
    ),
    # 3: scoring rules, a threshold, and leads scored under the active version
    (
        "scoring",
        with_pact(edited(scoring=lambda p: p.scoring.model_copy(update={"attributes": ()}))),
        Status.FAIL,
        "no attribute rule",
        "write behaviour and attribute rules under scoring:",
    ),
    (
        "scoring",
        with_pact(
            edited(
                scoring=lambda p: p.scoring.model_copy(update={"behaviour": ()}),
                mql=lambda p: p.mql.model_copy(update={"score_threshold": 0}),
            )
        ),
        Status.FAIL,
        "no behaviour rule\nthe MQL threshold is 0: scores decide nothing",
        "write behaviour and attribute rules under scoring:",
    ),
    ("scoring", snapshot(scored=117), Status.PARTIAL, "3 leads have no stored score under v1", "`leadpact rescore`"),
    ("scoring", snapshot(leads=0, scored=0), Status.PASS, "no leads yet", None),
    ("scoring", snapshot(), Status.PASS, "v1: 8 behaviour rules, 5 attribute rules, MQL threshold 80", None),
    # 4: MQL → IS: a handoff deadline and a written method
    (
        "mql_handoff",
        with_pact(edited(clocks=lambda p: tuple(c for c in p.clocks if c.id != "mql_handoff"))),
        Status.FAIL,
        "no MQL handoff deadline (a clock with stage: mql, kind: handoff)",
        "add `{id: mql_handoff",
    ),
    (
        "mql_handoff",
        with_pact(edited(routing=lambda p: None)),
        Status.PARTIAL,
        "the pact does not say how MQLs reach inside sales (no routing)",
        "write the method under routing:",
    ),
    (
        "mql_handoff",
        with_pact(edited(routing=lambda p: None), assignments=0),
        Status.FAIL,
        "0 assignments since 2026-07-01",
        "write the method under routing:",
    ),
    (
        "mql_handoff",
        snapshot(members=(Member("田中", "inside_sales", "tanaka@corp.example", False),)),
        Status.PARTIAL,
        "the routing pool Inside sales has no active rep",
        "`leadpact user add NAME --department inside_sales`",
    ),
    (
        "mql_handoff",
        snapshot(),
        Status.PASS,
        "routing: round robin among the 1 active reps of Inside sales, at most 15 a day each",
        None,
    ),
    # 5: IS → FS: a deadline field sales answers for, and someone to take the SQLs
    (
        "sql_handoff",
        with_pact(edited(clocks=lambda p: tuple(c for c in p.clocks if c.stage.value != "sql"))),
        Status.FAIL,
        "no deadline after the handoff to field sales",
        "add `{id: fs_meeting",
    ),
    (
        "sql_handoff",
        snapshot(members=(Member("鈴木", "field_sales", "suzuki@corp.example", False),)),
        Status.PARTIAL,
        "Field sales has no one to take SQLs",
        "--department DEPT` (field_sales)",
    ),
    ("sql_handoff", snapshot(), Status.PASS, "taken by Field sales (1 active members)", None),
    # 6: neglect detection: deadlines, a channel for every responsible department, a sweep that runs
    (
        "neglect_detection",
        snapshot(channels=(), channels_file=None),
        Status.FAIL,
        "no notification channel configured",
        "LEADPACT_CHANNELS or --channels FILE",
    ),
    (
        "neglect_detection",
        snapshot(channels=(), channel_problems=2),
        Status.FAIL,
        "the channels file channels.yaml has 2 problem(s) and cannot be used",
        "`leadpact channels check`",
    ),
    (
        "neglect_detection",
        snapshot(channels=(ChannelReach("mail-mkt", "email", frozenset({"marketing"})),)),
        Status.PARTIAL,
        "breaches of Inside sales, Field sales reach no channel",
        "add inside_sales, field_sales to a channel's departments:",
    ),
    (
        "neglect_detection",
        snapshot(unswept=3, oldest_unswept_due=datetime(2026, 9, 28, 18, tzinfo=JST)),
        Status.PARTIAL,
        "3 clocks more than 24 hours past due were never recorded (the oldest due 2026-09-28)",
        "`leadpact sla sweep` on a schedule",
    ),
    (
        "neglect_detection",
        with_pact(edited(clocks=lambda p: ())),
        Status.FAIL,
        "the pact sets no deadline (clocks)",
        "under clocks:",
    ),
    (
        "neglect_detection",
        snapshot(),
        Status.PASS,
        "notification channels: slack-sales (slack)\nthe last breach was recorded on 2026-09-30",
        None,
    ),
    # 7: shared KPIs, owned on both sides
    (
        "shared_kpis",
        with_pact(edited(kpi_targets=lambda p: ())),
        Status.FAIL,
        "no target for mql_count\nno target for mql_to_sql_rate",
        "kpi_targets:",
    ),
    (
        "shared_kpis",
        with_pact(
            edited(kpi_targets=lambda p: tuple(t.model_copy(update={"owner": "marketing"}) for t in p.kpi_targets))
        ),
        Status.FAIL,
        "no KPI is owned by sales",
        "kpi_targets:",
    ),
    (
        "shared_kpis",
        with_pact(edited(kpi_targets=lambda p: tuple(t for t in p.kpi_targets if t.owner != "marketing"))),
        Status.FAIL,
        "no target for mql_count\nno KPI is owned by marketing",
        "kpi_targets:",
    ),
    ("shared_kpis", snapshot(), Status.PASS, "mql_to_sql_rate 30% per quarter (Inside sales)", None),
    # 8: both halves of the status arrive from the MA/SFA; fresh = within 5 business days.
    # 2026-09-24 (Thu) is 5 business days before Thu 10/01; 9/18 (Fri) is 6, as 9/21–9/23 are holidays.
    ("visibility", snapshot(feeds=()), Status.FAIL, "no data has arrived from an MA or SFA yet", "`leadpact import"),
    (
        "visibility",
        snapshot(feeds=(Feed("hubspot", Side.MARKETING, "events", datetime(2026, 10, 1, 8, tzinfo=JST), 10),)),
        Status.PARTIAL,
        "no sales side (stages, owners, contacts) data has ever arrived",
        "feed both the MA and the SFA",
    ),
    (
        "visibility",
        snapshot(
            feeds=(
                Feed("hubspot", Side.MARKETING, "events", datetime(2026, 10, 1, 8, tzinfo=JST), 10),
                Feed("salesforce-leads", Side.SALES, "import", datetime(2026, 9, 18, 18, tzinfo=JST), 10),
            )
        ),
        Status.PARTIAL,
        "no sales side (stages, owners, contacts) data for more than 5 business days (the newest 2026-09-18)",
        "feed both",
    ),
    (
        "visibility",
        snapshot(
            feeds=(
                Feed("hubspot", Side.MARKETING, "events", datetime(2026, 9, 18, 8, tzinfo=JST), 10),
                Feed("salesforce-leads", Side.SALES, "import", datetime(2026, 9, 17, 18, tzinfo=JST), 10),
            )
        ),
        Status.FAIL,
        "no marketing side (leads, activities) data for more than 5 business days (the newest 2026-09-18)",
        "feed both",
    ),
    (
        "visibility",
        snapshot(
            feeds=(
                Feed("hubspot", Side.MARKETING, "events", datetime(2026, 9, 24, 0, 30, tzinfo=JST), 10),
                Feed("salesforce-leads", Side.SALES, "import", datetime(2026, 9, 24, 23, tzinfo=JST), 3),
            )
        ),
        Status.PASS,
        "sales side (stages, owners, contacts): salesforce-leads (import) last 2026-09-24, 3 rows",
        None,
    ),
    # 9: a monthly or quarterly review, and one within the last cycle
    (
        "regular_review",
        with_pact(edited(review_cycle=lambda p: ReviewCycle.SEMIANNUAL)),
        Status.FAIL,
        "the pact is reviewed every six months: not monthly or quarterly",
        "review_cycle: quarterly (or monthly)",
    ),
    (
        "regular_review",
        snapshot(
            versions=(
                record(
                    proposed_at=datetime(2026, 6, 10, tzinfo=JST),
                    approvals=tuple(replace(s, at=datetime(2026, 6, 15, 9, tzinfo=JST)) for s in SIGNED),
                    activated_at=datetime(2026, 6, 15, 9, tzinfo=JST),
                ),
            )
        ),
        Status.PARTIAL,
        "the quarterly review was due by 2026-09-15",
        "sign it again, with a comment such as `# 2026-10 review: no change`",
    ),
    (
        "regular_review",
        snapshot(
            versions=(
                record(activated_at=datetime(2026, 6, 15, 9, tzinfo=JST)),
                record(
                    version=2,
                    status="draft",
                    activated_at=None,
                    proposed_at=datetime(2026, 9, 29, tzinfo=JST),
                    approvals=(),
                ),
            )
        ),
        Status.PASS,
        "last review: v2 proposed by 佐藤 on 2026-09-29\nnext review due by 2026-12-29",
        None,
    ),
    (
        "regular_review",
        snapshot(now=datetime(2026, 8, 1, tzinfo=JST)),
        Status.PARTIAL,
        "no review by 2026-08-01",
        "sign it again",
    ),
    # 10: the review cycle is written into the signed pact, and the version in force is not overdue
    (
        "review_cycle",
        snapshot(review_cycle_written=False),
        Status.FAIL,
        "pact v1 does not say review_cycle (leadpact assumes quarterly)",
        "write review_cycle:",
    ),
    (
        "review_cycle",
        snapshot(versions=(record(activated_at=datetime(2026, 6, 30, 17, tzinfo=JST)),)),
        Status.PARTIAL,
        "v1 was due for review on 2026-09-30",
        "sign it again",
    ),
    (
        "review_cycle",
        with_pact(edited(review_cycle=lambda p: ReviewCycle.MONTHLY)),
        Status.PASS,
        "v1 is reviewed monthly (active since 2026-09-01)\nnext review due by 2026-10-01",
        None,
    ),
    # 11: every department signed, can be reached, and everyone belongs to one
    (
        "responsibilities_shared",
        snapshot(members=()),
        Status.FAIL,
        "no active user",
        "`leadpact user add NAME --department DEPT --email ADDRESS`",
    ),
    (
        "responsibilities_shared",
        with_pact(edited(approvers=lambda p: ("marketing", "field_sales"))),
        Status.PARTIAL,
        "Inside sales did not approve v1",
        "add inside_sales to the approvers",
    ),
    (
        "responsibilities_shared",
        snapshot(
            members=(
                Member("佐藤", "marketing", "sato@corp.example", True),
                Member("田中", "inside_sales", None, True),
                Member("鈴木", "field_sales", "suzuki@corp.example", True),
                Member("山田", "sales_ops", "yamada@corp.example", True),
            )
        ),
        Status.PARTIAL,
        "Inside sales has no active member with an e-mail address\n"
        "1 users belong to no department of v1: 山田 (sales_ops)",
        "`leadpact user deactivate NAME`",
    ),
    # 12: sales returns leads with the pact's reason codes
    (
        "feedback_loop",
        snapshot(returns=()),
        Status.FAIL,
        "no return with a reason code since 2026-07-01",
        "reason code",
    ),
    (
        "feedback_loop",
        snapshot(returns=(Returned("marketing", "disqualified", "duplicate", 1, 5),)),
        Status.FAIL,
        "since 2026-07-01 sales returned 0 leads",
        "reason code",
    ),
    (
        "feedback_loop",
        snapshot(
            returns=(
                Returned("inside_sales", "recycled", "no_budget", 1, 7),
                Returned("inside_sales", "recycled", None, None, 2),
                Returned("field_sales", "disqualified", "no_budget", 1, 1),  # a recycle code, not a disqualify one
            )
        ),
        Status.PARTIAL,
        "3 returns carry no reason code of the pact",
        "reason code",
    ),
    (
        "feedback_loop",
        snapshot(),
        Status.PASS,
        "since 2026-07-01 sales returned 9 leads (recycled or disqualified), 9 with a reason code\n"
        "reasons: No budget 7, Competitor 2",
        None,
    ),
]


@pytest.mark.parametrize(("item_id", "state", "status", "said", "step"), CASES)
def test_each_item_says_what_holds_and_what_to_do(
    item_id: str, state: Snapshot, status: Status, said: str, step: str | None
) -> None:
    found_status, evidence, _, found_step = item(evaluate(state), item_id)
    assert found_status is status
    assert said in evidence
    if step is None:
        assert found_step is None
    else:
        assert found_step is not None and step in found_step


def test_without_an_active_pact_every_item_fails_and_points_at_the_sign_off() -> None:
    checklist = evaluate(snapshot(versions=(), members=(), feeds=(), returns=(), channels=()))
    assert [i.status for i in checklist.items] == [Status.FAIL] * 12
    for found in checklist.items:
        assert found.next_step is not None
    assert item(checklist, "visibility")[1].startswith("no data has arrived")  # the one that needs no pact


def test_japanese_evidence_for_the_issue_examples() -> None:
    _, _, ja, _ = item(evaluate(snapshot(channels=(), channels_file=None)), "neglect_detection")
    assert ja.startswith("通知チャネルが設定されていません")
    _, _, ja, _ = item(evaluate(snapshot()), "feedback_loop")
    assert "理由: 予算なし 7、競合企業 2" in ja


@pytest.mark.parametrize(
    ("at", "months", "expected"),
    [
        (datetime(2026, 8, 31, 10, tzinfo=JST), 1, datetime(2026, 9, 30, 10, tzinfo=JST)),  # no 31st: the last day
        (datetime(2026, 11, 30, 10, tzinfo=JST), 3, datetime(2027, 2, 28, 10, tzinfo=JST)),
        (datetime(2028, 2, 29, 10, tzinfo=JST), 12, datetime(2029, 2, 28, 10, tzinfo=JST)),
        (datetime(2026, 10, 1, 12, tzinfo=JST), -3, datetime(2026, 7, 1, 12, tzinfo=JST)),
        (datetime(2026, 1, 15, 12, tzinfo=JST), -1, datetime(2025, 12, 15, 12, tzinfo=JST)),
        # 2026-09-30 20:00 UTC is already October 1st in Tokyo: months are counted there
        (datetime(2026, 9, 30, 20, tzinfo=UTC), -3, datetime(2026, 7, 1, 5, tzinfo=JST)),
    ],
)
def test_months_are_shifted_on_the_local_calendar(at: datetime, months: int, expected: datetime) -> None:
    assert shift_months(at, months, ZoneInfo("Asia/Tokyo")) == expected


@pytest.mark.parametrize(
    ("cycle", "start"),
    [
        (ReviewCycle.MONTHLY, datetime(2026, 9, 1, 12, tzinfo=JST)),
        (ReviewCycle.QUARTERLY, datetime(2026, 7, 1, 12, tzinfo=JST)),
        (ReviewCycle.SEMIANNUAL, datetime(2026, 4, 1, 12, tzinfo=JST)),
        (ReviewCycle.ANNUAL, datetime(2025, 10, 1, 12, tzinfo=JST)),
    ],
)
def test_the_window_is_one_review_cycle(cycle: ReviewCycle, start: datetime) -> None:
    assert cycle_start(NOW, PACT.model_copy(update={"review_cycle": cycle})) == start
    assert cycle_start(NOW, None) == SINCE  # no pact: a quarter
