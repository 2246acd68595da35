"""Accountability: what each department of the pact answers for in a period, and why a KPI was missed.

Per department (docs/accountability.md):

* the KPIs it owns (`domain.kpis`), met or missed against the pact's targets;
* the **SLA breaches** charged to it: the clock runs it is responsible for, started in the period
  and late by now (the failures of its SLA attainment), each with its time split into the
  department's own time, routing delay and off-hours (`domain.sla`), and the reps they fell due
  with;
* how long it **held** leads (`domain.holding`);
* the **rejections charged** to it (`domain.disputes.rejection_verdicts`): undisputed and upheld
  ones against marketing's lead quality, overturned ones against the rejecting department's
  acceptance; pending ones against nobody yet;
* for each missed KPI, a **decomposition**, every part counted in the KPI's own items (the
  decisions, leads, waits or clock runs behind its figure), so that nothing is attributed that
  the ledger does not show:

  - *shortfall*: how many more items going the target's way would have met it;
  - *volume*: the items by the leads' source against the previous period. A count's changes by
    source add up to its change; a rate's change splits exactly into a *mix* part (more or fewer
    items from sources that go forward more or less often) and a *within-source* part;
  - *quality*: the items that went against the target (a rate's decisions that did not go
    forward, the recycles of the recycle rate), by what they were: rejections charged to lead
    quality, overturned ones charged to sales acceptance, pending disputes, and moves that are no
    rejection. They add up to all of them;
  - *speed*: the items that came after a late clock of the step the KPI measures (the pact's
    `mql` clocks for the rates and waits out of MQL, its `sql` clocks for SQL → opportunity);
    for SLA attainment and neglected leads, the department's breaches themselves;
  - *definition*: when the period or the one before it ran under more than one pact version, the
    figure per version and what changed between them (`domain.pact_diff`).

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

import numpy as np

from leadpact.domain.calendar import BusinessCalendar, instant
from leadpact.domain.disputes import Charge, RejectionStatus, RejectionVerdict
from leadpact.domain.history import Bools
from leadpact.domain.holding import Held
from leadpact.domain.kpis import HOUR_MICROS, Figure, KpiResult, Unit
from leadpact.domain.lifecycle import ReasonKind, Stage
from leadpact.domain.pact import ClockStage, Kpi
from leadpact.domain.period import Period
from leadpact.domain.sla import Holding, TimeSplit, business_times

# The clocks of the step each KPI measures, by the pact clock's stage.
STEP: Final[Mapping[Kpi, frozenset[ClockStage]]] = {
    Kpi.MQL_TO_SAL_RATE: frozenset({ClockStage.MQL}),
    Kpi.MQL_TO_SAL_HOURS: frozenset({ClockStage.MQL}),
    Kpi.TIME_TO_FIRST_CONTACT_HOURS: frozenset({ClockStage.MQL}),
    Kpi.MQL_TO_SQL_RATE: frozenset({ClockStage.MQL}),
    Kpi.SQL_TO_OPPORTUNITY_RATE: frozenset({ClockStage.SQL}),
    Kpi.RECYCLE_RATE: frozenset({ClockStage.MQL, ClockStage.SQL}),
}
# The KPIs whose items are stage moves that sales decided: their failures can be rejections.
DECISIONS: Final = frozenset(
    {
        Kpi.MQL_TO_SAL_RATE,
        Kpi.MQL_TO_SQL_RATE,
        Kpi.SQL_TO_OPPORTUNITY_RATE,
        Kpi.OPPORTUNITY_TO_WON_RATE,
        Kpi.RECYCLE_RATE,
    }
)
# The KPIs whose items are clock runs or late leads: their speed part is the department's breaches.
CLOCKED: Final = frozenset({Kpi.SLA_COMPLIANCE, Kpi.NEGLECTED_LEADS})


# --- SLA breaches -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecidedRun:
    """A clock run started in the period and decided by now: stopped, or still running past its due time."""

    lead_id: int
    clock: str
    responsible: str
    handoff: bool  # a handoff clock: handing over is the responsible department's own work, no routing delay
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None  # None: still running at now (so late)
    owner: str | None  # who held the lead when the clock was met, or when it fell due
    calendar: BusinessCalendar  # of the pact version the clock started under
    holdings: tuple[Holding, ...] = ()  # the lead's owners' departments over time, oldest first

    @property
    def is_late(self) -> bool:
        return self.stopped_at is None or self.stopped_at > self.due_at


@dataclass(frozen=True, slots=True)
class Breach:
    run: DecidedRun
    split: TimeSplit  # from its start to its stop (or now)


@dataclass(frozen=True, slots=True)
class OwnerLine:
    """One rep's clocks of a department: how many were late of those decided, and the department's own
    time in the late ones."""

    owner: str | None  # None: nobody held the lead when the clock fell due
    late: int
    decided: int
    own: timedelta


@dataclass(frozen=True, slots=True)
class ClockLine:
    clock: str
    late: int
    decided: int


@dataclass(frozen=True, slots=True)
class Breaches:
    """The SLA breaches charged to one department in a period."""

    department: str
    decided: int  # its clock runs of the period decided by now
    late: int  # of them, late: the breaches
    leads: int  # the leads of the breaches
    split: TimeSplit  # the breaches' time, summed
    owners: tuple[OwnerLine, ...]  # most breaches first
    clocks: tuple[ClockLine, ...]
    items: tuple[Breach, ...]  # earliest due first


def reached_at(run: DecidedRun, end: datetime) -> datetime:
    """When, within the run, the lead first had an owner of the responsible department (`end` if never;
    the start for a handoff clock): the routing delay ends there (as `domain.sla.split_elapsed`)."""
    if run.handoff:
        return run.started_at
    held = None
    for holding in run.holdings:
        if holding.since <= run.started_at:
            held = holding.department
    if held == run.responsible:
        return run.started_at
    later = (h.since for h in run.holdings if run.started_at < h.since < end and h.department == run.responsible)
    return next(later, end)


def splits(runs: Sequence[DecidedRun], now: datetime) -> list[TimeSplit]:
    """Each run's time from its start to its stop (or `now`) split three ways, as `domain.sla.split_elapsed`
    does one at a time, measured for all runs of a calendar at once."""
    found: list[TimeSplit | None] = [None] * len(runs)
    by_calendar: dict[int, list[int]] = {}
    for i, run in enumerate(runs):
        by_calendar.setdefault(id(run.calendar), []).append(i)
    for positions in by_calendar.values():
        calendar = runs[positions[0]].calendar
        chosen = [runs[i] for i in positions]
        ends = [max(r.stopped_at or now, r.started_at) for r in chosen]
        start = np.array([instant(r.started_at) for r in chosen], dtype="datetime64[us]")
        end = np.array([instant(e) for e in ends], dtype="datetime64[us]")
        routed = np.array(
            [instant(reached_at(r, e)) for r, e in zip(chosen, ends, strict=True)], dtype="datetime64[us]"
        )
        working = business_times(calendar, start, end)
        routing = business_times(calendar, start, routed)
        for k, i in enumerate(positions):
            elapsed = ends[k] - chosen[k].started_at
            work, route = timedelta(microseconds=int(working[k])), timedelta(microseconds=int(routing[k]))
            found[i] = TimeSplit(routing=route, own=work - route, off_hours=elapsed - work)
    return [s for s in found if s is not None]


def breaches(runs: Sequence[DecidedRun], department: str, now: datetime) -> Breaches:
    """The breaches among `department`'s decided runs, with their time split and where they fell due."""
    mine = [r for r in runs if r.responsible == department]
    late = sorted((r for r in mine if r.is_late), key=lambda r: (r.due_at, r.lead_id, r.clock))
    items = tuple(Breach(r, s) for r, s in zip(late, splits(late, now), strict=True))
    total = TimeSplit(
        routing=sum((b.split.routing for b in items), timedelta()),
        own=sum((b.split.own for b in items), timedelta()),
        off_hours=sum((b.split.off_hours for b in items), timedelta()),
    )
    decided = Counter(r.owner for r in mine)
    late_by = Counter(b.run.owner for b in items)
    own: dict[str | None, timedelta] = {}
    for b in items:
        own[b.run.owner] = own.get(b.run.owner, timedelta()) + b.split.own
    owners = sorted(decided, key=lambda o: (-late_by[o], -decided[o], o is None, o or ""))
    clocks = Counter(r.clock for r in mine)
    late_clocks = Counter(b.run.clock for b in items)
    return Breaches(
        department=department,
        decided=len(mine),
        late=len(items),
        leads=len({b.run.lead_id for b in items}),
        split=total,
        owners=tuple(OwnerLine(o, late_by[o], decided[o], own.get(o, timedelta())) for o in owners),
        clocks=tuple(
            ClockLine(c, late_clocks[c], clocks[c]) for c in sorted(clocks, key=lambda c: (-late_clocks[c], c))
        ),
        items=items,
    )


