"""The shared KPIs: what each one counts in the ledger's history, who owns it, and its target.

Every figure comes from the ledger (`domain.history`), never from a lead's current stage, and
every figure keeps the leads behind it (`KpiResult.items`), so a number that starts an argument
also ends it. docs/kpis.md defines each KPI exactly; the rules that shape all of them:

* **Two views.** *Cohort*: the leads whose first MQL falls in the period, followed to now
  (how many reached SQL, how fast they were contacted). *Period*: what happened in the period
  (the MQLs that arrived; of the decisions sales made on leads in the period, the share that
  went forward).
* **Skipped stages** count as passed (`domain.funnel`), except MQL: a lead that never became
  an MQL is counted apart (`sql_without_mql`), never in marketing's numbers.
* **Recycling never inflates MQL counts**: `mql_count` counts each lead's first MQL only; a
  lead back from `recycled` is a re-MQL (`re_mql_count`). Count KPIs count leads, each once.
* **Imported history counts.** Entries an import took from the MA/CRM are the record of what
  happened before (or outside) leadpact; without them a new install would start from zero.
* **Waits are business time** on the pact calendar (`domain.sla.business_times`): hours inside
  business days (and hours), and business days after the start day up to the end day.
* **Owner and team** of a figure's lead: the owner it had at the counted event (period view;
  SLA runs; neglected leads at the period's end), or the first rep it was assigned to at or
  after its first MQL (cohort view). Team is the owner's department.
* **Targets** come from the pact's `kpi_targets`: a count target per month or quarter is
  scaled to the period's length; shares and hours are not. SLA attainment and neglected leads
  are per responsible department: a target is met or missed by its owner department's figure.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.errors import DomainError
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
    Floats,
    Journeys,
    StageTime,
    cohort_funnel,
    grouped_quantile,
    rank,
    stays,
    time_in_stage,
)
from leadpact.domain.history import NEVER, Bools, History, Int64s, gather, micros
from leadpact.domain.lifecycle import ALLOWED, Stage
from leadpact.domain.pact import Kpi, KpiPeriod, Pact, ReviewCycle, Role
from leadpact.domain.period import Period, Shape, parse_period
from leadpact.domain.sla import business_times

HOUR_MICROS: Final = 3_600_000_000
MONTH_DAYS: Final = 365.25 / 12  # a run of days is weighed against a monthly target by this


class View(StrEnum):
    COHORT = "cohort"
    PERIOD = "period"


class GroupBy(StrEnum):
    SOURCE = "source"
    CAMPAIGN = "campaign"
    SEGMENT = "segment"
    OWNER = "owner"
    TEAM = "team"
    PACT_VERSION = "pact_version"


class Unit(StrEnum):
    COUNT = "count"  # leads, each once
    SHARE = "share"  # counted items over all items, 0–1
    HOURS = "hours"  # the median business hours of the measured waits


class UnknownChoice(DomainError):
    """A name that is none of the valid ones (a KPI, a group-by field, a view)."""


Choice = TypeVar("Choice", bound=StrEnum)


def choose(kind: type[Choice], text: str, what: str) -> Choice:
    """The member of `kind` named `text`, or an error naming the valid ones."""
    try:
        return kind(text.strip().lower())
    except ValueError:
        valid = ", ".join(member.value for member in kind)
        raise UnknownChoice(f"unknown {what} {text!r}; choose one of: {valid}") from None


@dataclass(frozen=True, slots=True)
class Definition:
    """What kind of figure a KPI is, which way is better, and how its targets apply."""

    unit: Unit
    better: Literal["higher", "lower"] | None
    flow: bool = False  # a count of what happened in the period: its target scales with the period's length
    by_department: bool = False  # one figure per responsible department (and per clock) besides the total


DEFINITIONS: Final[Mapping[Kpi, Definition]] = {
    Kpi.MQL_COUNT: Definition(Unit.COUNT, "higher", flow=True),
    Kpi.RE_MQL_COUNT: Definition(Unit.COUNT, None, flow=True),
    Kpi.MQL_TO_SAL_RATE: Definition(Unit.SHARE, "higher"),
    Kpi.MQL_TO_SAL_HOURS: Definition(Unit.HOURS, "lower"),
    Kpi.TIME_TO_FIRST_CONTACT_HOURS: Definition(Unit.HOURS, "lower"),
    Kpi.MQL_TO_SQL_RATE: Definition(Unit.SHARE, "higher"),
    Kpi.SQL_TO_OPPORTUNITY_RATE: Definition(Unit.SHARE, "higher"),
    Kpi.OPPORTUNITY_TO_WON_RATE: Definition(Unit.SHARE, "higher"),
    Kpi.RECYCLE_RATE: Definition(Unit.SHARE, "lower"),
    Kpi.SQL_WITHOUT_MQL: Definition(Unit.COUNT, None, flow=True),
    Kpi.SLA_COMPLIANCE: Definition(Unit.SHARE, "higher", by_department=True),
    Kpi.NEGLECTED_LEADS: Definition(Unit.COUNT, "lower", by_department=True),
}

SIZE_BANDS: Final = ((1, 99), (100, 299), (300, 999), (1000, None))


def segment_of(attributes: Mapping[str, object]) -> str | None:
    """A lead's segment: its `segment` attribute when it has one, else its company-size band
    (`size:1-99`, `size:100-299`, `size:300-999`, `size:1000+`) from `employees`, else none."""
    segment = attributes.get("segment")
    if isinstance(segment, str) and segment.strip():
        return segment.strip()
    employees = attributes.get("employees")
    if isinstance(employees, bool) or not isinstance(employees, int | float) or employees < 1:
        return None
    for low, high in SIZE_BANDS:
        if high is None:
            return f"size:{low}+"
        if employees <= high:
            return f"size:{low}-{high}"
    return None  # unreachable: the last band is open


def default_owners(pact: Pact, kpi: Kpi) -> tuple[str, ...]:
    """The departments a KPI belongs to when the pact's targets name none (docs/kpis.md)."""

    def having(*roles: Role) -> tuple[str, ...]:
        return tuple(d.id for d in pact.departments if set(d.roles) & set(roles))

    marketing = (pact.mql.responsible,)
    match kpi:
        case Kpi.MQL_COUNT | Kpi.RE_MQL_COUNT | Kpi.RECYCLE_RATE:
            return marketing
        case Kpi.MQL_TO_SAL_RATE | Kpi.MQL_TO_SAL_HOURS | Kpi.TIME_TO_FIRST_CONTACT_HOURS:
            return having(Role.INSIDE_SALES)
        case Kpi.MQL_TO_SQL_RATE:
            return tuple(dict.fromkeys(marketing + having(Role.INSIDE_SALES)))
        case Kpi.SQL_TO_OPPORTUNITY_RATE | Kpi.OPPORTUNITY_TO_WON_RATE:
            return having(Role.FIELD_SALES)
        case Kpi.SQL_WITHOUT_MQL:  # whoever may make the lead → sql move
            return having(*ALLOWED[(Stage.LEAD, Stage.SQL)].roles)
        case Kpi.SLA_COMPLIANCE | Kpi.NEGLECTED_LEADS:
            return tuple(dict.fromkeys(clock.responsible for clock in pact.clocks))
    return ()  # pragma: no cover  (every Kpi is matched above)


