"""Handoff clocks, worked by hand on the example pact: what starts and stops them, and their states."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.clocks import ClockRun, ClockState, advance, events_of, stopped_later
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.pact import ClockEvent, Pact
from tests.factories import example_document

JST = ZoneInfo("Asia/Tokyo")
PACT: Pact = example_document().pact
CALENDAR = BusinessCalendar.of(PACT.calendar)
AN_MQL = {1: "mql"}  # lead 1's stage before the entries


def jst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=JST)  # type: ignore[misc]


def entry(kind: EntryKind, at: datetime, lead: int = 1, **fields: object) -> LedgerEntry:
    return LedgerEntry(
        lead_id=lead, kind=kind, at=at, recorded_at=at, actor="x", department="marketing", pact_version=1, **fields
    )  # type: ignore[arg-type]


def mql(at: datetime, lead: int = 1) -> LedgerEntry:
    return entry(EntryKind.TRANSITION, at, lead, from_stage="lead", to_stage="mql")


def assigned(at: datetime, lead: int = 1) -> LedgerEntry:
    return entry(EntryKind.ASSIGNMENT, at, lead, owner="鈴木")


def contact(at: datetime, channel: str = "phone", lead: int = 1) -> LedgerEntry:
    return entry(EntryKind.CONTACT, at, lead, evidence={"channel": channel})


@pytest.mark.parametrize(
    ("ledger_entry", "events"),
    [
        (mql(jst(2026, 4, 28)), (ClockEvent.ENTERED_MQL,)),
        (assigned(jst(2026, 4, 28)), (ClockEvent.ASSIGNED,)),
        (contact(jst(2026, 4, 28)), (ClockEvent.FIRST_CONTACT,)),
        (contact(jst(2026, 4, 28), "visit"), (ClockEvent.FIRST_CONTACT, ClockEvent.MEETING_SET)),
        (entry(EntryKind.TRANSITION, jst(2026, 4, 28), to_stage="lead"), ()),
        (entry(EntryKind.BANT, jst(2026, 4, 28)), ()),
    ],
)
def test_what_each_ledger_entry_brings(ledger_entry: LedgerEntry, events: tuple[ClockEvent, ...]) -> None:
    assert events_of(ledger_entry) == events


def test_a_handoff_before_golden_week_hands_the_clock_on_to_inside_sales() -> None:
    # MQL on Tuesday 4/28 10:00; marketing hands over 4/28 15:00 (within 24 hours); first
    # contact is due at the end of the 3rd business day after 4/28: Thursday 5/7.
    started, stopped = advance(PACT, 1, CALENDAR, [], [mql(jst(2026, 4, 28, 10)), assigned(jst(2026, 4, 28, 15))])
    by_id = {run.clock_id: run for run in started}
    assert stopped == []
    handoff, contact_clock = by_id["mql_handoff"], by_id["is_first_contact"]
    assert handoff.due_at == jst(2026, 4, 29, 10) and handoff.stopped_at == jst(2026, 4, 28, 15)
    assert handoff.stopped_by is ClockEvent.ASSIGNED and handoff.responsible == "marketing"
    assert handoff.state_at(jst(2026, 5, 1)) is ClockState.MET
    assert contact_clock.due_at == jst(2026, 5, 8) and contact_clock.is_running
    assert contact_clock.responsible == "inside_sales" and contact_clock.pact_version == 1


@pytest.mark.parametrize(
    ("stopped", "state"),
    [
        (jst(2026, 5, 7, 23, 59), ClockState.MET),  # one minute before the due time
        (jst(2026, 5, 8, 0, 0), ClockState.MET),  # exactly at it
        (jst(2026, 5, 8, 0, 1), ClockState.MET_LATE),  # one minute after
    ],
)
def test_a_clock_stopped_around_its_due_time(stopped: datetime, state: ClockState) -> None:
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15))], AN_MQL)
    _, done = advance(PACT, 1, CALENDAR, started, [contact(stopped)])
    assert [run.clock_id for run in done] == ["is_first_contact"]
    assert done[0].state_at(jst(2026, 6, 1)) is state


def test_a_running_clock_goes_due_soon_then_breached() -> None:
    # A Friday 23:30 JST handoff with 24 hours: due Saturday 23:30; the last quarter is 6 hours.
    (run,), _ = advance(PACT, 1, CALENDAR, [], [mql(jst(2026, 4, 24, 23, 30))])
    assert run.due_at == jst(2026, 4, 25, 23, 30)
    assert run.state_at(jst(2026, 4, 25, 17, 29)) is ClockState.RUNNING
    assert run.state_at(jst(2026, 4, 25, 17, 30)) is ClockState.DUE_SOON
    assert run.state_at(jst(2026, 4, 25, 23, 30)) is ClockState.DUE_SOON
    assert run.state_at(jst(2026, 4, 25, 23, 31)) is ClockState.BREACHED


def test_the_year_end_closure_stretches_a_follow_up() -> None:
    (run,), _ = advance(PACT, 1, CALENDAR, [], [entry(EntryKind.TRANSITION, jst(2026, 12, 25, 17), to_stage="sql")])
    assert run.clock_id == "fs_meeting" and run.responsible == "field_sales"
    # 5 business days after Friday 12/25, closed 12/29–1/3: 12/28, 1/4, 1/5, 1/6, 1/7.
    assert run.due_at == jst(2027, 1, 8)
    (done,) = advance(PACT, 1, CALENDAR, [run], [contact(jst(2027, 1, 6, 11), "web_meeting")])[1]
    assert done.stopped_by is ClockEvent.MEETING_SET and done.state_at(jst(2027, 2, 1)) is ClockState.MET


def test_a_reassignment_keeps_the_lead_waiting_on_the_same_clock() -> None:
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15))], AN_MQL)
    again, stopped = advance(PACT, 1, CALENDAR, started, [assigned(jst(2026, 5, 1, 9))], AN_MQL)
    assert again == [] and stopped == []


def test_a_stop_dated_before_the_start_does_not_stop_the_clock() -> None:
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15))], AN_MQL)
    assert advance(PACT, 1, CALENDAR, started, [contact(jst(2026, 4, 28, 14))])[1] == []


def test_entries_of_another_lead_touch_nothing() -> None:
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15), lead=1)], AN_MQL)
    assert advance(PACT, 1, CALENDAR, started, [contact(jst(2026, 4, 29), lead=2)])[1] == []


def test_one_batch_of_interleaved_leads_runs_each_leads_clocks_apart() -> None:
    """An import batch advances many leads at once: lead 2's assignment starts its own clock though
    lead 1's of the same id runs, and lead 1's contact stops only lead 1's."""
    (one,), _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15), lead=1)], AN_MQL)
    started, stopped = advance(
        PACT,
        1,
        CALENDAR,
        [one],
        [assigned(jst(2026, 4, 28, 16), lead=2), contact(jst(2026, 4, 28, 17), lead=1)],
        {1: "mql", 2: "mql"},
    )
    assert [(run.lead_id, run.clock_id, run.is_running) for run in started] == [(2, one.clock_id, True)]
    assert [(run.lead_id, run.stopped_at) for run in stopped] == [(1, jst(2026, 4, 28, 17))]


