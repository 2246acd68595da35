"""The pact's business calendar: which days count, and when a handoff deadline falls due.

One definition, used by every clock, the CLI and the reports (docs/calendar.md):

* A **business day** is one of the pact's workdays, in its time zone, that is neither a
  national holiday of its country (the `holidays` library, substitute and citizens' holidays
  included) nor one of the company's closed days.
* **"Within N business days"** of an instant: due at the end of the Nth business day after
  the local day the instant falls on. The end of a day is its closing time when the pact sets
  business hours, otherwise midnight. A handoff on Tuesday 2026-04-28 with 3 business days is
  due at the end of Thursday 2026-05-07: 4/29 and 5/3–5/6 are holidays, 5/2 a Saturday.
* **"Within N hours"**: N hours on the wall clock, whatever the calendar says.
* **Business days from A to B** count the business days after A, up to and including B, so
  that a clock started on A and due after N business days is due on a day D with
  `business_days(A, D) == N`.

Days are NumPy `datetime64[D]` underneath (`busday_count`, `busday_offset`), so a sweep over
a million clocks is a few vector operations, not a loop over days.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

from leadpact.domain.pact import Calendar, ClosedDays, Deadline, DeadlineUnit

# The years whose holidays and closed days are laid out in advance: any clock leadpact keeps
# starts and ends inside them.
FIRST_YEAR, LAST_YEAR = 1990, 2100
EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))

Days = npt.NDArray[np.datetime64]  # datetime64[D]
Instants = npt.NDArray[np.datetime64]  # datetime64[us], UTC
DAY = np.timedelta64(1, "D")
MICROSECOND = np.timedelta64(1, "us")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # not the C locale's


@dataclass(frozen=True, slots=True)
class DayOff:
    """A day that is not a business day, and why."""

    day: date
    reason: str  # "weekend", "holiday" or "closed"
    name: str  # the holiday's or the closure's name; the weekday for a weekend


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """A pact's calendar made ready for counting: the weekmask and every day off, sorted."""

    zone: ZoneInfo
    workdays: tuple[int, ...]  # Monday is 0
    opens: time | None
    closes: time | None
    holiday_names: dict[date, str]
    closed_names: dict[date, str]
    numpy: np.busdaycalendar

    @classmethod
    def of(cls, calendar: Calendar) -> BusinessCalendar:
        return _built(calendar)

    # --- one day at a time --------------------------------------------------------------------

    def is_business_day(self, day: date) -> bool:
        return bool(np.is_busday(np.datetime64(day, "D"), busdaycal=self.numpy))

    def day_off(self, day: date) -> DayOff | None:
        """Why `day` is not a business day (None when it is); a holiday wins over a weekend."""
        if day in self.closed_names:
            return DayOff(day, "closed", self.closed_names[day])
        if day in self.holiday_names:
            return DayOff(day, "holiday", self.holiday_names[day])
        if day.weekday() not in self.workdays:
            return DayOff(day, "weekend", WEEKDAYS[day.weekday()])
        return None

    def days_off(self, first: date, last: date) -> Iterator[DayOff]:
        """The days off from `first` to `last`, both included."""
        for day in _span(first, last):
            off = self.day_off(day)
            if off is not None:
                yield off

    def local_day(self, at: datetime) -> date:
        return _aware(at).astimezone(self.zone).date()

    def due_day(self, due: datetime) -> date:
        """The business day a due time closes: a due time at midnight ends the day before."""
        return self.local_day(due - timedelta(microseconds=1))

    def end_of(self, day: date) -> datetime:
        """The instant a business day ends: its closing time, or the next midnight (UTC)."""
        if self.closes is not None:
            local = datetime.combine(day, self.closes, tzinfo=self.zone)
        else:
            local = datetime.combine(day + timedelta(days=1), time(), tzinfo=self.zone)
        return local.astimezone(ZoneInfo("UTC"))

    def business_days(self, first: date, last: date) -> int:
        """Business days after `first` up to and including `last` (negative when `last` is earlier)."""
        if last < first:
            return -self.business_days(last, first)
        start, end = np.datetime64(first, "D") + 1, np.datetime64(last, "D") + 1
        return int(np.busday_count(start, end, busdaycal=self.numpy))

    def nth_business_day_after(self, day: date, n: int) -> date:
        """The Nth business day after `day` (n ≥ 1), whatever kind of day `day` is."""
        if n < 1:
            raise ValueError("n must be at least 1")
        # Rolled back to a business day first, so that the 1st business day after a Saturday is Monday.
        found = np.busday_offset(np.datetime64(day, "D"), n, roll="backward", busdaycal=self.numpy)
        return date.fromisoformat(str(found))

    def due(self, start: datetime, deadline: Deadline) -> datetime:
        """When a clock started at `start` with this deadline falls due (aware, UTC)."""
        start = _aware(start)
        if deadline.unit is DeadlineUnit.HOURS:
            return (start + timedelta(hours=deadline.amount)).astimezone(ZoneInfo("UTC"))
        return self.end_of(self.nth_business_day_after(self.local_day(start), whole_days(deadline)))

    # --- many at once -------------------------------------------------------------------------

    def due_days(self, start_days: Days, business_days: npt.NDArray[np.int64]) -> Days:
        """`nth_business_day_after` for arrays of local start days and day counts."""
        return np.busday_offset(start_days, business_days, roll="backward", busdaycal=self.numpy)

    def local_days(self, instants: Instants) -> Days:
        """`local_day` for an array of UTC instants (NaT stays NaT)."""
        at = instants.astype("datetime64[us]")
        return (at + _utc_offsets(self.zone, at)).astype("datetime64[D]")

    def due_days_of(self, due: Instants) -> Days:
        """`due_day` for an array of due times."""
        earlier: Instants = due.astype("datetime64[us]") - MICROSECOND  # type: ignore[assignment]  # NumPy's stubs
        return self.local_days(earlier)

    def count(self, first_days: Days, last_days: Days) -> npt.NDArray[np.int64]:
        """`business_days` for arrays of days (negative where the last day is the earlier).

        Each day's business-day ordinal is looked up in a running count over the span of days
        given: two lookups a pair, instead of `busday_count` walking each pair's weeks.
        """
        if first_days.size == 0:
            return np.zeros(first_days.shape, dtype=np.int64)
        low = min(first_days.min(), last_days.min())
        span = np.arange(low, max(first_days.max(), last_days.max()) + DAY, dtype="datetime64[D]")
        ordinal = np.cumsum(np.is_busday(span, busdaycal=self.numpy), dtype=np.int64)  # business days up to each
        counted: npt.NDArray[np.int64] = (
            ordinal[(last_days - low).astype(np.int64)] - ordinal[(first_days - low).astype(np.int64)]
        )
        return counted


