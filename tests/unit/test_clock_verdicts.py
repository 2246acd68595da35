"""Judging many clocks at once (`judge`) answers as the scalar rules do, clock by clock.

Random calendars (time zones with and without daylight saving, six-day weeks, company
closures, business hours), random runs, and `now` drawn around each run's due time: exactly
at it, a microsecond or a minute either side, and on the due-soon line.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.clocks import ClockColumns, ClockRun, ClockState, judge, judge_runs
from leadpact.domain.pact import BusinessHours, Calendar, ClosedDays, Deadline, Weekday

JST = ZoneInfo("Asia/Tokyo")
EXAMPLE = BusinessCalendar.of(Calendar(closed=(ClosedDays.model_validate({"from": "12-29", "to": "01-03"}),)))


def run(start: datetime, due: datetime, share: float = 0.25, stopped: datetime | None = None) -> ClockRun:
    return ClockRun(
        lead_id=1,
        clock_id="c",
        pact_version=1,
        started_at=start,
        due_at=due,
        responsible="inside_sales",
        stops=(),
        due_soon=share,
        stopped_at=stopped,
    )


def judged(
    runs: list[ClockRun], calendars: list[BusinessCalendar], positions: list[int], now: datetime
) -> list[tuple[ClockState, int]]:
    verdicts = judge(ClockColumns.of(runs, positions), calendars, now)
    return [(verdicts.state_of(i), int(verdicts.business_days_late[i])) for i in range(len(runs))]


def scalar(
    runs: list[ClockRun], calendars: list[BusinessCalendar], positions: list[int], now: datetime
) -> list[tuple[ClockState, int]]:
    return [(r.state_at(now), r.business_days_late(calendars[p], now)) for r, p in zip(runs, positions, strict=True)]


def test_hand_worked_states_and_days_late() -> None:
    # Assigned Monday 4/6 14:00, first contact due at the end of Thursday 4/9 (3 business days).
    start = datetime(2026, 4, 6, 14, tzinfo=JST)
    due = datetime(2026, 4, 10, tzinfo=JST)
    runs = [
        run(start, due),
        run(start, due, stopped=datetime(2026, 4, 10, 9, tzinfo=JST)),  # contacted Friday morning: 1 day late
        run(start, due, stopped=due),  # exactly at the due time: met
    ]
    assert judged(runs, [EXAMPLE], [0, 0, 0], datetime(2026, 4, 13, 12, tzinfo=JST)) == [
        (ClockState.BREACHED, 2),  # Friday 4/10 and Monday 4/13
        (ClockState.MET_LATE, 1),
        (ClockState.MET, 0),
    ]
    # 82 hours of budget, the last quarter (20.5 h) due soon: from Thursday 03:30.
    assert judged(runs[:1], [EXAMPLE], [0], datetime(2026, 4, 9, 3, 30, tzinfo=JST)) == [(ClockState.DUE_SOON, 0)]
    assert judged(runs[:1], [EXAMPLE], [0], datetime(2026, 4, 9, 3, 29, tzinfo=JST)) == [(ClockState.RUNNING, 0)]
    assert judged(runs[:1], [EXAMPLE], [0], due) == [(ClockState.DUE_SOON, 0)]  # at the due time: not yet late


def test_no_runs() -> None:
    verdicts = judge(ClockColumns.of([], []), [EXAMPLE], datetime(2026, 4, 13, tzinfo=JST))
    assert verdicts.state.shape == (0,) and verdicts.business_days_late.shape == (0,)


ZONES = ["Asia/Tokyo", "UTC", "America/New_York", "Australia/Lord_Howe", "Europe/London"]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    workdays = draw(st.sets(st.sampled_from(list(Weekday)), min_size=1, max_size=7))
    yearly = st.tuples(st.dates(date(2001, 1, 1), date(2001, 12, 31)), st.integers(0, 9)).map(
        lambda t: ClosedDays.model_validate(
            {"from": f"{t[0]:%m-%d}", "to": f"{t[0] + timedelta(days=t[1]):%m-%d}"}  # may run into the next year
        )
    )
    once = st.tuples(st.dates(date(2000, 1, 1), date(2035, 12, 31)), st.integers(0, 20)).map(
        lambda t: ClosedDays.model_validate({"from": t[0].isoformat(), "to": (t[0] + timedelta(days=t[1])).isoformat()})
    )
    closed = draw(st.lists(st.one_of(yearly, once), max_size=3))
    hours = draw(
        st.one_of(
            st.none(),
            st.tuples(st.integers(0, 11), st.integers(12, 23)).map(
                lambda t: BusinessHours(opens=time(t[0]), closes=time(t[1], 30))
            ),
        )
    )
    return BusinessCalendar.of(
        Calendar(
            timezone=draw(st.sampled_from(ZONES)),
            workdays=tuple(sorted(workdays, key=lambda d: d.number)),
            holidays=draw(st.sampled_from(["JP", None, "US"])),
            closed=tuple(closed),
            hours=hours,
        )
    )


NEAR = [timedelta(), timedelta(microseconds=1), -timedelta(microseconds=1), timedelta(minutes=1), -timedelta(minutes=1)]


@st.composite
def clocks(draw: st.DrawFn, calendar: BusinessCalendar) -> tuple[ClockRun, datetime]:
    """A run on `calendar` and an instant to judge it at (near its due time, or anywhere)."""
    start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2035, 6, 30), timezones=st.just(UTC)))
    deadline = draw(
        st.one_of(
            st.integers(1, 72).map(lambda h: Deadline.model_validate(f"{h} hours")),
            st.integers(1, 15).map(lambda d: Deadline.model_validate(f"{d} business days")),
        )
    )
    due = calendar.due(start, deadline)
    share = draw(st.one_of(st.sampled_from([0.25, 0.5, 0.1, 1 / 3]), st.floats(0.001, 0.999)))
    budget = due - start
    line = due - budget * share  # where it turns due soon
    now = draw(
        st.one_of(
            st.sampled_from(NEAR).map(lambda d: due + d),
            st.sampled_from(NEAR).map(lambda d: line + d),
            st.timedeltas(timedelta(), timedelta(days=60)).map(lambda d: start + d),
        )
    )
    stopped = draw(
        st.one_of(
            st.none(),
            st.sampled_from(NEAR).map(lambda d: max(start, due + d)),
            st.timedeltas(timedelta(), timedelta(days=40)).map(lambda d: start + d),
        )
    )
    return run(start, due, share, stopped if stopped is not None and stopped <= now else None), now


@settings(max_examples=150, deadline=None)
@given(data=st.data(), calendar_list=st.lists(calendars(), min_size=1, max_size=2))
def test_many_at_once_answer_as_one_at_a_time(data: st.DataObject, calendar_list: list[BusinessCalendar]) -> None:
    drawn = data.draw(
        st.lists(
            st.integers(0, len(calendar_list) - 1).flatmap(lambda p: clocks(calendar_list[p]).map(lambda c: (p, c))),
            min_size=1,
            max_size=12,
        )
    )
    positions = [p for p, _ in drawn]
    runs = [c for _, (c, _) in drawn]
    # One `now` for the batch, as the board has; each run's own `now` takes a turn.
    for _, (_, now) in drawn:
        assert judged(runs, calendar_list, positions, now) == scalar(runs, calendar_list, positions, now)


def test_the_due_soon_line_is_rounded_as_timedelta_rounds() -> None:
    # 3 µs of budget, half of it due soon: 1.5 µs rounds half to even, to 2 µs.
    start = datetime(2026, 4, 6, tzinfo=UTC)
    runs = [run(start, start + timedelta(microseconds=3), 0.5)]
    for left in range(4):
        now = start + timedelta(microseconds=3 - left)
        assert judged(runs, [EXAMPLE], [0], now) == scalar(runs, [EXAMPLE], [0], now)
    # 2 µs left: due soon (2 ≤ round(1.5) = 2), where a float comparison (2 ≤ 1.5) would say running.
    assert judged(runs, [EXAMPLE], [0], start + timedelta(microseconds=1)) == [(ClockState.DUE_SOON, 0)]


def test_runs_of_two_pact_versions_are_judged_each_on_its_own_calendar() -> None:
    # Version 1 closes the office on Friday 4/10; version 2 does not. Both runs were due at the
    # end of Thursday 4/9 and are still running at noon on Monday 4/13.
    closed = BusinessCalendar.of(Calendar(closed=(ClosedDays.model_validate({"from": "04-10", "to": "04-10"}),)))
    start, due = datetime(2026, 4, 6, 14, tzinfo=JST), datetime(2026, 4, 10, tzinfo=JST)
    runs = [replace(run(start, due), pact_version=2), replace(run(start, due), pact_version=1, lead_id=2)]
    verdicts = judge_runs(runs, {1: closed, 2: EXAMPLE}, datetime(2026, 4, 13, 12, tzinfo=JST))
    assert [(verdicts.state_of(i), int(verdicts.business_days_late[i])) for i in range(2)] == [
        (ClockState.BREACHED, 2),  # Friday and Monday
        (ClockState.BREACHED, 1),  # Monday only: Friday was closed
    ]
