"""Rejections, disputes and their resolution on the migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.bootstrap import App
from leadpact.domain.clocks import ClockRun, ClockState
from leadpact.domain.disputes import DisputeRefused, Outcome, RejectionStatus
from leadpact.domain.errors import DomainError, InvalidTransition, NotFound
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import ClockEvent
from leadpact.services import users
from leadpact.services.disputes import list_disputes, open_dispute, resolve_dispute, show_dispute
from leadpact.services.ingest import ingest
from leadpact.services.ledger import verify_ledger
from leadpact.services.rejections import reject_lead
from leadpact.services.routing import assign_lead, route, set_active
from tests.factories import event, lines, sign_example_pact
from tests.integration.test_ingest import JST, T1, marketing_events

LEAD = "taro@example.co.jp"
MQL_AT = T1 + timedelta(hours=2)  # Monday 4/6 12:00: the pricing page view met the MQL criteria
ASSIGNED = datetime(2026, 4, 6, 14, 0, tzinfo=JST)
ACCEPTED = datetime(2026, 4, 6, 15, 0, tzinfo=JST)
REJECTED = datetime(2026, 4, 7, 11, 0, tzinfo=JST)
DISPUTED = datetime(2026, 4, 7, 15, 0, tzinfo=JST)
RESOLVED = datetime(2026, 4, 8, 10, 0, tzinfo=JST)  # Wednesday
# 25 fit + the download (20, 2 h old, half-life 90 days) + the seminar (30, 1 h old, 120 days) + pricing 10 + page 2
MQL_SCORE = 25 + 20 * 0.5 ** (2 / (90 * 24)) + 30 * 0.5 ** (1 / (120 * 24)) + 10 + 2


def people(app: App) -> None:
    """The example pact's three signatories (佐藤 marketing manager, 田中 inside sales, 鈴木 field sales
    manager), plus 高橋 in marketing, 小林 who heads inside sales and 山田, another inside sales rep."""
    sign_example_pact(app)
    for name, department, manager in (
        ("高橋", "marketing", False),
        ("小林", "inside_sales", True),
        ("山田", "inside_sales", False),
    ):
        users.add_user(app.store(), app.clock, name, department, None, manager)


def handed_off(app: App) -> None:
    """Taro became an MQL at MQL_AT, was given to 田中 and accepted (sal)."""
    people(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    assign_lead(app.engine, ASSIGNED, LEAD, "田中", "小林")
    ingest(app.engine, app.clock, lines([event("stage_change", ACCEPTED, to="sal", by="田中")]))


def ledger(app: App) -> list[tuple[int, LedgerEntry]]:
    with app.store() as store:
        found = store.leads.find(LEAD)
        assert found is not None
        return store.ledger.of_lead(found.id)


def clocks(app: App) -> list[ClockRun]:
    with app.store() as store:
        return store.clocks.of_lead(1)


def entries(app: App) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(t.ledger_entries)).scalar_one())


def test_a_rep_recycles_a_lead_with_a_reason_and_a_note_and_the_clock_it_held_stops(app: App) -> None:
    handed_off(app)
    outcome = reject_lead(app.engine, REJECTED, LEAD, Stage.RECYCLED, "田中", "no_budget", " 来期予算で再検討 ")
    assert (outcome.from_stage, outcome.lead.stage, outcome.reason.label) == (Stage.SAL, Stage.RECYCLED, "予算なし")
    assert outcome.rejection is not None and outcome.rejection.department == "inside_sales"
    assert [c.clock_id for c in outcome.stopped] == ["is_first_contact"] and outcome.running == []
    seq, entry = ledger(app)[-1]
    assert seq == outcome.seq
    assert (entry.kind, entry.from_stage, entry.to_stage, entry.actor, entry.department) == (
        EntryKind.TRANSITION,
        "sal",
        "recycled",
        "田中",
        "inside_sales",
    )
    assert (entry.reason, entry.note, entry.at, entry.pact_version) == ("no_budget", "来期予算で再検討", REJECTED, 1)
    (first,) = [c for c in clocks(app) if c.clock_id == "is_first_contact"]
    assert (first.stopped_at, first.stopped_by) == (REJECTED, ClockEvent.ENTERED_RECYCLED)


def test_marketing_recycling_its_own_mql_is_recorded_but_is_no_rejection(app: App) -> None:
    people(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    outcome = reject_lead(app.engine, REJECTED, LEAD, Stage.RECYCLED, "佐藤", "bad_timing", "配信停止の依頼")
    assert outcome.lead.stage is Stage.RECYCLED and outcome.rejection is None
    # the example pact's handoff clock stops when the MQL leaves mql: nothing is left running
    assert outcome.running == []
    assert [(c.clock_id, c.stopped_by) for c in clocks(app)] == [("mql_handoff", ClockEvent.ENTERED_RECYCLED)]
    with pytest.raises(DisputeRefused, match="lead 1 was never rejected by sales"):
        open_dispute(app.engine, DISPUTED, LEAD, "高橋", "x")


@pytest.mark.parametrize(
    ("by", "reason", "note", "at", "error", "message"),
    [
        ("鈴木", "no_budget", "x", REJECTED, InvalidTransition, "鈴木 (field_sales) may not move a lead from sal"),
        (
            "田中",
            None,
            "x",
            REJECTED,
            InvalidTransition,
            "moving to recycled needs a recycle reason code: no_budget, bad_timing, no_response, info_gathering",
        ),
        ("田中", "competitor", "x", REJECTED, InvalidTransition, "unknown recycle reason code 'competitor'"),
        ("田中", "no_budget", "  ", REJECTED, DomainError, "a rejection needs a note"),
        ("誰か", "no_budget", "x", REJECTED, NotFound, "unknown user '誰か'"),
        ("田中", "no_budget", "x", ACCEPTED - timedelta(minutes=1), DomainError, "cannot be dated before"),
    ],
)
def test_a_rejection_is_refused_like_any_move_and_records_nothing(
    app: App, by: str, reason: str | None, note: str, at: datetime, error: type[Exception], message: str
) -> None:
    handed_off(app)
    before = entries(app)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        reject_lead(app.engine, at, LEAD, Stage.RECYCLED, by, reason, note)
    assert entries(app) == before


def rejected(app: App) -> int:
    handed_off(app)
    return reject_lead(app.engine, REJECTED, LEAD, Stage.RECYCLED, "田中", "no_budget", "予算がない").seq


def test_marketing_disputes_with_the_mql_criteria_the_handoff_recorded(app: App) -> None:
    rejection = rejected(app)
    view = open_dispute(app.engine, DISPUTED, LEAD, "高橋", " 決裁者がセミナーに参加済み ")
    dispute = view.dispute
    assert (dispute.rejection, dispute.by, dispute.department, dispute.note, dispute.at) == (
        rejection,
        "高橋",
        "marketing",
        "決裁者がセミナーに参加済み",
        DISPUTED,
    )
    assert (view.rejection.seq, view.rejection.department, view.stage, view.reason and view.reason.code) == (
        rejection,
        "inside_sales",
        Stage.RECYCLED,
        "no_budget",
    )
    handoff = dict(dispute.evidence["handoff"])  # type: ignore[call-overload]
    mql_seq = next(seq for seq, e in ledger(app) if e.to_stage == "mql")
    assert (handoff["seq"], handoff["from"], handoff["to"], handoff["pact_version"], handoff["checked"]) == (
        mql_seq,
        "lead",
        "mql",
        1,
        "recorded",
    )
    assert handoff["score"] == pytest.approx(MQL_SCORE)
    assert [c["met"] for c in handoff["criteria"]] == [True, True, True, True]
    assert handoff["criteria"][2]["condition"] == "industry in ['製造業', '情報通信業', '卸売業'] (is '製造業')"
    # the dispute is a ledger entry of the lead, and the chain holds
    seq, entry = ledger(app)[-1]
    assert (seq, entry.kind, entry.reason, entry.evidence["rejection"]) == (
        dispute.id,
        EntryKind.DISPUTE,
        "no_budget",
        rejection,
    )
    assert verify_ledger(app.store()) == (entries(app), None)
    assert [v.dispute.id for v in list_disputes(app.store(), open_only=True)] == [dispute.id]


def test_a_handoff_without_recorded_criteria_is_checked_again_under_the_pact_in_force(app: App) -> None:
    people(app)
    at = datetime(2026, 10, 5, 10, 0, tzinfo=JST)  # after the pact took effect (the clock's 2026-10-01 09:00 UTC)
    fit = {"industry": "製造業", "employees": 300}
    ingest(
        app.engine,
        app.clock,
        lines(
            [
                event("lead_upsert", at - timedelta(days=1), attributes=fit),
                event("activity", at, activity="document_download"),
                event("stage_change", at + timedelta(hours=1), to="sql", by="鈴木", override=True, note="展示会で合意"),
                event("stage_change", at + timedelta(hours=2), to="disqualified", by="鈴木", reason="out_of_target"),
            ]
        ),
    )
    view = open_dispute(app.engine, at + timedelta(hours=3), LEAD, "佐藤", "対象業種です")
    handoff = view.dispute.evidence["handoff"]
    assert isinstance(handoff, dict)
    assert (handoff["from"], handoff["to"], handoff["override"], handoff["checked"], handoff["pact_version"]) == (
        "lead",
        "sql",
        True,
        "rechecked",
        1,
    )
    assert "in_force" not in handoff
    score = 25 + 20 * 0.5 ** (1 / (90 * 24))  # the download, an hour old at the handoff
    assert handoff["score"] == pytest.approx(score)
    assert [(c["condition"], c["met"]) for c in handoff["criteria"]] == [
        (f"score {score:.1f} >= 80", False),
        ("any of document_download, seminar_attended (done: document_download)", True),
        ("industry in ['製造業', '情報通信業', '卸売業'] (is '製造業')", True),
        ("employees gte 50 (is 300)", True),
    ]
    assert view.rejection.department == "field_sales" and view.rejection.from_stage is Stage.SQL


def test_disputes_the_rules_refuse(app: App) -> None:
    rejection = rejected(app)
    mql_seq = next(seq for seq, e in ledger(app) if e.to_stage == "mql")
    cases = [
        ("田中", None, "inside_sales) may not dispute a rejection: disputes are opened by marketing (marketing)"),
        (
            "高橋",
            mql_seq,
            f"ledger entry #{mql_seq} of lead 1 is not a rejection: it is a transition lead → mql by system",
        ),
        ("高橋", 9999, "there is no ledger entry #9999"),
    ]
    for by, entry, message in cases:
        with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")):
            open_dispute(app.engine, DISPUTED, LEAD, by, "x", entry)
    with pytest.raises(
        DisputeRefused,
        match=f"rejection #{rejection} was made at 2026-04-07 11:00 \\(Asia/Tokyo\\), after 2026-04-07 10:59",
    ):
        open_dispute(app.engine, REJECTED - timedelta(minutes=1), LEAD, "高橋", "x")
    first = open_dispute(app.engine, DISPUTED, LEAD, "高橋", "x", rejection)
    with pytest.raises(
        DisputeRefused, match=f"rejection #{rejection} of lead 1 is disputed already: dispute #{first.dispute.id}"
    ):
        open_dispute(app.engine, DISPUTED, LEAD, "佐藤", "y")
    ingest(app.engine, app.clock, lines([event("lead_upsert", T1, lead="other@example.co.jp", attributes={})]))
    with pytest.raises(DisputeRefused, match=f"ledger entry #{rejection} is about lead 1, not lead 2"):
        open_dispute(app.engine, DISPUTED, "other@example.co.jp", "高橋", "x", rejection)
    with pytest.raises(DisputeRefused, match="lead 2 was never rejected by sales"):
        open_dispute(app.engine, DISPUTED, "other@example.co.jp", "高橋", "x")


def test_an_upheld_rejection_stands_and_a_resolution_is_final(app: App) -> None:
    rejected(app)
    dispute = open_dispute(app.engine, DISPUTED, LEAD, "高橋", "x").dispute.id
    for by, message in (
        ("田中", "only a manager may resolve a dispute; 田中 is not one"),
        ("小林", "a resolution needs a note"),
    ):
        with pytest.raises(DisputeRefused, match=message):
            resolve_dispute(app.engine, RESOLVED, dispute, Outcome.UPHELD, by, "" if by == "小林" else "x")
    with pytest.raises(NotFound, match="there is no dispute #1; `leadpact dispute list` shows them"):
        resolve_dispute(app.engine, RESOLVED, 1, Outcome.UPHELD, "小林", "x")
    before = ledger(app)
    view = resolve_dispute(app.engine, RESOLVED, dispute, Outcome.UPHELD, "小林", "予算の確認は妥当")
    resolution = view.dispute.resolution
    assert resolution is not None
    assert (resolution.outcome, resolution.by, resolution.note, resolution.reinstated) == (
        Outcome.UPHELD,
        "小林",
        "予算の確認は妥当",
        None,
    )
    assert view.stage is Stage.RECYCLED and view.dispute.status is RejectionStatus.UPHELD
    assert [e.kind for _, e in ledger(app)[len(before) :]] == [EntryKind.RESOLUTION]
    with pytest.raises(
        DisputeRefused, match=f"dispute #{dispute} was upheld by 小林 on 2026-04-08 already; a resolution is final"
    ):
        resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "佐藤", "x")
    assert list_disputes(app.store(), open_only=True) == []
    assert verify_ledger(app.store()) == (entries(app), None)


def test_an_overturn_gives_the_lead_back_to_its_rep_with_a_new_follow_up_clock(app: App) -> None:
    rejection = rejected(app)
    dispute = open_dispute(app.engine, DISPUTED, LEAD, "佐藤", "x").dispute.id
    with pytest.raises(DisputeRefused, match=f"佐藤 opened dispute #{dispute} and may not judge it"):
        resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "佐藤", "x")
    before = ledger(app)
    view = resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "小林", "BANT 3/4 確認済み")
    assert view.stage is Stage.SAL and view.dispute.status is RejectionStatus.OVERTURNED
    resolution = view.dispute.resolution
    assert resolution is not None and (resolution.reinstated, resolution.given_to) == (Stage.SAL, "田中")
    added = ledger(app)[len(before) :]
    assert [(e.kind, e.from_stage, e.to_stage, e.owner, e.actor, e.override, e.at) for _, e in added] == [
        (EntryKind.RESOLUTION, None, None, None, "小林", False, RESOLVED),
        (EntryKind.TRANSITION, "recycled", "sal", None, "小林", True, RESOLVED),
        (EntryKind.ASSIGNMENT, None, None, "田中", "小林", False, RESOLVED),
    ]
    assert added[0][1].evidence == {
        "dispute": dispute,
        "rejection": rejection,
        "outcome": "overturned",
        "reinstated": "sal",
        "given_to": "田中",
    }
    assert added[1][1].evidence == {"overturn": {"dispute": dispute, "rejection": rejection}}
    # 田中's three business days start again: Thu 4/9, Fri 4/10, Mon 4/13, due at the end of it
    running = [c for c in clocks(app) if c.is_running]
    assert [(c.clock_id, c.started_at, c.due_at, c.responsible) for c in running] == [
        ("is_first_contact", RESOLVED, datetime(2026, 4, 14, tzinfo=JST), "inside_sales")
    ]
    with app.store() as store:
        lead = store.leads.get(1)
        assert lead is not None and (lead.stage, lead.owner, lead.stage_changed_at) == (Stage.SAL, "田中", RESOLVED)
    # nothing recorded before was changed
    assert ledger(app)[: len(before)] == before
    assert verify_ledger(app.store()) == (entries(app), None)
    assert show_dispute(app.store(), dispute).dispute.resolution == resolution


def test_an_overturned_mql_nobody_held_goes_back_to_routing(app: App) -> None:
    people(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    reject_lead(app.engine, REJECTED, LEAD, Stage.DISQUALIFIED, "田中", "out_of_target", "対象外の業種")
    dispute = open_dispute(app.engine, DISPUTED, LEAD, "佐藤", "製造業です").dispute.id
    view = resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "小林", "誤り")
    resolution = view.dispute.resolution
    assert view.stage is Stage.MQL and resolution is not None and resolution.given_to is None
    # the rejection stopped the first handoff clock within its 24 hours; the reinstated MQL is to be
    # handed off again, on a clock of its own
    handoff = [c for c in clocks(app) if c.clock_id == "mql_handoff"]
    assert [(c.started_at, c.state_at(RESOLVED)) for c in handoff] == [
        (MQL_AT, ClockState.MET),
        (RESOLVED, ClockState.RUNNING),
    ]
    assert [ref.lead_id for ref, _ in route(app.engine, RESOLVED, dry_run=True).routed] == [1]


def test_an_overturn_needs_someone_in_sales_to_take_the_lead_back(app: App) -> None:
    rejected(app)
    dispute = open_dispute(app.engine, DISPUTED, LEAD, "高橋", "x").dispute.id
    set_active(app.engine, "田中", False)
    for to, message in (
        (None, "lead 1 is held by 田中, who is inactive: say who takes it back with --to"),
        (
            "高橋",
            "高橋 (marketing) is not in sales and cannot take the lead back: "
            "give it to someone in field_sales, inside_sales with --to",
        ),
    ):
        with pytest.raises(DisputeRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
            resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "小林", "x", to)
    with pytest.raises(DomainError, match="--to names who takes an overturned lead back"):
        resolve_dispute(app.engine, RESOLVED, dispute, Outcome.UPHELD, "小林", "x", "山田")
    view = resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "小林", "山田さんに", "山田")
    assert view.dispute.resolution is not None and view.dispute.resolution.given_to == "山田"
    with app.store() as store:
        lead = store.leads.get(1)
        assert lead is not None and lead.owner == "山田"


def test_an_overturn_leaves_a_lead_that_moved_on_where_it_is(app: App) -> None:
    rejected(app)
    dispute = open_dispute(app.engine, DISPUTED, LEAD, "高橋", "x").dispute.id
    # the recycled lead downloads again: it meets the MQL criteria and is an MQL again
    ingest(
        app.engine, app.clock, lines([event("activity", DISPUTED + timedelta(hours=1), activity="document_download")])
    )
    with pytest.raises(DisputeRefused, match="lead 1 has moved on to mql since the rejection"):
        resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "小林", "x", "田中")
    before = ledger(app)
    view = resolve_dispute(app.engine, RESOLVED, dispute, Outcome.OVERTURNED, "小林", "取り消すが再MQL済み")
    resolution = view.dispute.resolution
    assert resolution is not None and (resolution.reinstated, resolution.moved_on_to) == (None, Stage.MQL)
    assert view.stage is Stage.MQL
    assert [e.kind for _, e in ledger(app)[len(before) :]] == [EntryKind.RESOLUTION]
