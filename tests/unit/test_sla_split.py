"""Where a late clock's time went: routing delay, the department's own time, off-hours (hand-worked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpact.domain.calendar import BusinessCalendar, instant
from leadpact.domain.pact import Calendar
from leadpact.domain.sla import Holding, TimeSplit, business_time, business_times, split_elapsed
from tests.factories import example_document
from tests.unit.test_clock_verdicts import calendars

JST = ZoneInfo("Asia/Tokyo")
CALENDAR = BusinessCalendar.of(example_document().pact.calendar)
OFFICE = BusinessCalendar.of(Calendar.model_validate({"hours": {"open": "09:00", "close": "18:00"}}))
H = timedelta(hours=1)


def jst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=JST)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        (
            CALENDAR,
            jst(2026, 4, 24, 23, 30),
            jst(2026, 4, 27, 1, 0),
            1.5 * H,
        ),  # Fri 23:30 → Mon 01:00: the weekend is off
        (CALENDAR, jst(2026, 4, 28, 10), jst(2026, 5, 7, 10), 72 * H),  # 4/28 14 h, 4/30 and 5/1 24 h each, 5/7 10 h
        (OFFICE, jst(2026, 4, 24, 17), jst(2026, 4, 27, 10), 2 * H),  # Fri 17–18, Mon 9–10
        (OFFICE, jst(2026, 4, 28, 20), jst(2026, 4, 28, 22), 0 * H),  # after closing
        (CALENDAR, jst(2026, 12, 28, 12), jst(2027, 1, 4, 12), 24 * H),  # year-end closure: 12/28 12 h, 1/4 12 h
    ],
)
def test_business_time(calendar: BusinessCalendar, start: datetime, end: datetime, expected: timedelta) -> None:
    assert business_time(calendar, start, end) == expected


def test_a_follow_up_late_because_the_lead_reached_field_sales_late() -> None:
    # SQL on Monday 4/6 10:00; assigned to a field sales rep only on Wednesday 4/8 10:00; still
    # no meeting on Monday 4/13 10:00. Field sales is responsible.
    holdings = [Holding(jst(2026, 4, 1), "inside_sales"), Holding(jst(2026, 4, 8, 10), "field_sales")]
    split = split_elapsed(OFFICE, jst(2026, 4, 6, 10), jst(2026, 4, 13, 10), "field_sales", holdings, handoff=False)
    # Routing: Mon 10–18, Tue 9–18, Wed 9–10 = 18 h. Own: Wed 10–18, Thu, Fri, Mon 9–10 = 27 h.
    assert split == TimeSplit(routing=18 * H, own=27 * H, off_hours=7 * 24 * H - 45 * H)
    assert split.elapsed == 7 * 24 * H


def test_a_handoff_clock_has_no_routing_delay_and_an_owned_lead_none_either() -> None:
    start, end = jst(2026, 4, 6, 10), jst(2026, 4, 7, 20)
    handoff = split_elapsed(OFFICE, start, end, "marketing", [], handoff=True)
    assert handoff == TimeSplit(routing=0 * H, own=17 * H, off_hours=34 * H - 17 * H)
    owned = [Holding(jst(2026, 4, 6, 9), "inside_sales")]
    assert split_elapsed(OFFICE, start, end, "inside_sales", owned, handoff=False).routing == 0 * H


def test_a_lead_that_never_reached_the_department_is_all_routing_delay() -> None:
    split = split_elapsed(CALENDAR, jst(2026, 4, 6, 10), jst(2026, 4, 7, 10), "field_sales", [], handoff=False)
    assert split == TimeSplit(routing=24 * H, own=0 * H, off_hours=0 * H)


def test_business_times_of_many_intervals_as_the_walk_over_their_days() -> None:
    intervals = [
        (CALENDAR, jst(2026, 4, 24, 23, 30), jst(2026, 4, 27, 1, 0)),
        (CALENDAR, jst(2026, 4, 28, 10), jst(2026, 5, 7, 10)),
        (CALENDAR, jst(2026, 5, 7, 10), jst(2026, 4, 28, 10)),  # ends before it starts: none
        (CALENDAR, jst(2026, 12, 28, 12), jst(2027, 1, 4, 12)),
    ]
    starts = np.array([instant(s) for _, s, _ in intervals], dtype="datetime64[us]")
    ends = np.array([instant(e) for _, _, e in intervals], dtype="datetime64[us]")
    found = business_times(CALENDAR, starts, ends)
    assert [timedelta(microseconds=int(v)) for v in found] == [1.5 * H, 72 * H, 0 * H, 24 * H]
    assert business_times(CALENDAR, starts[:0], ends[:0]).shape == (0,)


SPANS = st.tuples(
    st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.timedeltas(-timedelta(days=3), timedelta(days=40)),
)


@settings(max_examples=150, deadline=None)
@given(calendars(), st.lists(SPANS, min_size=1, max_size=8))
def test_business_times_agree_with_business_time(
    calendar: BusinessCalendar, spans: list[tuple[datetime, timedelta]]
) -> None:
    starts = np.array([instant(s) for s, _ in spans], dtype="datetime64[us]")
    ends = np.array([instant(s + d) for s, d in spans], dtype="datetime64[us]")
    expected = [business_time(calendar, s, s + d) // timedelta(microseconds=1) for s, d in spans]
    assert business_times(calendar, starts, ends).tolist() == expected