# --- rejections charged ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargedRejection:
    """A rejection of the period with where it stands, its lead's source, and whether a clock of the lead
    was late before it (a lead nobody called in time and then recycled for "no response")."""

    verdict: RejectionVerdict
    source: str | None
    after_late_clock: bool


@dataclass(frozen=True, slots=True)
class ReasonLine:
    """Rejections of one reason: how many, from which sources (most first), how many came after a late
    clock, and their ledger entries."""

    kind: ReasonKind
    code: str | None
    count: int
    sources: tuple[tuple[str | None, int], ...]
    after_late_clock: int
    entries: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Charged:
    """The rejections of a period charged to one department, for one reason of charge."""

    charge: Charge
    department: str
    count: int
    after_late_clock: int
    reasons: tuple[ReasonLine, ...]


def reasons(items: Sequence[ChargedRejection]) -> tuple[ReasonLine, ...]:
    """Rejections by reason, most first (ties: recycle before disqualify, then by code)."""
    groups: dict[tuple[ReasonKind, str | None], list[ChargedRejection]] = {}
    for item in items:
        r = item.verdict.rejection
        groups.setdefault((r.kind, r.reason), []).append(item)
    lines = [
        ReasonLine(
            kind=kind,
            code=code,
            count=len(members),
            sources=_ranked(Counter(m.source for m in members)),
            after_late_clock=sum(1 for m in members if m.after_late_clock),
            entries=tuple(m.verdict.rejection.seq for m in members),
        )
        for (kind, code), members in groups.items()
    ]
    return tuple(sorted(lines, key=lambda r: (-r.count, r.kind != "recycle", r.code or "")))