@dataclass(frozen=True, slots=True)
class Target:
    """A pact target as it applies to one period."""

    value: float  # for this period (a count target scaled to its length)
    stated: float  # as the pact states it
    per: KpiPeriod
    owner: str


def last_review_period(cycle: ReviewCycle, now: datetime, zone: str) -> Period:
    """The last whole period of the pact's review cycle before `now`, read in `zone`: what a review
    looks at, and what `leadpact kpi` shows unless told otherwise."""
    today = now.astimezone(ZoneInfo(zone)).date()
    label = {
        ReviewCycle.MONTHLY: f"{today.year}-{today.month:02d}",
        ReviewCycle.QUARTERLY: f"{today.year}-Q{(today.month - 1) // 3 + 1}",
        ReviewCycle.SEMIANNUAL: f"{today.year}-H{(today.month - 1) // 6 + 1}",
        ReviewCycle.ANNUAL: f"{today.year}",
    }[cycle]
    return parse_period(label, zone).previous()


def period_months(period: Period) -> float:
    """The period's length in months (a run of days in average months)."""
    if period.shape is Shape.DAYS:
        return period.days / MONTH_DAYS
    return float((period.after.year - period.first.year) * 12 + period.after.month - period.first.month)


def target_of(pact: Pact | None, kpi: Kpi, period: Period, department: str | None = None) -> Target | None:
    """The pact's target for `kpi` over `period` (for a per-department KPI, the target its owner department
    has; the total has none). A KPI listed twice is owned jointly: the first entry's target counts."""
    if pact is None:
        return None
    definition = DEFINITIONS[kpi]
    if definition.by_department and department is None:
        return None
    for entry in pact.kpi_targets:
        if entry.kpi is kpi and (department is None or entry.owner == department):
            per = 1.0 if entry.per is KpiPeriod.MONTH else 3.0
            value = entry.target * period_months(period) / per if definition.flow else entry.target
            return Target(value=value, stated=entry.target, per=entry.per, owner=entry.owner)
    return None


