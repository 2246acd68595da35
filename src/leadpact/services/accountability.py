"""`leadpact accountability`: what each department of the pact answers for in a period (domain.accountability).

The KPIs are the KPI service's own results (`services.kpis.report`, period view, by source; by pact
version too when the pact changed in the period or the one before), so every figure is the one
`leadpact kpi --view period` shows. The rest is read in one short read transaction: the ledger's
history as columns (stage moves, assignments, clock runs: the breaches and the time held), the
rejections dated in the period with where their disputes stand (`services.feedback.verdicts_between`)
and every pact version (calendars, clock kinds, what changed). Everything is as it stood at `now`.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from leadpact.adapters.db.store import PactVersion, Store
from leadpact.adapters.db.tables import from_micros
from leadpact.domain.accountability import (
    DECISIONS,
    STEP,
    Account,
    Breaches,
    ChargedRejection,
    DecidedRun,
    Decision,
    DepartmentAccount,
    MissedKpi,
    PactChange,
    Redefinition,
    VersionLine,
    against_target,
    breaches,
    charged,
    decompose,
    owned,
    versions_in_force,
)
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.disputes import RejectionStatus, RejectionVerdict
from leadpact.domain.history import NEVER, STAGES, History, Int64s, micros
from leadpact.domain.holding import held, holders, segments
from leadpact.domain.kpis import GroupBy, KpiReport, KpiResult, View
from leadpact.domain.lifecycle import ReasonKind, Stage
from leadpact.domain.pact import ClockKind, Pact, ReasonCode
from leadpact.domain.pact_diff import pact_changes
from leadpact.domain.sla import Holding
from leadpact.services.disputes import Pacts
from leadpact.services.feedback import verdicts_between
from leadpact.services.kpis import report
from leadpact.services.lifecycle import require_active_pact


@dataclass(frozen=True, slots=True)
class AccountabilityReport:
    """The account of every department, with the KPI report it rests on and the words to show it in."""

    account: Account
    kpis: KpiReport
    pact: Pact  # the active pact: departments, targets, calendar
    version: int  # its version
    reasons: Mapping[tuple[ReasonKind, str], ReasonCode]  # the labels of the reasons shown
    clocks: Mapping[str, str]  # each clock's label (the newest version's naming it)


def accountability(engine: Engine, now: datetime, period: str | None = None) -> AccountabilityReport:
    """Every department's account for `period` (None: the last whole review period) as of `now`."""
    with Store(engine) as store:
        read = store.history.read(("source",))  # once, for every figure below
    by_source = report(engine, now, period, View.PERIOD, GroupBy.SOURCE, history=read)
    chosen = by_source.period
    with Store(engine) as store:
        active = require_active_pact(store)
        versions = {v.version: v for v in store.pacts.all()}
        history = read.as_of(int(micros([now])[0]))
        pacts = Pacts(store, active)
        verdicts = [v for v in verdicts_between(store, pacts, chosen.start, chosen.end) if v.rejection.at <= now]
    in_force = versions_in_force(
        ((v.version, v.activated_at) for v in versions.values()), chosen.previous().start, chosen.end
    )
    by_version = (
        report(engine, now, period, View.PERIOD, GroupBy.PACT_VERSION, history=read) if len(in_force) > 1 else None
    )
    facts = _Facts(history, versions, now)
    pact = active.pact
    departments = [d.id for d in pact.departments]
    start, end = (int(micros([at])[0]) for at in (chosen.start, chosen.end))
    t, a = history.transitions, history.assignments
    stretches = segments((t.lead, t.at, t.to), (a.lead, a.at, a.owner), holders(pact, departments, history.teams))
    holding = held(stretches, departments, BusinessCalendar.of(pact.calendar), start, end, facts.at)
    runs = facts.decided_runs(start, end)
    rejections = [ChargedRejection(v, facts.source(v.rejection.lead_id), facts.late_before(v)) for v in verdicts]
    redefinition = _Redefinition(by_version, in_force, versions)
    accounts = []
    for department, time_held in zip(departments, holding, strict=True):
        late = breaches(runs, department, now)
        mine = owned(by_source.totals(), department)
        missed = tuple(_missed(r, by_source, facts, verdicts, late, redefinition.of(r)) for r in mine if r.met is False)
        accounts.append(
            DepartmentAccount(department, tuple(mine), late, time_held, charged(rejections, department), missed)
        )
    account = Account(
        period=chosen,
        now=now,
        departments=tuple(accounts),
        rejections=len(verdicts),
        pending=sum(1 for v in verdicts if v.status is RejectionStatus.PENDING),
        leads=by_source.leads,
        versions=tuple(in_force),
    )
    return AccountabilityReport(
        account, by_source, pact, active.version, _labels(pacts, verdicts), _clock_labels(versions)
    )