def _ranked(counts: Counter[str | None]) -> tuple[tuple[str | None, int], ...]:
    """Counts most first; ties by name, the leads without a value last."""
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or "")))


def charged(items: Sequence[ChargedRejection], department: str) -> tuple[Charged, ...]:
    """The rejections charged to `department`: lead quality first, then sales acceptance."""
    out = []
    for charge in Charge:
        mine = [i for i in items if i.verdict.charged_to == department and i.verdict.charge is charge]
        if mine:
            after = sum(1 for i in mine if i.after_late_clock)
            out.append(Charged(charge, department, len(mine), after, reasons(mine)))
    return tuple(out)


# --- a missed KPI, decomposed ----------------------------------------------------------------------------


def short_by(result: KpiResult) -> int | None:
    """How many more items going the target's way would have met the target (None for waits, and when
    there is no target or no figure)."""
    target, figure = result.target, result.figure
    if target is None or figure.value is None or result.definition.unit is Unit.HOURS:
        return None
    goal = target.value if result.definition.unit is Unit.COUNT else target.value * figure.denominator
    goal = round(goal, 9)  # 0.3 × 10 is 3.0000000000000004 in floating point: 3 decisions, not 4
    if result.definition.better == "lower":
        return max(figure.numerator - math.floor(goal), 0)
    return max(math.ceil(goal) - figure.numerator, 0)


@dataclass(frozen=True, slots=True)
class VolumeLine:
    group: str | None  # the source (None: leads without one)
    now: Figure
    before: Figure


@dataclass(frozen=True, slots=True)
class Volume:
    """The KPI's items by source, now and in the previous period. `change` is the total's; for a rate it
    is `mix` + `within` exactly (None when a period has no items)."""

    unit: Unit
    lines: tuple[VolumeLine, ...]
    change: float | None
    mix: float | None = None
    within: float | None = None


def volume(result: KpiResult, groups: Sequence[KpiResult]) -> Volume:
    """Split a KPI's change against the previous period by source (`groups`: its rows by source)."""
    unit = result.definition.unit
    lines = tuple(
        sorted(
            (
                VolumeLine(g.group, g.figure, g.previous)
                for g in groups
                if g.figure.denominator or g.previous.denominator
            ),
            key=lambda v: (-v.now.denominator, -v.before.denominator, v.group is None, v.group or ""),
        )
    )
    change = result.change
    if unit is not Unit.SHARE or change is None:
        return Volume(unit, lines, change)
    total_now, total_before = result.figure.denominator, result.previous.denominator
    mix = within = 0.0
    for line in lines:
        now, before = line.now, line.before
        # a source absent before is taken at its rate now: it adds by its weight alone (shift-share)
        base = before.value if before.value is not None else (now.value or 0.0)
        w_now, w_before = now.denominator / total_now, before.denominator / total_before
        mix += (w_now - w_before) * base
        if now.value is not None:
            within += w_now * (now.value - base)
    return Volume(unit, lines, change, mix, within)