def whole_days(deadline: Deadline) -> int:
    """A business-day deadline's number of days (the pact allows whole days only)."""
    if deadline.unit is not DeadlineUnit.BUSINESS_DAYS:
        raise ValueError("not a business-day deadline")
    return int(deadline.amount)


def _utc_offsets(zone: ZoneInfo, at: Instants) -> npt.NDArray[np.timedelta64]:
    """The zone's UTC offset at each instant, as timedelta64[us] (0 at NaT)."""
    starts, offsets = _offset_changes(zone)
    found = offsets[np.searchsorted(starts, at.astype(np.int64), side="right") - 1]
    return np.where(np.isnat(at), 0, found).astype("timedelta64[us]")


@cache
def _offset_changes(zone: ZoneInfo) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """When the zone's UTC offset changes from FIRST_YEAR to LAST_YEAR, and to what (µs since the epoch, µs).

    The offset is looked up at every UTC midnight (about 40 k lookups, 40 ms, once per zone and
    process) and each change found is narrowed to its microsecond by bisection. That misses only
    a zone changing its offset and back within one day, which no zone of the tz database does.
    The first offset also holds before FIRST_YEAR, the last after LAST_YEAR.
    """
    day = int(DAY / MICROSECOND)
    first = _micros(datetime(FIRST_YEAR, 1, 1, tzinfo=EPOCH.tzinfo))
    samples = range(first, _micros(datetime(LAST_YEAR + 1, 1, 1, tzinfo=EPOCH.tzinfo)), day)
    sampled = [_offset(zone, micros) for micros in samples]
    starts, offsets = [np.iinfo(np.int64).min], [sampled[0]]
    for i in range(1, len(samples)):
        if sampled[i] != offsets[-1]:
            low, high = samples[i - 1], samples[i]  # the offset is offsets[-1] at low, sampled[i] at high
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if _offset(zone, middle) == offsets[-1] else (low, middle)
            starts.append(high)
            offsets.append(sampled[i])
    return np.array(starts, dtype=np.int64), np.array(offsets, dtype=np.int64)


def instant(at: datetime) -> np.datetime64:
    """An aware instant as NumPy's datetime64[us] (UTC), the unit of the array functions."""
    return np.datetime64(_micros(_aware(at)), "us")


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def _offset(zone: ZoneInfo, micros: int) -> int:
    """The zone's UTC offset, in microseconds, at an instant given in microseconds since the epoch."""
    offset = (EPOCH + timedelta(microseconds=micros)).astimezone(zone).utcoffset()
    return (offset or timedelta()) // timedelta(microseconds=1)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no place on the calendar; pass a timezone-aware instant")
    return at


@cache
def _built(calendar: Calendar) -> BusinessCalendar:
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    national: dict[date, str] = {}
    if calendar.holidays is not None:
        found = holidays.country_holidays(calendar.holidays, years=years, language=_language(calendar.holidays))
        national = {day: str(name) for day, name in sorted(found.items())}
    closed = {day: name for rule in calendar.closed for day, name in _closed_days(rule, years)}
    workdays = tuple(sorted(d.number for d in calendar.workdays))
    weekmask = [i in workdays for i in range(7)]
    offs = sorted(set(national) | set(closed))
    hours = calendar.hours
    return BusinessCalendar(
        zone=ZoneInfo(calendar.timezone),
        workdays=workdays,
        opens=hours.opens if hours is not None else None,
        closes=hours.closes if hours is not None else None,
        holiday_names=national,
        closed_names=closed,
        numpy=np.busdaycalendar(weekmask=weekmask, holidays=np.array(offs, dtype="datetime64[D]")),
    )


def _language(country: str) -> str | None:
    """The country's own language for holiday names (JP: 振替休日, not "Substitute Holiday")."""
    language: str | None = holidays.country_holidays(country).default_language
    return language


def _closed_days(rule: ClosedDays, years: range) -> Iterator[tuple[date, str]]:
    name = rule.label or "closed"
    if not rule.is_yearly:
        first = date.fromisoformat(rule.start)
        last = date.fromisoformat(rule.end) if rule.end is not None else first
        yield from ((day, name) for day in _span(first, last))
        return
    month, day = (int(p) for p in rule.start.split("-"))
    end_month, end_day = (int(p) for p in (rule.end or rule.start).split("-"))
    wraps = (end_month, end_day) < (month, day)  # 12-29 to 01-03 runs into the next year
    for year in years:
        try:
            first = date(year, month, day)
            last = date(year + 1 if wraps else year, end_month, end_day)
        except ValueError:  # 02-29 in a year without one
            continue
        yield from ((d, name) for d in _span(first, last))


def _span(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