def owners_of(pact: Pact | None, kpi: Kpi, department: str | None = None) -> tuple[str, ...]:
    """Who owns a KPI: the departments its pact targets name, else its default owners; a per-department
    figure belongs to its department."""
    if department is not None:
        return (department,)
    if pact is None:
        return ()
    named = tuple(dict.fromkeys(t.owner for t in pact.kpi_targets if t.kpi is kpi))
    if named and not DEFINITIONS[kpi].by_department:
        return named
    return default_owners(pact, kpi)


# --- the leads behind a figure ------------------------------------------------------------------------


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


# --- figures -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """A KPI's value over some items; None when there was nothing to measure (no leads)."""

    value: float | None
    numerator: int
    denominator: int
    p90_hours: float | None = None  # waits only: the 0.9-quantile
    median_business_days: float | None = None  # waits only


def figures(items: Items, unit: Unit, groups: Int64s, count: int, size: int) -> list[Figure]:
    """The figure of each group 0..count-1 of `items` (`groups`: each item's group)."""
    if unit is Unit.COUNT:
        counted = items.counted
        pairs = np.unique(groups[counted] * max(size, 1) + items.lead[counted])  # each lead once per group
        leads = np.bincount(pairs // max(size, 1), minlength=count)[:count]
        return [Figure(float(n), int(n), int(n)) for n in leads]
    sizes = np.bincount(groups, minlength=count)[:count]
    if unit is Unit.SHARE:
        hits = np.bincount(groups[items.counted], minlength=count)[:count]
        return [Figure(float(h / n) if n else None, int(h), int(n)) for h, n in zip(hits, sizes, strict=True)]
    measured = items.waited >= 0
    hours: Floats = items.waited[measured] / HOUR_MICROS
    where = groups[measured]
    median = grouped_quantile(hours, where, count, 0.5)
    p90 = grouped_quantile(hours, where, count, 0.9)
    days = grouped_quantile(items.days[measured].astype(np.float64), where, count, 0.5)
    n_measured = np.bincount(where, minlength=count)[:count]
    return [
        Figure(_number(median[i]), int(n_measured[i]), int(sizes[i]), _number(p90[i]), _number(days[i]))
        for i in range(count)
    ]


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


# --- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KpiResult:
    """One KPI's figure for one view of one period, for everyone or one group (and, for a per-department
    KPI, one responsible department or clock), with its owners, target and the previous period's figure."""

    kpi: Kpi
    figure: Figure
    previous: Figure
    owners: tuple[str, ...]
    target: Target | None
    items: Items  # the leads behind the figure
    by: GroupBy | None = None  # set on a group's row
    group: str | None = None  # the group's value (None: the leads without one)
    department: str | None = None  # per-department KPIs: the responsible department's row
    clock: str | None = None  # SLA attainment: one clock's row

    @property
    def definition(self) -> Definition:
        return DEFINITIONS[self.kpi]

    @property
    def value(self) -> float | None:
        return self.figure.value

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target or a value."""
        if self.target is None or self.figure.value is None:
            return None
        if self.definition.better == "lower":
            return self.figure.value <= self.target.value
        return self.figure.value >= self.target.value

    @property
    def change(self) -> float | None:
        """The value less the previous period's (None unless both have one)."""
        if self.figure.value is None or self.previous.value is None:
            return None
        return self.figure.value - self.previous.value

    def lead_ids(self) -> list[int]:
        """The leads behind the figure, each once, in the order of the instants that put them in it."""
        ids = self.items.lead[np.lexsort((self.items.lead, self.items.at))]
        return [int(i) for i in ids[np.sort(np.unique(ids, return_index=True)[1])]]


@dataclass(frozen=True, slots=True)
class KpiReport:
    """Every KPI of one view of one period, with its cohort × stage funnel and time in stage."""

    period: Period
    view: View
    now: datetime
    by: GroupBy | None
    previous_now: datetime  # the previous period is taken as it stood then (`kpi_report`)
    results: tuple[KpiResult, ...]
    funnel: CohortFunnel
    time_in_stage: tuple[StageTime, ...]
    leads: int  # leads with anything counted in the period (0: "no leads")
    clocks: tuple[str, ...] = ()  # what the items' clock codes stand for
    departments: tuple[str, ...] = ()  # what the items' department codes stand for
    pact: Pact | None = None  # the pact whose targets and calendar were used

    @property
    def previous(self) -> Period:
        return self.period.previous()

    @property
    def neglected_at(self) -> datetime:
        """The instant neglected leads are counted at: the end of the period, or now if sooner."""
        return min(self.now, self.period.end)

    def totals(self) -> list[KpiResult]:
        """Each KPI's figure for everyone (and its per-department and per-clock rows)."""
        return [r for r in self.results if r.by is None]

    def find(self, kpi: Kpi, department: str | None = None, clock: str | None = None) -> KpiResult:
        """A KPI's total row (or its row for one responsible department or clock)."""
        for r in self.results:
            if r.by is None and (r.kpi, r.department, r.clock) == (kpi, department, clock):
                return r
        raise KeyError((kpi, department, clock))

    def find_group(
        self, kpi: Kpi, group: str | None, department: str | None = None, clock: str | None = None
    ) -> KpiResult:
        """A group's row (`group` None: the leads without a value for the group-by field)."""
        for r in self.results:
            if r.by is not None and (r.kpi, r.group, r.department, r.clock) == (kpi, group, department, clock):
                return r
        raise KeyError((kpi, group, department, clock))

    def groups(self) -> list[str | None]:
        """The groups' values, in the order of their rows."""
        return list(dict.fromkeys(r.group for r in self.results if r.by is not None))


# --- what each KPI counts -------------------------------------------------------------------------------


class _Measures:
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
        found = _latest(a.lead, a.at, lead, at)
        return gather(a.owner, found, -1)

    def cohort_owner(self) -> Int64s:
        """Per lead: the first owner assigned at or after its first MQL, else its owner then."""
        if self._cohort_owner is None:
            leads = np.flatnonzero(self.j.first_mql < NEVER)
            at = self.j.first_mql[leads]
            a = self.h.assignments
            later = _earliest(a.lead, a.at, leads, at)
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
            found: Bools = j.reached[leads, r] < NEVER
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
                end = j.reached[leads, 2] if kpi is Kpi.MQL_TO_SAL_HOURS else j.first_contact[leads]
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
                return decisions(np.isin(frm, (MQL, SAL)) & ((ranked >= 3) | out), ranked >= 3)
            case Kpi.SQL_TO_OPPORTUNITY_RATE:
                skipped = (from_ranked < 3) & (ranked >= 4)  # e.g. imported straight into an opportunity
                return decisions(((frm == SQL) & ((ranked >= 4) | out)) | skipped, ranked >= 4)
            case Kpi.OPPORTUNITY_TO_WON_RATE:
                closed = (frm == OPPORTUNITY) & (to != OPPORTUNITY)
                skipped = (from_ranked < 4) & np.isin(to, (WON, LOST))
                return decisions(closed | skipped, to == WON)
            case Kpi.RECYCLE_RATE:
                return decisions(np.isin(frm, (MQL, SAL, SQL)) & (out | (ranked >= 4)), to == RECYCLED)
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
        entered = _latest(t.lead[mqls], t.at[mqls], c.lead[rows], c.at[rows])
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
        """Clock runs decided by now (stopped, or running past due): in the numerator when met on time."""
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
        owner = self.owner_at(r.lead[rows], r.started[rows])
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


def _latest(event_lead: Int64s, event_at: Int64s, lead: Int64s, at: Int64s) -> Int64s:
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


def _earliest(event_lead: Int64s, event_at: Int64s, lead: Int64s, at: Int64s) -> Int64s:
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


# --- the report ----------------------------------------------------------------------------------------


def kpi_report(
    history: History,
    pact: Pact | None,
    calendar: BusinessCalendar,
    period: Period,
    view: View,
    now: datetime,
    by: GroupBy | None = None,
    kpis: Iterable[Kpi] = tuple(Kpi),
) -> KpiReport:
    """Every KPI of `view` over `period` as the history stood at `now`, beside the previous period's,
    with targets from `pact` (the active one) and, with `by`, a row per group as well.

    The previous period is taken like for like: as it stood at the same point of itself, `now`
    moved back by the distance between the two periods' starts. Last quarter's cohort has then
    been followed exactly as long as this one, and a quarter not over yet compares with the same
    weeks of the quarter before.
    """
    previous = period.previous()
    then = now - (period.start - previous.start)
    at, at_before = int(micros([now])[0]), int(micros([then])[0])
    measures = _Measures(history.as_of(at), calendar, at)
    before = _Measures(history.as_of(at_before), calendar, at_before)
    bounds = {p: (int(micros([p.start])[0]), int(micros([p.end])[0])) for p in (period, previous)}
    departments = _ordered(measures.h.departments, [d.id for d in pact.departments] if pact else [])
    clocks = _ordered(measures.h.clocks, [c.id for c in pact.clocks] if pact else [])
    scopes: list[_Scope] = []
    for kpi in kpis:
        now_items = measures.measure(kpi, view, *bounds[period])
        before_items = before.measure(kpi, view, *bounds[previous])
        scopes.append(_Scope(kpi, now_items, before_items))
        if DEFINITIONS[kpi].by_department:
            names, both = measures.h.departments, _concatenated(now_items, before_items)
            for code in sorted(set(both.department.tolist()), key=departments.__getitem__):
                pick = _equal("department", code)
                scopes.append(_Scope(kpi, now_items.take(pick(now_items)), before_items.take(pick(before_items)),
                                     department=names[code], owner=names[code]))  # fmt: skip
            if kpi is Kpi.SLA_COMPLIANCE:
                for code in sorted(set(both.clock.tolist()), key=clocks.__getitem__):
                    pick, responsible = _equal("clock", code), names[int(both.department[both.clock == code][0])]
                    scopes.append(_Scope(kpi, now_items.take(pick(now_items)), before_items.take(pick(before_items)),
                                         clock=measures.h.clocks[code], owner=responsible))  # fmt: skip
    labels = {id(scope): _Labels.of(measures.h, scope, by) for scope in scopes} if by is not None else {}
    groups = sorted({g for found in labels.values() for g in found.all()}, key=_group_order)
    results = [
        row for scope in scopes for row in _rows(scope, labels.get(id(scope)), groups, by, measures, pact, period)
    ]
    counted = [scope.now.lead for scope in scopes]
    funnel, staying = measures.funnel(view, *bounds[period])
    touched = np.unique(np.concatenate(counted)) if counted else np.zeros(0, dtype=np.int64)
    return KpiReport(
        period=period,
        view=view,
        now=now,
        by=by,
        previous_now=then,
        results=tuple(results),
        funnel=funnel,
        time_in_stage=staying,
        leads=len(touched),
        clocks=measures.h.clocks,
        departments=measures.h.departments,
        pact=pact,
    )


def _group_order(value: str | None) -> tuple[int, float, str]:
    """Groups by name, size bands by size, versions by number, the leads without a value last."""
    if value is None:
        return (2, 0.0, "")
    if value.startswith("size:"):
        return (0, float(value.removeprefix("size:").split("-")[0].rstrip("+")), value)
    if value.isdigit():
        return (0, float(value), value)
    return (1, 0.0, value)


def _ordered(names: tuple[str, ...], first: Sequence[str]) -> list[int]:
    """A sort key per code of `names`: those in `first` in that order (the pact's), then the rest by name."""
    rank = {name: i for i, name in enumerate(first)}
    order = sorted(range(len(names)), key=lambda code: (rank.get(names[code], len(rank)), names[code]))
    key = [0] * len(names)
    for position, code in enumerate(order):
        key[code] = position
    return key


def _concatenated(a: Items, b: Items) -> Items:
    return Items(*(np.concatenate((getattr(a, f), getattr(b, f))) for f in Items.__slots__))


def _everything(items: Items) -> Bools:
    return np.ones(len(items), dtype=np.bool_)


def _equal(field: str, code: int) -> Callable[[Items], Bools]:
    def pick(items: Items) -> Bools:
        found: Bools = getattr(items, field) == code
        return found

    return pick


@dataclass(frozen=True, slots=True)
class _Scope:
    """One row of the report before grouping: a KPI's items now and in the previous period, for everyone
    or for one responsible department or clock, and the department that owns the row."""

    kpi: Kpi
    now: Items
    before: Items
    department: str | None = None
    clock: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class _Labels:
    now: list[str | None]
    before: list[str | None]

    @classmethod
    def of(cls, history: History, scope: _Scope, by: GroupBy) -> _Labels:
        return cls(_labels(history, scope.now, by), _labels(history, scope.before, by))

    def all(self) -> set[str | None]:
        return set(self.now) | set(self.before)


def _rows(
    scope: _Scope,
    labels: _Labels | None,
    groups: list[str | None],
    by: GroupBy | None,
    measures: _Measures,
    pact: Pact | None,
    period: Period,
) -> list[KpiResult]:
    """The total row of one scope and, when grouped, a row for every group of the report."""
    kpi, items, before = scope.kpi, scope.now, scope.before
    unit, size = DEFINITIONS[kpi].unit, measures.h.size
    target = None if scope.clock is not None else target_of(pact, kpi, period, scope.department)
    owners = owners_of(pact, kpi, scope.owner)
    (figure,) = figures(items, unit, np.zeros(len(items), dtype=np.int64), 1, size)
    (previous,) = figures(before, unit, np.zeros(len(before), dtype=np.int64), 1, size)
    rows = [KpiResult(kpi, figure, previous, owners, target, items, None, None, scope.department, scope.clock)]
    if labels is None:
        return rows
    code = {name: i for i, name in enumerate(groups)}
    now_codes = np.array([code[v] for v in labels.now], dtype=np.int64)
    before_codes = np.array([code[v] for v in labels.before], dtype=np.int64)
    now_figures = figures(items, unit, now_codes, len(groups), size)
    before_figures = figures(before, unit, before_codes, len(groups), size)
    for i, name in enumerate(groups):
        chosen = items.take(now_codes == i)
        rows.append(
            KpiResult(
                kpi, now_figures[i], before_figures[i], owners, target, chosen, by, name, scope.department, scope.clock
            )
        )
    return rows


def _labels(history: History, items: Items, by: GroupBy) -> list[str | None]:
    """Each item's group value."""
    if by in (GroupBy.SOURCE, GroupBy.CAMPAIGN, GroupBy.SEGMENT):
        values = history.leads.values[by.value]
        return [values[c] if c >= 0 else None for c in history.leads.code(by.value, items.lead).tolist()]
    if by is GroupBy.OWNER:
        return [history.owners[c] if c >= 0 else None for c in items.owner.tolist()]
    if by is GroupBy.TEAM:
        return [history.teams[c] if c >= 0 else None for c in items.owner.tolist()]
    return [str(v) if v > 0 else None for v in items.version.tolist()]


def lead_rows(result: KpiResult) -> Sequence[tuple[int, int, bool, int, int]]:
    """The items behind a figure as (lead, instant µs, counted, business µs waited or -1, business days or -1)."""
    i = result.items
    return list(
        zip(
            i.lead.tolist(),
            i.at.tolist(),
            i.counted.tolist(),
            i.waited.tolist(),
            i.days.tolist(),
            strict=True,
        )
    )
