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

from leadpact.domain.calendar import BusinessCalendar

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