def _missed(
    result: KpiResult,
    found: KpiReport,
    facts: _Facts,
    verdicts: Sequence[RejectionVerdict],
    late: Breaches,
    redefinition: Redefinition | None,
) -> MissedKpi:
    groups = [found.find_group(result.kpi, g, result.department) for g in found.groups()]
    step = facts.step_clocks(result)
    decisions = facts.decisions(result, verdicts, step) if result.kpi in DECISIONS or result.kpi in STEP else []
    return decompose(result, groups, decisions, step, late, redefinition)


class _Facts:
    """What the account looks up in the history: each lead's source, clock runs and owners over time,
    and the stage moves behind a KPI's items."""

    def __init__(self, history: History, versions: Mapping[int, PactVersion], now: datetime) -> None:
        self.h = history
        self.versions = versions
        self.now = now
        self.at = int(micros([now])[0])
        self.calendars = {v: BusinessCalendar.of(p.pact.calendar) for v, p in versions.items()}
        self.kinds = {(v, c.id): c.kind for v, p in versions.items() for c in p.pact.clocks}
        self.stages = {c.id: c.stage for p in versions.values() for c in p.pact.clocks}
        r = history.runs
        late = (r.due < self.at) & (r.stopped > r.due)
        rows = np.flatnonzero(late)
        self.late: dict[int, list[tuple[int, str]]] = {}  # lead → (due µs, clock) of its late runs
        for row in rows[np.argsort(r.due[rows], kind="stable")].tolist():
            self.late.setdefault(int(r.lead[row]), []).append((int(r.due[row]), history.clocks[int(r.clock[row])]))

    def source(self, lead: int) -> str | None:
        code = int(self.h.leads.code("source", np.array([lead], dtype=np.int64))[0])
        return self.h.leads.values["source"][code] if code >= 0 else None

    def late_clocks(self, lead: int, at: int, clocks: Sequence[str] | None = None) -> tuple[str, ...]:
        """The clocks of `lead` late before `at` (µs): past their due time then, and not stopped in time."""
        return tuple(c for due, c in self.late.get(lead, []) if due < at and (clocks is None or c in clocks))

    def late_before(self, verdict: RejectionVerdict) -> bool:
        at = int(micros([verdict.rejection.at])[0])
        return bool(self.late_clocks(verdict.rejection.lead_id, at))

    def step_clocks(self, result: KpiResult) -> list[str]:
        stages = STEP.get(result.kpi, frozenset())
        return sorted(c for c, stage in self.stages.items() if stage in stages)

    # clock runs

    def _owners(self, lead: int) -> tuple[list[int], list[int]]:
        """A lead's assignment instants and owner codes, oldest first."""
        a = self.h.assignments
        lo, hi = np.searchsorted(a.lead, [lead, lead + 1])
        return a.at[lo:hi].tolist(), a.owner[lo:hi].tolist()

    def decided_runs(self, start: int, end: int) -> list[DecidedRun]:
        """The clock runs started in [start, end) and decided by now, with who held each lead when its clock was
        met or fell due."""
        r, h = self.h.runs, self.h
        chosen = (r.started >= start) & (r.started < end) & ((r.stopped != NEVER) | (r.due < self.at))
        out = []
        for row in np.flatnonzero(chosen).tolist():
            lead, version = int(r.lead[row]), int(r.version[row])
            clock = h.clocks[int(r.clock[row])]
            due, stopped = int(r.due[row]), int(r.stopped[row])
            at, owners = self._owners(lead)
            found = bisect_right(at, min(due, stopped)) - 1  # who held the lead when the clock was met or fell due
            owner = h.owners[owners[found]] if found >= 0 and owners[found] >= 0 else None
            out.append(
                DecidedRun(
                    lead_id=lead,
                    clock=clock,
                    responsible=h.departments[int(r.responsible[row])],
                    handoff=self.kinds.get((version, clock)) is ClockKind.HANDOFF,
                    started_at=from_micros(int(r.started[row])),
                    due_at=from_micros(due),
                    stopped_at=from_micros(stopped) if stopped != NEVER else None,
                    owner=owner,
                    calendar=self.calendars.get(version) or next(iter(self.calendars.values())),
                    holdings=tuple(
                        Holding(from_micros(when), h.teams[code] if code >= 0 else None)
                        for when, code in zip(at, owners, strict=True)
                    ),
                )
            )
        return out

    # a KPI's items

    def decisions(
        self, result: KpiResult, verdicts: Sequence[RejectionVerdict], clocks: Sequence[str]
    ) -> list[Decision]:
        """Each item of a KPI's figure with what the decomposition needs to know of it."""
        items = result.items
        against = against_target(result)
        # only sales' decisions are stage moves that may be rejections (a wait's items are contacts or acceptances)
        moves = self._moves(items.lead[against]) if result.kpi in DECISIONS else {}
        rejected = {(v.rejection.lead_id, int(micros([v.rejection.at])[0]), v.rejection.to_stage): v for v in verdicts}
        out = []
        for lead, at, bad in zip(items.lead.tolist(), items.at.tolist(), against.tolist(), strict=True):
            to = moves.get((lead, at)) if bad else None
            out.append(
                Decision(
                    lead_id=lead,
                    at=from_micros(at),
                    against=bad,
                    to_stage=to,
                    verdict=rejected.get((lead, at, to)) if to is not None else None,
                    source=self.source(lead),
                    late_clocks=self.late_clocks(lead, at, clocks),
                )
            )
        return out

    def _moves(self, leads: Int64s) -> dict[tuple[int, int], Stage]:
        """The stage each of these leads moved to at each instant (the last move of an instant)."""
        t = self.h.transitions
        rows = np.flatnonzero(np.isin(t.lead, np.unique(leads)))
        return {(int(t.lead[i]), int(t.at[i])): STAGES[int(t.to[i])] for i in rows.tolist() if int(t.to[i]) >= 0}