class Fault(StrEnum):
    """What an item against the target was."""

    LEAD_QUALITY = "lead_quality"  # a rejection that stands against marketing's lead quality
    SALES_ACCEPTANCE = "sales_acceptance"  # a rejection overturned: against the rejecting department
    PENDING = "pending"  # a rejection disputed, waiting for a manager
    NO_REJECTION = "no_rejection"  # a move that is no rejection (marketing's own, a lost deal, …)


@dataclass(frozen=True, slots=True)
class Decision:
    """One item of a KPI: its lead and instant, whether it went the target's way, the stage it moved to
    (None when it was not a stage move), its rejection's verdict if it was one, its lead's source, and the
    step's clocks that were late before it."""

    lead_id: int
    at: datetime
    against: bool
    to_stage: Stage | None = None
    verdict: RejectionVerdict | None = None
    source: str | None = None
    late_clocks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QualityLine:
    fault: Fault
    charged_to: str | None  # the department (lead quality: marketing; acceptance: who rejected)
    count: int
    reasons: tuple[ReasonLine, ...]  # rejections by reason
    moves: tuple[tuple[Stage | None, int], ...]  # no rejection: by the stage moved to
    leads: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Quality:
    against: int  # the items against the target; the lines add up to it
    lines: tuple[QualityLine, ...]


def _fault(decision: Decision) -> tuple[Fault, str | None]:
    verdict = decision.verdict
    if verdict is None:
        return Fault.NO_REJECTION, None
    if verdict.status is RejectionStatus.PENDING:
        return Fault.PENDING, None
    if verdict.charge is Charge.SALES_ACCEPTANCE:
        return Fault.SALES_ACCEPTANCE, verdict.charged_to
    return Fault.LEAD_QUALITY, verdict.charged_to


def quality(decisions: Sequence[Decision]) -> Quality:
    """The items against the target by what they were; every one in exactly one line."""
    against = [d for d in decisions if d.against]
    groups: dict[tuple[Fault, str | None], list[Decision]] = {}
    for d in against:
        groups.setdefault(_fault(d), []).append(d)
    lines = []
    for (fault, to), members in sorted(groups.items(), key=lambda kv: (list(Fault).index(kv[0][0]), kv[0][1] or "")):
        rejected = [
            ChargedRejection(d.verdict, d.source, bool(d.late_clocks)) for d in members if d.verdict is not None
        ]
        moves = Counter(d.to_stage for d in members) if fault is Fault.NO_REJECTION else Counter[Stage | None]()
        lines.append(
            QualityLine(
                fault=fault,
                charged_to=to,
                count=len(members),
                reasons=reasons(rejected),
                moves=tuple(sorted(moves.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))),
                leads=tuple(sorted({d.lead_id for d in members})),
            )
        )
    return Quality(len(against), tuple(lines))


@dataclass(frozen=True, slots=True)
class Speed:
    """The KPI's items that came after a late clock of its step, against the target or not."""

    clocks: tuple[str, ...]  # the step's clocks
    items: int
    late: int  # items after a late clock
    against: int
    against_late: int  # items against the target after a late clock
    by_clock: tuple[tuple[str, int], ...]  # of those, per clock (an item after two late clocks counts in both)
    leads: tuple[int, ...]  # the leads of the items against the target after a late clock

    @property
    def against_share_on_time(self) -> float | None:
        """The share of the items without a late clock that went against the target."""
        on_time = self.items - self.late
        return (self.against - self.against_late) / on_time if on_time else None

    @property
    def against_share_late(self) -> float | None:
        """The same share among the items that came after a late clock."""
        return self.against_late / self.late if self.late else None


