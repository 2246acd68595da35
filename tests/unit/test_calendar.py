"""The business calendar: hand-worked handoffs, and every day 2000–2035 against an independent reference.

The product reads national holidays from the `holidays` library; the reference here is
`jpholiday`, a separate implementation of the same law (substitute holidays 振替休日 and the
citizens' holidays 国民の休日 sandwiched between two holidays included).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import jpholiday
import numpy as np
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.pact import Calendar, Deadline
from tests.factories import example_document

JST = ZoneInfo("Asia/Tokyo")
EXAMPLE = BusinessCalendar.of(example_document().pact.calendar)  # JP holidays, closed 12/29–1/3
PLAIN = BusinessCalendar.of(Calendar())  # JP holidays, no company closures


def jst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=JST)  # type: ignore[misc]


def within(text: str) -> Deadline:
    return Deadline.model_validate(text)


HANDOFFS = [
    # start, deadline, due (JST), why
    (
        jst(2026, 4, 28, 10, 0),
        "3 business days",
        jst(2026, 5, 8),
        "4/29 昭和の日, 5/2–5/6 weekend and holidays: 4/30, 5/1, 5/7",
    ),
    (jst(2026, 4, 28, 10, 0), "1 business day", jst(2026, 5, 1), "4/29 is a holiday: Thursday 4/30 is the first"),
    (
        jst(2026, 4, 24, 23, 30),
        "1 business day",
        jst(2026, 4, 28),
        "Friday 23:30: the first business day after is Monday",
    ),
    (jst(2026, 4, 24, 23, 30), "24 hours", jst(2026, 4, 25, 23, 30), "hours run on the wall clock, weekend or not"),
    (
        datetime(2026, 4, 23, 23, 30, tzinfo=UTC),
        "1 business day",
        jst(2026, 4, 28),
        "Thursday 23:30 UTC is Friday 08:30 JST",
    ),
    (jst(2026, 4, 25, 9, 0), "1 business day", jst(2026, 4, 28), "from a Saturday, the first business day is Monday"),
    (jst(2026, 12, 25, 17, 0), "3 business days", jst(2027, 1, 6), "closed 12/29–1/3: 12/28, 1/4, 1/5"),
    (jst(2026, 9, 18, 12, 0), "2 business days", jst(2026, 9, 26), "9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日"),
]


@pytest.mark.parametrize(("start", "deadline", "due", "why"), HANDOFFS)
def test_hand_worked_handoffs(start: datetime, deadline: str, due: datetime, why: str) -> None:
    assert EXAMPLE.due(start, within(deadline)) == due, why


def test_the_year_end_closure_is_not_a_business_day_in_any_year() -> None:
    for year in (2001, 2026, 2040):
        closed = [date(year, 12, 29) + timedelta(days=i) for i in range(6)]
        assert not any(EXAMPLE.is_business_day(d) for d in closed)
        assert [off.name for off in EXAMPLE.days_off(date(year, 12, 29), date(year, 12, 29))] == ["年末年始休業"]


def test_days_off_say_why() -> None:
    found = {off.day: (off.reason, off.name) for off in EXAMPLE.days_off(date(2026, 5, 1), date(2026, 5, 7))}
    assert found == {
        date(2026, 5, 2): ("weekend", "Saturday"),
        date(2026, 5, 3): ("holiday", "憲法記念日"),
        date(2026, 5, 4): ("holiday", "みどりの日"),
        date(2026, 5, 5): ("holiday", "こどもの日"),
        date(2026, 5, 6): ("holiday", "振替休日"),
    }


def test_business_hours_end_the_day_at_closing_time() -> None:
    calendar = BusinessCalendar.of(Calendar.model_validate({"hours": {"open": "09:00", "close": "18:00"}}))
    assert calendar.due(jst(2026, 4, 28, 10, 0), within("3 business days")) == jst(2026, 5, 7, 18, 0)


def test_another_country_and_a_six_day_week() -> None:
    calendar = BusinessCalendar.of(
        Calendar.model_validate(
            {"timezone": "America/New_York", "holidays": "US", "workdays": ["mon", "tue", "wed", "thu", "fri", "sat"]}
        )
    )
    new_york = ZoneInfo("America/New_York")
    # Saturday counts in a six-day week ...
    assert calendar.due(datetime(2026, 7, 9, 9, tzinfo=new_york), within("2 business days")) == datetime(
        2026, 7, 12, tzinfo=new_york
    )
    # ... but not Independence Day: 7/3 is its observed day, 7/4 the day itself, 7/5 a Sunday.
    assert calendar.due(datetime(2026, 7, 2, 9, tzinfo=new_york), within("1 business day")) == datetime(
        2026, 7, 7, tzinfo=new_york
    )


def test_business_days_count_after_the_first_day_up_to_and_including_the_last() -> None:
    assert EXAMPLE.business_days(date(2026, 4, 28), date(2026, 5, 7)) == 3
    assert EXAMPLE.business_days(date(2026, 4, 28), date(2026, 4, 28)) == 0
    assert EXAMPLE.business_days(date(2026, 5, 7), date(2026, 4, 28)) == -3


@pytest.mark.parametrize("text", ["1.5 business days", "0 business days", "-2 business days", "0 hours"])
def test_a_deadline_must_be_positive_and_business_days_whole(text: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Deadline.model_validate(text)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        EXAMPLE.due(datetime(2026, 4, 28, 10), within("3 business days"))


def reference_business_day(day: date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day)


def test_every_day_from_2000_to_2035_matches_the_reference() -> None:
    day, names = date(2000, 1, 1), set()
    while day <= date(2035, 12, 31):
        assert PLAIN.is_business_day(day) is reference_business_day(day), day
        names.add(jpholiday.is_holiday_name(day))
        day += timedelta(days=1)
    # Both special kinds were among the days checked (jpholiday names 5/6/2026 "憲法記念日 振替休日").
    assert any("振替休日" in str(n) for n in names) and any("国民の休日" in str(n) for n in names)


def reference_due(start: datetime, days: int) -> datetime:
    """Walk day by day from the local start day, with jpholiday deciding."""
    day, counted = start.astimezone(JST).date(), 0
    while counted < days:
        day += timedelta(days=1)
        counted += reference_business_day(day)
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=JST)


@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 11, 30), timezones=st.just(UTC)),
    days=st.integers(1, 20),
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
    span=st.integers(0, 60),
)
def test_due_dates_and_day_counts_match_a_day_by_day_walk(start: datetime, days: int, first: date, span: int) -> None:
    assert PLAIN.due(start, within(f"{days} business days")) == reference_due(start, days)
    last = first + timedelta(days=span)
    walked = sum(reference_business_day(first + timedelta(days=i)) for i in range(1, span + 1))
    assert PLAIN.business_days(first, last) == walked


@given(
    pairs=st.lists(
        st.tuples(
            st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)), st.integers(-40, 40), st.integers(1, 15)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_many_at_once_answers_as_one_at_a_time(pairs: list[tuple[date, int, int]]) -> None:
    firsts = np.array([first for first, _, _ in pairs], dtype="datetime64[D]")
    lasts = np.array([first + timedelta(days=shift) for first, shift, _ in pairs], dtype="datetime64[D]")
    counts = np.array([days for _, _, days in pairs])
    assert EXAMPLE.count(firsts, lasts).tolist() == [
        EXAMPLE.business_days(first, first + timedelta(days=shift)) for first, shift, _ in pairs
    ]
    assert [str(d) for d in EXAMPLE.due_days(firsts, counts)] == [
        EXAMPLE.nth_business_day_after(first, days).isoformat() for first, _, days in pairs
    ]
