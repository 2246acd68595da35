"""Neglected leads: where the time of a late clock went, and who held the lead.

A clock past its due time is a breach. Its elapsed time (from the start to its stop, or to
now while it runs) splits three ways (docs/sla.md):

* **off-hours**: the time outside business days (and outside business hours, when the pact
  sets them): nights, weekends, holidays, company closures. Nobody is blamed for it.
* **routing delay**: business time before the lead reached the responsible department,
  i.e. before its owner was someone of that department. A `handoff` clock has none: handing
  the lead over is the responsible department's own work.
* **the department's own time**: the rest of the business time.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from leadpact.domain.calendar import DAY, BusinessCalendar, Instants, instant

UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """A late clock's elapsed time, three ways; the parts add up to the whole."""

    routing: timedelta
    own: timedelta
    off_hours: timedelta

    @property
    def elapsed(self) -> timedelta:
        return self.routing + self.own + self.off_hours


@dataclass(frozen=True, slots=True)
class Holding:
    """From `since`, the lead's owner was someone of `department` (None: nobody)."""

    since: datetime
    department: str | None


def business_time(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """The part of [start, end) inside business days (and business hours, when set)."""
    if end <= start:
        return timedelta()
    total = timedelta()
    day = calendar.local_day(start)
    last = calendar.local_day(end)
    while day <= last:
        if calendar.is_business_day(day):
            opens, closes = _open_interval(calendar, day)
            overlap = min(end, closes) - max(start, opens)
            if overlap > timedelta():
                total += overlap
        day += timedelta(days=1)
    return total


def business_times(calendar: BusinessCalendar, starts: Instants, ends: Instants) -> npt.NDArray[np.int64]:
    """`business_time` of many intervals at once, in microseconds (0 where an interval ends before it starts).

    Each local day of the span the intervals cover gets its open window once (its opening and
    closing instants, from the same `_open_interval` the scalar walk uses, so daylight saving
    and business hours agree), and a running total of the business time before it. An
    interval's business time is then the total between its first and last days, less the part
    of its first day's window before its start, plus the part of its last day's window before
    its end: two lookups an interval instead of a walk over its days (KPIs measure hundreds of
    thousands of waits at once).
    """
    starts, ends = starts.astype("datetime64[us]"), ends.astype("datetime64[us]")
    if starts.size == 0:
        return np.zeros(starts.shape, dtype=np.int64)
    first_days, last_days = calendar.local_days(starts), calendar.local_days(ends)
    low = min(first_days.min(), last_days.min())
    span = np.arange(low, max(first_days.max(), last_days.max()) + DAY, dtype="datetime64[D]")
    windows = [_open_interval(calendar, day) for day in span.astype(object)]
    opens = np.array([instant(o) for o, _ in windows], dtype="datetime64[us]").astype(np.int64)
    closes = np.array([instant(c) for _, c in windows], dtype="datetime64[us]").astype(np.int64)
    length = np.where(np.is_busday(span, busdaycal=calendar.numpy), closes - opens, 0)
    before = np.concatenate(([0], np.cumsum(length)))  # business time before each day of the span
    first, last = (first_days - low).astype(np.int64), (last_days - low).astype(np.int64)
    start, end = starts.astype(np.int64), ends.astype(np.int64)
    total = (
        before[last]
        - before[first]
        - np.clip(start - opens[first], 0, length[first])
        + np.clip(end - opens[last], 0, length[last])
    )
    return np.where(end > start, total, 0)


def _open_interval(calendar: BusinessCalendar, day: date) -> tuple[datetime, datetime]:
    zone = calendar.zone
    opens = datetime.combine(day, calendar.opens or time(), tzinfo=zone)
    if calendar.closes is not None:
        closes = datetime.combine(day, calendar.closes, tzinfo=zone)
    else:
        closes = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return opens.astimezone(UTC), closes.astimezone(UTC)


def split_elapsed(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    responsible: str,
    holdings: Sequence[Holding],
    handoff: bool,
) -> TimeSplit:
    """Split [start, end) into routing delay, the responsible department's time and off-hours.

    `holdings` are the lead's owners over time, oldest first (the owner before `start` counts
    from `start`).
    """
    elapsed = max(end - start, timedelta())
    working = business_time(calendar, start, end)
    if handoff:
        routed = start
    else:
        routed = _reached(start, end, responsible, holdings)
    routing = business_time(calendar, start, routed)
    return TimeSplit(routing=routing, own=working - routing, off_hours=elapsed - working)


def _reached(start: datetime, end: datetime, responsible: str, holdings: Sequence[Holding]) -> datetime:
    """When, within [start, end], the lead first had an owner of the responsible department."""
    held = None
    for holding in holdings:
        if holding.since <= start:
            held = holding.department
    if held == responsible:
        return start
    return next((h.since for h in holdings if start < h.since < end and h.department == responsible), end)
