"""Reporting periods: the stretch of time a KPI, a feedback summary or a report covers.

A period is written the way a Japanese B2B team talks about it and is read in the pact
calendar's time zone, so "2026-10" is October in Tokyo, not in UTC:

* `2026` — a calendar year; `2026-H1` / `2026-H2` — a half year;
* `2026-Q3` — a calendar quarter (Q3 is July–September);
* `2026-10` — a month;
* `2026-10-01..2026-10-31` — any run of whole days, both ends included;
* `FY2026`, `FY2026-Q1` — a fiscal year or quarter, when the caller passes the month the
  fiscal year starts in (April for most Japanese companies: FY2026-Q1 is April–June 2026).

Every period is half-open, `[start, end)`, in UTC instants, so consecutive periods never
share an instant and an event exactly at midnight belongs to the day it starts.
`previous()` is the period of the same shape just before, for "change against the previous
period"; for a run of days it is the run of as many days just before.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from leadpact.domain.errors import DomainError

FORMS = "2026, 2026-H1, 2026-Q3, 2026-10, 2026-10-01..2026-10-31, FY2026, FY2026-Q1"

_YEAR = re.compile(r"(?P<fy>FY)?(?P<year>\d{4})")
_HALF = re.compile(r"(?P<fy>FY)?(?P<year>\d{4})-H(?P<n>[12])")
_QUARTER = re.compile(r"(?P<fy>FY)?(?P<year>\d{4})-Q(?P<n>[1-4])")
_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")
_DAYS = re.compile(r"(?P<first>\d{4}-\d{2}-\d{2})\.\.(?P<last>\d{4}-\d{2}-\d{2})")


class UnknownPeriod(DomainError):
    """A period text that is none of the accepted forms."""


class Shape(StrEnum):
    YEAR = "year"
    HALF = "half"
    QUARTER = "quarter"
    MONTH = "month"
    DAYS = "days"


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open stretch of local days, `[first, after)`, in one time zone."""

    label: str
    shape: Shape
    first: date  # the first local day in the period
    after: date  # the first local day after it
    zone: str
    fiscal_start_month: int = 1  # the month a fiscal year starts in, for FY labels

    @property
    def start(self) -> datetime:
        """The first instant of the period, in UTC."""
        return _midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period, in UTC."""
        return _midnight(self.after, self.zone)

    @property
    def days(self) -> int:
        return (self.after - self.first).days

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def previous(self) -> Period:
        """The period of the same shape just before this one."""
        if self.shape is Shape.DAYS:
            first = self.first - timedelta(days=self.days)
            last = self.first - timedelta(days=1)
            return Period(f"{first.isoformat()}..{last.isoformat()}", Shape.DAYS, first, self.first, self.zone)
        months = _months(self.first, self.after)
        first = _add_months(self.first, -months)
        label = _label(self.shape, first, months, self.label.startswith("FY"), self.fiscal_start_month)
        return Period(label, self.shape, first, self.first, self.zone, self.fiscal_start_month)


def parse_period(text: str, zone: str = "Asia/Tokyo", fiscal_start_month: int = 1) -> Period:
    """Read a period as written on the command line; an unknown form names the accepted ones."""
    raw = text.strip()
    upper = raw.upper()
    try:
        return _parse(raw, upper, zone, fiscal_start_month)
    except ValueError as error:
        raise UnknownPeriod(f"period {text!r}: {error}; write one of: {FORMS}") from None


def _parse(raw: str, upper: str, zone: str, fiscal_start_month: int) -> Period:
    if m := _DAYS.fullmatch(raw):
        first, last = date.fromisoformat(m["first"]), date.fromisoformat(m["last"])
        if last < first:
            raise ValueError(f"it ends ({last}) before it starts ({first})")
        return Period(raw, Shape.DAYS, first, last + timedelta(days=1), zone)
    for pattern, shape, months in ((_YEAR, Shape.YEAR, 12), (_HALF, Shape.HALF, 6), (_QUARTER, Shape.QUARTER, 3)):
        if m := pattern.fullmatch(upper):
            year = int(m["year"])
            start_month = fiscal_start_month if m["fy"] else 1
            if m["fy"] and fiscal_start_month == 1:
                raise ValueError(
                    "the pact sets no fiscal year (calendar.fiscal_year_start, e.g. 4 for April), so FY… is the "
                    "calendar year: write it without FY, or set the fiscal year in the pact"
                )
            n = int(m.groupdict().get("n") or 1)
            first = _add_months(date(year, start_month, 1), (n - 1) * months)
            return Period(upper, shape, first, _add_months(first, months), zone, fiscal_start_month)
    if m := _MONTH.fullmatch(raw):
        month = int(m["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"there is no month {month:02d}")
        first = date(int(m["year"]), month, 1)
        return Period(raw, Shape.MONTH, first, _add_months(first, 1), zone)
    raise ValueError("not a period")


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _months(first: date, after: date) -> int:
    return (after.year - first.year) * 12 + after.month - first.month


def _label(shape: Shape, first: date, months: int, fiscal: bool, fiscal_start_month: int) -> str:
    """The label of the period of `shape` that starts on `first`, as a fiscal one or not."""
    if shape is Shape.MONTH:
        return f"{first.year:04d}-{first.month:02d}"
    start_month = fiscal_start_month if fiscal else 1
    # A fiscal year is named after the calendar year it starts in (FY2026 starts in April 2026).
    year = first.year if first.month >= start_month else first.year - 1
    index = ((first.month - start_month) % 12) // months + 1
    prefix = "FY" if fiscal else ""
    if shape is Shape.YEAR:
        return f"{prefix}{year:04d}"
    return f"{prefix}{year:04d}-{'H' if shape is Shape.HALF else 'Q'}{index}"
