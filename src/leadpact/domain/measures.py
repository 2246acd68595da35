"""What each shared KPI counts: the items behind its figure, in one view of one period.

`Measures` holds one history as it stood at one instant, the leads' journeys through the funnel
(`domain.funnel`) and the owner lookups several KPIs share, and gives each KPI's `Items` for any
period: the leads (or decisions, or clock runs) counted, the instant that put each one in the
period, whether it is in the numerator, the wait measured, and what it is grouped by.
docs/kpis.md states every rule this module implements; `domain.kpis` turns items into figures.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.funnel import (
    FUNNEL,
    LOST,
    MQL,
    OPPORTUNITY,
    RECYCLED,
    SAL,
    SQL,
    WON,
    CohortFunnel,
    Journeys,
    StageTime,
    cohort_funnel,
    rank,
    stays,
    time_in_stage,
)
from leadpact.domain.history import NEVER, Bools, History, Int64s, gather
from leadpact.domain.pact import Kpi
from leadpact.domain.sla import business_times


class View(StrEnum):
    """Cohort: the leads whose first MQL falls in the period, followed to now. Period: what happened in it."""

    COHORT = "cohort"
    PERIOD = "period"


@dataclass(frozen=True, slots=True)
class Items:
    """What one KPI counts in one period, one row per lead (or per decision, or per clock run): the lead,
    the instant that put it in the period, whether it is in the numerator, its wait (business µs and
    business days, -1 when not measured), and what it is grouped by."""

    lead: Int64s
    at: Int64s
    counted: Bools
    waited: Int64s
    days: Int64s
    version: Int64s
    owner: Int64s  # a code into History.owners, -1: none
    clock: Int64s  # a code into History.clocks (clock runs), -1
    department: Int64s  # the responsible department, a code into History.departments, -1

    def __len__(self) -> int:
        return len(self.lead)

    def take(self, index: Bools | Int64s) -> Items:
        return Items(
            self.lead[index],
            self.at[index],
            self.counted[index],
            self.waited[index],
            self.days[index],
            self.version[index],
            self.owner[index],
            self.clock[index],
            self.department[index],
        )


def _items(
    lead: Int64s,
    at: Int64s,
    version: Int64s,
    owner: Int64s,
    counted: Bools | None = None,
    waited: Int64s | None = None,
    days: Int64s | None = None,
    clock: Int64s | None = None,
    department: Int64s | None = None,
) -> Items:
    n = len(lead)
    none = np.full(n, -1, dtype=np.int64)
    return Items(
        lead=lead,
        at=at,
        counted=np.ones(n, dtype=np.bool_) if counted is None else counted,
        waited=none if waited is None else waited,
        days=none if days is None else days,
        version=version,
        owner=owner,
        clock=none if clock is None else clock,
        department=none if department is None else department,
    )


class Measures:
    """The items of each KPI in one history, for any period: the history, its journeys, and the
    owner lookups several KPIs share."""

    def __init__(self, history: History, calendar: BusinessCalendar, now: int) -> None:
        self.h = history
        self.j = Journeys.of(history)
        self.calendar = calendar
        self.now = now
        t = history.transitions
        self.rows = np.arange(len(t))
        self.ranked = rank(t.to)
        self.from_ranked = rank(t.frm)
        self._cohort_owner: Int64s | None = None

    # owners

    def owner_at(self, lead: Int64s, at: Int64s) -> Int64s:
        a = self.h.assignments
        found = latest_event(a.lead, a.at, lead, at)
        return gather(a.owner, found, -1)

    def cohort_owner(self) -> Int64s:
        """Per lead: the first owner assigned at or after its first MQL, else its owner then."""
        if self._cohort_owner is None:
            leads = np.flatnonzero(self.j.first_mql < NEVER)
            at = self.j.first_mql[leads]
            a = self.h.assignments
            later = earliest_event(a.lead, a.at, leads, at)
            owner = np.where(later >= 0, gather(a.owner, later, -1), self.owner_at(leads, at))
            self._cohort_owner = np.full(self.h.size, -1, dtype=np.int64)
            self._cohort_owner[leads] = owner
        return self._cohort_owner

    # helpers

    def waits(self, start: Int64s, end: Int64s, measured: Bools) -> tuple[Int64s, Int64s]:
        """Business µs and business days from `start` to `end` where `measured` (-1 elsewhere)."""
        waited = np.full(len(start), -1, dtype=np.int64)
        days = np.full(len(start), -1, dtype=np.int64)
        if measured.any():
            s, e = start[measured].view("datetime64[us]"), end[measured].view("datetime64[us]")
            waited[measured] = business_times(self.calendar, s, e)
            days[measured] = self.calendar.count(self.calendar.local_days(s), self.calendar.local_days(e))
        return waited, days

    def cohort(self, start: int, end: int) -> Int64s:
        first = self.j.first_mql
        found: Int64s = np.flatnonzero((first >= start) & (first < end))
        return found

    def mql_version(self, leads: Int64s) -> Int64s:
        version: Int64s = self.h.transitions.version[self.j.first_mql_row[leads]]
        return version

    def transitions(self, rows: Int64s, counted: Bools | None = None) -> Items:
        t = self.h.transitions
        return _items(t.lead[rows], t.at[rows], t.version[rows], self.owner_at(t.lead[rows], t.at[rows]), counted)

    def in_period(self, start: int, end: int) -> Bools:
        at = self.h.transitions.at
        inside: Bools = (at >= start) & (at < end)
        return inside

    # the KPIs

    def measure(self, kpi: Kpi, view: View, start: int, end: int) -> Items:
        if kpi is Kpi.SQL_WITHOUT_MQL:
            return self.sql_without_mql(start, end)
        if kpi is Kpi.NEGLECTED_LEADS:
            return self.neglected(min(self.now, end), self.cohort(start, end) if view is View.COHORT else None)
        if kpi is Kpi.SLA_COMPLIANCE:
            return self.sla(view, start, end)
        if view is View.COHORT:
            return self.cohort_measure(kpi, self.cohort(start, end))
        return self.period_measure(kpi, start, end)

    def cohort_measure(self, kpi: Kpi, leads: Int64s) -> Items:
        j = self.j
        at = j.first_mql[leads]
        owner = self.cohort_owner()[leads]
        version = self.mql_version(leads)

        def reached(r: int) -> Bools:
            found: Bools = j.reached[r, leads] < NEVER
            return found

        def of(keep: Bools, counted: Bools | None = None) -> Items:
            return _items(leads[keep], at[keep], version[keep], owner[keep], None if counted is None else counted[keep])

        everyone = np.ones(len(leads), dtype=np.bool_)
        match kpi:
            case Kpi.MQL_COUNT:
                return of(everyone)
            case Kpi.RE_MQL_COUNT:
                back = j.re_mql[leads] < NEVER
                return _items(leads[back], j.re_mql[leads][back], version[back], owner[back])
            case Kpi.MQL_TO_SAL_RATE:
                return of(everyone, reached(2))
            case Kpi.MQL_TO_SQL_RATE:
                return of(everyone, reached(3))
            case Kpi.SQL_TO_OPPORTUNITY_RATE:
                return of(reached(3), reached(4))
            case Kpi.OPPORTUNITY_TO_WON_RATE:
                return of(reached(4), reached(5))
            case Kpi.RECYCLE_RATE:
                return of(everyone, j.recycled[leads] < NEVER)
            case Kpi.MQL_TO_SAL_HOURS | Kpi.TIME_TO_FIRST_CONTACT_HOURS:
                end = j.reached[2, leads] if kpi is Kpi.MQL_TO_SAL_HOURS else j.first_contact[leads]
                waited, days = self.waits(at, end, end < NEVER)
                return _items(leads, at, version, owner, waited=waited, days=days)
        raise ValueError(kpi)  # pragma: no cover

    def period_measure(self, kpi: Kpi, start: int, end: int) -> Items:
        t, j = self.h.transitions, self.j
        inside = self.in_period(start, end)
        to, frm, ranked, from_ranked = t.to, t.frm, self.ranked, self.from_ranked
        out = ranked == 0  # recycled, disqualified, or back to lead: the lead left the funnel

        def decisions(asked: Bools, forward: Bools) -> Items:
            rows = np.flatnonzero(inside & asked)
            return self.transitions(rows, forward[rows])

        match kpi:
            case Kpi.MQL_COUNT:
                leads = self.cohort(start, end)
                return self.transitions(j.first_mql_row[leads])
            case Kpi.RE_MQL_COUNT:
                back = (to == MQL) & (frm == RECYCLED) & (self.rows != j.first_mql_row[t.lead])
                return self.transitions(np.flatnonzero(inside & back))
            case Kpi.MQL_TO_SAL_RATE:
                return decisions((frm == MQL) & ((ranked >= 2) | out), ranked >= 2)
            case Kpi.MQL_TO_SQL_RATE:
                return decisions(((frm == MQL) | (frm == SAL)) & ((ranked >= 3) | out), ranked >= 3)
            case Kpi.SQL_TO_OPPORTUNITY_RATE:
                skipped = (from_ranked < 3) & (ranked >= 4)  # e.g. imported straight into an opportunity
                return decisions(((frm == SQL) & ((ranked >= 4) | out)) | skipped, ranked >= 4)
            case Kpi.OPPORTUNITY_TO_WON_RATE:
                closed = (frm == OPPORTUNITY) & (to != OPPORTUNITY)
                skipped = (from_ranked < 4) & (to == WON) | (to == LOST)
                return decisions(closed | skipped, to == WON)
            case Kpi.RECYCLE_RATE:
                return decisions(((frm == MQL) | (frm == SAL) | (frm == SQL)) & (out | (ranked >= 4)), to == RECYCLED)
            case Kpi.MQL_TO_SAL_HOURS:
                rows = np.flatnonzero(inside & (frm == MQL) & (ranked >= 2))
                entered = rows - 1  # the move into mql this acceptance ends, when it is the lead's previous one
                known = (rows > 0) & (t.lead[np.maximum(entered, 0)] == t.lead[rows])
                known &= to[np.maximum(entered, 0)] == MQL
                items = self.transitions(rows)
                waited, days = self.waits(t.at[np.maximum(entered, 0)], t.at[rows], known)
                return _replace_waits(items, waited, days)
            case Kpi.TIME_TO_FIRST_CONTACT_HOURS:
                return self.first_contacts(start, end)
        raise ValueError(kpi)  # pragma: no cover

    def first_contacts(self, start: int, end: int) -> Items:
        """Contacts in the period that are the first since their lead's latest move into mql."""
        t, c = self.h.transitions, self.h.contacts
        rows = np.flatnonzero((c.at >= start) & (c.at < end))
        mqls = np.flatnonzero(t.to == MQL)
        entered = latest_event(t.lead[mqls], t.at[mqls], c.lead[rows], c.at[rows])
        has = entered >= 0
        mql_at = gather(t.at[mqls], entered, NEVER)
        before = rows - 1  # the lead's previous contact, if any
        earlier = (rows > 0) & (c.lead[np.maximum(before, 0)] == c.lead[rows]) & (c.at[np.maximum(before, 0)] >= mql_at)
        first = has & ~earlier
        rows, mql_rows = rows[first], mqls[entered[first]]
        waited, days = self.waits(t.at[mql_rows], c.at[rows], np.ones(len(rows), dtype=np.bool_))
        owner = self.owner_at(c.lead[rows], c.at[rows])
        return _items(c.lead[rows], c.at[rows], t.version[mql_rows], owner, waited=waited, days=days)

    def sql_without_mql(self, start: int, end: int) -> Items:
        """Leads whose first move into SQL or beyond falls in the period with no move into mql before it."""
        j, t = self.j, self.h.transitions
        rows = j.first_sql_row[j.first_sql_row >= 0]
        lead = t.lead[rows]
        mql_row = j.first_mql_row[lead]
        skipped = (mql_row < 0) | (mql_row > rows)
        rows = rows[skipped & (t.at[rows] >= start) & (t.at[rows] < end)]
        return self.transitions(np.sort(rows))

    def sla(self, view: View, start: int, end: int) -> Items:
        """Clock runs decided by now (stopped, or running past due): in the numerator when met on time.

        A run's owner is whoever held the lead while the clock ran out: just before it stopped, or
        at its due time if it ran past it (a field sales rep assigned after the SQL holds the
        meeting clock the SQL started)."""
        r = self.h.runs
        if view is View.COHORT:
            cohort = np.zeros(self.h.size, dtype=np.bool_)
            cohort[self.cohort(start, end)] = True
            chosen = cohort[r.lead] & (r.started >= self.j.first_mql[r.lead])
        else:
            chosen = (r.started >= start) & (r.started < end)
        running = r.stopped == NEVER
        decided = chosen & (~running | (r.due < self.now))
        rows = np.flatnonzero(decided)
        met = (r.stopped[rows] <= r.due[rows]) & ~running[rows]
        ran_out = np.maximum(r.started[rows], np.minimum(r.stopped[rows], r.due[rows]) - 1)
        owner = self.owner_at(r.lead[rows], ran_out)
        return _items(
            r.lead[rows],
            r.started[rows],
            r.version[rows],
            owner,
            counted=met,
            clock=r.clock[rows],
            department=r.responsible[rows],
        )

    def neglected(self, at: int, leads: Int64s | None) -> Items:
        """Leads with a clock past due and still running at `at`, once per responsible department
        (the run due first), with the owner they had then."""
        r = self.h.runs
        late = (r.started <= at) & (r.stopped > at) & (r.due < at)
        if leads is not None:
            chosen = np.zeros(self.h.size, dtype=np.bool_)
            chosen[leads] = True
            late &= chosen[r.lead]
        rows = np.flatnonzero(late)
        rows = rows[np.lexsort((r.due[rows], r.lead[rows], r.responsible[rows]))]
        keep = np.ones(len(rows), dtype=np.bool_)
        keep[1:] = (r.responsible[rows][1:] != r.responsible[rows][:-1]) | (r.lead[rows][1:] != r.lead[rows][:-1])
        rows = np.sort(rows[keep])
        owner = self.owner_at(r.lead[rows], np.full(len(rows), at, dtype=np.int64))
        return _items(
            r.lead[rows],
            r.due[rows],
            r.version[rows],
            owner,
            clock=r.clock[rows],
            department=r.responsible[rows],
        )

    # the funnel table

    def funnel(self, view: View, start: int, end: int) -> tuple[CohortFunnel, tuple[StageTime, ...]]:
        found = stays(self.h)
        if view is View.COHORT:
            in_cohort = np.zeros(self.h.size, dtype=np.bool_)
            in_cohort[self.cohort(start, end)] = True
            keep = in_cohort[found.lead] & (found.entered >= self.j.first_mql[found.lead])
            return cohort_funnel(self.j, self.calendar, start, end), time_in_stage(found, keep)
        keep = (found.left >= start) & (found.left < end)
        return self.entries(start, end), time_in_stage(found, keep)

    def entries(self, start: int, end: int) -> CohortFunnel:
        """Per local month of the period, the leads entering each funnel stage: their first MQL, then
        each move up past the stage (from an MQL in play, for SAL); each lead once a month and stage."""
        t, j = self.h.transitions, self.j
        inside = self.in_period(start, end)
        leads = self.cohort(start, end)
        lead_parts = [leads]
        at_parts = [j.first_mql[leads]]
        stage_parts = [np.zeros(len(leads), dtype=np.int64)]
        for r in range(2, 6):
            crossed = inside & (self.ranked >= r) & (self.from_ranked < r)
            if r == 2:
                crossed &= self.from_ranked >= 1
            rows = np.flatnonzero(crossed)
            lead_parts.append(t.lead[rows])
            at_parts.append(t.at[rows])
            stage_parts.append(np.full(len(rows), r - 1, dtype=np.int64))
        lead, at, stage = (np.concatenate(p) for p in (lead_parts, at_parts, stage_parts))
        if len(lead) == 0:
            return CohortFunnel((), np.zeros((0, len(FUNNEL)), dtype=np.int64))
        local_months = self.calendar.local_days(at.view("datetime64[us]")).astype("datetime64[M]")
        months, month = np.unique(local_months, return_inverse=True)
        size = max(self.h.size, 1)
        cells = np.unique((month * len(FUNNEL) + stage) * size + lead) // size  # each lead once per cell
        counts = np.bincount(cells, minlength=len(months) * len(FUNNEL)).reshape(len(months), len(FUNNEL))
        return CohortFunnel(tuple(str(m) for m in months), counts.astype(np.int64))


