"""Reporting periods: every accepted form, read in Tokyo time, and the period before each."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from leadpact.domain.period import UnknownPeriod, parse_period

PERIODS = [
    # text, fiscal start month, first local day, first day after, label, previous label
    ("2026", 1, date(2026, 1, 1), date(2027, 1, 1), "2026", "2025"),
    ("2026-h2", 1, date(2026, 7, 1), date(2027, 1, 1), "2026-H2", "2026-H1"),
    ("2026-Q1", 1, date(2026, 1, 1), date(2026, 4, 1), "2026-Q1", "2025-Q4"),
    ("2026-Q3", 1, date(2026, 7, 1), date(2026, 10, 1), "2026-Q3", "2026-Q2"),
    ("2026-10", 1, date(2026, 10, 1), date(2026, 11, 1), "2026-10", "2026-09"),
    ("2026-01", 1, date(2026, 1, 1), date(2026, 2, 1), "2026-01", "2025-12"),
    (
        "2026-10-01..2026-10-14",
        1,
        date(2026, 10, 1),
        date(2026, 10, 15),
        "2026-10-01..2026-10-14",
        "2026-09-17..2026-09-30",
    ),
    (
        "2026-10-01..2026-10-01",
        1,
        date(2026, 10, 1),
        date(2026, 10, 2),
        "2026-10-01..2026-10-01",
        "2026-09-30..2026-09-30",
    ),
    ("FY2026", 4, date(2026, 4, 1), date(2027, 4, 1), "FY2026", "FY2025"),
    ("FY2026-Q1", 4, date(2026, 4, 1), date(2026, 7, 1), "FY2026-Q1", "FY2025-Q4"),
    ("FY2026-Q4", 4, date(2027, 1, 1), date(2027, 4, 1), "FY2026-Q4", "FY2026-Q3"),
    ("fy2026-h2", 4, date(2026, 10, 1), date(2027, 4, 1), "FY2026-H2", "FY2026-H1"),
]


@pytest.mark.parametrize(("text", "fiscal", "first", "after", "label", "previous"), PERIODS)
def test_a_period_covers_whole_local_days_and_knows_the_one_before(
    text: str, fiscal: int, first: date, after: date, label: str, previous: str
) -> None:
    period = parse_period(text, fiscal_start_month=fiscal)
    assert (period.first, period.after, period.label) == (first, after, label)
    before = period.previous()
    assert before.label == previous
    assert before.after == period.first
    assert parse_period(before.label, fiscal_start_month=fiscal).first == before.first


def test_a_month_starts_at_midnight_in_tokyo_and_is_half_open() -> None:
    october = parse_period("2026-10")
    assert october.start == datetime(2026, 9, 30, 15, 0, tzinfo=UTC)
    assert october.end == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    assert october.contains(datetime(2026, 9, 30, 15, 0, tzinfo=UTC))
    assert not october.contains(datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
    assert parse_period("2026-10", zone="UTC").start == datetime(2026, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("last quarter", "not a period"),
        ("2026-13", "there is no month 13"),
        ("2026-Q5", "not a period"),
        ("2026-10-31..2026-10-01", "it ends (2026-10-01) before it starts (2026-10-31)"),
        ("2026-02-30..2026-03-01", "day is out of range for month"),
        ("FY2026", "the pact sets no fiscal year (calendar.fiscal_year_start"),
    ],
)
def test_an_unknown_period_names_the_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(UnknownPeriod) as raised:
        parse_period(text)
    message = str(raised.value)
    assert why in message
    assert "2026-Q3, 2026-10, 2026-10-01..2026-10-31" in message