class _Redefinition:
    """The definition part of each missed KPI, when the pact changed in the period or the one before."""

    def __init__(self, found: KpiReport | None, in_force: Sequence[int], versions: Mapping[int, PactVersion]) -> None:
        self.found = found
        self.changes = tuple(
            PactChange(
                old, new, versions[new].activated_at, tuple(pact_changes(versions[old].pact, versions[new].pact))
            )
            for old, new in zip(in_force, in_force[1:], strict=False)
        )

    def of(self, result: KpiResult) -> Redefinition | None:
        if self.found is None:
            return None
        lines = []
        for group in self.found.groups():
            row = self.found.find_group(result.kpi, group, result.department)
            if row.figure.denominator or row.previous.denominator:
                lines.append(VersionLine(int(group) if group is not None else None, row.figure, row.previous))
        return Redefinition(tuple(lines), self.changes)


def _labels(pacts: Pacts, verdicts: Sequence[RejectionVerdict]) -> dict[tuple[ReasonKind, str], ReasonCode]:
    found = {}
    for verdict in verdicts:
        rejection = verdict.rejection
        code = pacts.reason(rejection)
        if code is not None and rejection.reason is not None:
            found[(rejection.kind, rejection.reason)] = code
    return found


def _clock_labels(versions: Mapping[int, PactVersion]) -> dict[str, str]:
    found: dict[str, str] = {}
    for version in sorted(versions):
        for clock in versions[version].pact.clocks:
            found[clock.id] = clock.label or clock.id
    return found