def speed(decisions: Sequence[Decision], clocks: Iterable[str]) -> Speed:
    """Cross the items against the target with the late clocks of the step before them."""
    late = [d for d in decisions if d.late_clocks]
    bad = [d for d in late if d.against]
    per_clock = Counter(c for d in bad for c in dict.fromkeys(d.late_clocks))
    return Speed(
        clocks=tuple(clocks),
        items=len(decisions),
        late=len(late),
        against=sum(1 for d in decisions if d.against),
        against_late=len(bad),
        by_clock=tuple(sorted(per_clock.items(), key=lambda kv: (-kv[1], kv[0]))),
        leads=tuple(sorted({d.lead_id for d in bad})),
    )


def against_target(result: KpiResult) -> Bools:
    """Which of the KPI's items went against its target: for a rate, the decisions that did not go the
    better way; for a wait, the waits longer than the target; for a count, none."""
    items, unit = result.items, result.definition.unit
    if unit is Unit.SHARE:
        found: Bools = items.counted if result.definition.better == "lower" else ~items.counted
        return found
    if unit is Unit.HOURS and result.target is not None:
        longer: Bools = (items.waited >= 0) & (items.waited > result.target.value * HOUR_MICROS)
        return longer
    return np.zeros(len(items), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class VersionLine:
    version: int | None  # None: entries made before any pact
    now: Figure
    before: Figure


@dataclass(frozen=True, slots=True)
class PactChange:
    """What changed when `new` replaced `old`, in business terms (`domain.pact_diff.pact_changes`)."""

    old: int
    new: int
    activated_at: datetime | None
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Redefinition:
    versions: tuple[VersionLine, ...]
    changes: tuple[PactChange, ...]


def versions_in_force(activations: Iterable[tuple[int, datetime | None]], start: datetime, end: datetime) -> list[int]:
    """The pact versions in force at some moment of [start, end): each activated version counts from its
    activation until the next one's."""
    active = sorted(((at, v) for v, at in activations if at is not None))
    found = []
    for i, (at, version) in enumerate(active):
        until = active[i + 1][0] if i + 1 < len(active) else None
        if at < end and (until is None or until > start):
            found.append(version)
    return found


@dataclass(frozen=True, slots=True)
class MissedKpi:
    """A KPI row whose target was missed, decomposed."""

    result: KpiResult
    short_by: int | None
    volume: Volume
    quality: Quality | None  # the KPIs of sales' decisions
    speed: Speed | None  # the KPIs with a step clock
    breaches: Breaches | None  # SLA attainment and neglected leads: the department's breaches
    redefinition: Redefinition | None  # when the pact changed in or just before the period


def decompose(
    result: KpiResult,
    groups: Sequence[KpiResult],
    decisions: Sequence[Decision],
    step_clocks: Sequence[str],
    department_breaches: Breaches | None,
    redefinition: Redefinition | None,
) -> MissedKpi:
    """One missed KPI, decomposed into shortfall, volume, quality, speed and definition."""
    kpi = result.kpi
    return MissedKpi(
        result=result,
        short_by=short_by(result),
        volume=volume(result, groups),
        quality=quality(decisions) if kpi in DECISIONS else None,
        speed=speed(decisions, step_clocks) if kpi in STEP else None,
        breaches=department_breaches if kpi in CLOCKED else None,
        redefinition=redefinition,
    )


# --- a department's account ------------------------------------------------------------------------------


def owned(results: Iterable[KpiResult], department: str) -> list[KpiResult]:
    """The KPI rows a department answers for: its own row of the per-department KPIs, and the KPIs it
    owns (alone or jointly)."""
    found = []
    for r in results:
        if r.by is not None or r.clock is not None:
            continue
        if r.definition.by_department:
            if r.department == department:
                found.append(r)
        elif department in r.owners:
            found.append(r)
    return found


@dataclass(frozen=True, slots=True)
class DepartmentAccount:
    department: str
    kpis: tuple[KpiResult, ...]
    breaches: Breaches
    held: Held
    charged: tuple[Charged, ...]
    missed: tuple[MissedKpi, ...]


@dataclass(frozen=True, slots=True)
class Account:
    """The accountability of every department of the pact for one period."""

    period: Period
    now: datetime
    departments: tuple[DepartmentAccount, ...]
    rejections: int  # rejections dated in the period
    pending: int  # of them, disputed and waiting for a manager: charged to nobody yet
    leads: int  # leads with anything counted in the period's KPIs (0: "no leads")
    versions: tuple[int, ...]  # the pact versions in force in the period and the one before