def test_a_backfilled_start_stops_at_its_own_leads_first_later_entry() -> None:
    """A clock started by a backfilled assignment ends at the first stop already recorded after it,
    of its own lead: lead 2's earlier contact does not end lead 1's wait."""
    (run,), _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15), lead=1)], AN_MQL)
    recorded = [
        contact(jst(2026, 4, 30, 10), lead=1),
        contact(jst(2026, 4, 28, 16), lead=2),
        contact(jst(2026, 4, 29, 9), lead=1),
    ]
    (done,) = stopped_later([run], recorded)
    assert (done.lead_id, done.stopped_at) == (1, jst(2026, 4, 29, 9))


def test_a_clock_keeps_the_version_it_started_under() -> None:
    later = PACT.model_copy(update={"clocks": ()})
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15))], AN_MQL)
    # Under v2 (no clocks at all) the v1 clock still stops at its own stop events.
    _, stopped = advance(later, 2, CALENDAR, started, [contact(jst(2026, 4, 30))])
    assert [(run.clock_id, run.pact_version) for run in stopped] == [("is_first_contact", 1)]
    assert advance(later, 2, CALENDAR, [], [assigned(jst(2026, 5, 1))], AN_MQL) == ([], [])


def test_recycling_stops_the_first_contact_clock() -> None:
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 4, 28, 15))], AN_MQL)
    recycled = entry(EntryKind.TRANSITION, jst(2026, 5, 12), to_stage="recycled", reason="no_budget")
    (done,) = advance(PACT, 1, CALENDAR, started, [recycled])[1]
    assert done.stopped_by is ClockEvent.ENTERED_RECYCLED and done.state_at(jst(2026, 6, 1)) is ClockState.MET_LATE


def test_an_assignment_at_sql_does_not_start_inside_sales_first_contact_clock() -> None:
    assert advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 5, 1))], {1: "sql"}) == ([], [])
    started, _ = advance(PACT, 1, CALENDAR, [], [assigned(jst(2026, 5, 1))], {1: "sal"})
    assert [run.clock_id for run in started] == ["is_first_contact"]


def run_for(started: datetime, due: datetime) -> ClockRun:
    return ClockRun(1, "c", 1, started, due, "marketing", (ClockEvent.ASSIGNED,), 0.25)


def test_due_soon_is_a_share_of_the_budget_on_the_wall_clock() -> None:
    run = run_for(jst(2026, 4, 28), jst(2026, 4, 28) + timedelta(hours=100))
    assert run.state_at(jst(2026, 4, 28) + timedelta(hours=74, minutes=59)) is ClockState.RUNNING
    assert run.state_at(jst(2026, 4, 28) + timedelta(hours=75)) is ClockState.DUE_SOON