def _replace_waits(items: Items, waited: Int64s, days: Int64s) -> Items:
    return Items(
        items.lead,
        items.at,
        items.counted,
        waited,
        days,
        items.version,
        items.owner,
        items.clock,
        items.department,
    )


def latest_event(event_lead: Int64s, event_at: Int64s, lead: Int64s, at: Int64s) -> Int64s:
    """For each query (lead, at), the position of its lead's latest event at or before `at` (-1: none);
    events sorted by lead, then time.

    Events and queries are sorted together (an event before a query at the same instant); the
    running maximum of event positions along that order is the latest event so far, which is
    the query's if it belongs to the same lead.
    """
    n = len(event_lead)
    if n == 0 or len(lead) == 0:
        return np.full(len(lead), -1, dtype=np.int64)
    is_query = np.concatenate((np.zeros(n, dtype=np.int8), np.ones(len(lead), dtype=np.int8)))
    order = np.lexsort((is_query, np.concatenate((event_at, at)), np.concatenate((event_lead, lead))))
    seen = np.maximum.accumulate(np.where(is_query[order] == 1, -1, order))
    found = np.empty(len(lead), dtype=np.int64)
    asked = is_query[order] == 1
    found[order[asked] - n] = seen[asked]
    same = found >= 0
    same[same] = event_lead[found[same]] == lead[same]
    return np.where(same, found, -1)


def earliest_event(event_lead: Int64s, event_at: Int64s, lead: Int64s, at: Int64s) -> Int64s:
    """For each query (lead, at), the position of its lead's earliest event at or after `at` (-1: none)."""
    n = len(event_lead)
    if n == 0 or len(lead) == 0:
        return np.full(len(lead), -1, dtype=np.int64)
    is_event = np.concatenate((np.ones(n, dtype=np.int8), np.zeros(len(lead), dtype=np.int8)))
    order = np.lexsort((is_event, np.concatenate((event_at, at)), np.concatenate((event_lead, lead))))
    positions = np.where(is_event[order] == 1, order, n)[::-1]
    seen = np.minimum.accumulate(positions)[::-1]
    found = np.empty(len(lead), dtype=np.int64)
    asked = is_event[order] == 0
    found[order[asked] - n] = seen[asked]
    same = found < n
    same[same] = event_lead[found[same]] == lead[same]
    return np.where(same, found, -1)
