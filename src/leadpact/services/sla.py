"""Neglected-lead detection: the sweep that records late clocks, and the board that lists them.

`sweep` runs in one short transaction: it finds every clock past its due time (running, or
stopped late and not yet recorded), records each one as a breach with whoever held the lead,
and commits. The breach table's unique clock makes two overlapping sweeps, in one process
or two, record each breach once; the sweep that recorded it is the one that reports it new.
With notification channels configured, the same transaction queues each new breach's
notifications (`services.escalation`): a breach is never recorded without them.
`board` is the neglected-lead list: running clocks that are breached or due soon, oldest due
first, each with its business days late and where its time went (`domain.sla`). It reads
every running clock as columns and judges them all at once (`domain.clocks.judge`); only the
rows it shows become objects and get explained.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

from leadpact.adapters.channels import Channels
from leadpact.adapters.db.store import HeldClock, OpenClockColumns, Store
from leadpact.domain.calendar import BusinessCalendar, instant
from leadpact.domain.clocks import ClockColumns, ClockState, Verdicts, judge, judge_runs
from leadpact.domain.errors import DomainError
from leadpact.domain.escalation import BreachNotice, DepartmentName
from leadpact.domain.ledger import EntryKind
from leadpact.domain.pact import ClockKind, HandoffClock, Pact
from leadpact.domain.sla import Holding, TimeSplit, split_elapsed
from leadpact.services import escalation


@dataclass(frozen=True, slots=True)
class NeglectedLead:
    """A late or nearly late clock, explained."""

    held: HeldClock
    label: str
    state: ClockState
    business_days_late: int
    split: TimeSplit
    recorded_at: datetime | None  # when a sweep first recorded the breach


@dataclass(frozen=True, slots=True)
class SweepReport:
    now: datetime
    new: list[NeglectedLead]  # breaches this sweep recorded
    known: int  # late clocks an earlier sweep had recorded
    due_soon: int
    running: int
    queued: int = 0  # notifications queued for the new breaches


def sweep(engine: Engine, now: datetime, channels: Channels | None = None) -> SweepReport:
    """Record every late clock as a breach, once; report the ones recorded now. With `channels`,
    queue their notifications in the same transaction (`services.escalation.deliver` sends them)."""
    with Store(engine) as store:
        _check_now(store, now)
        late = store.clocks.late(now)
        recorded = store.breaches.record(late, now)
        explained = _explain(store, [h for h in late if h.run.id in recorded], now, dict.fromkeys(recorded, now))
        queued = 0
        if channels:
            queued = escalation.enqueue(store, channels, _notices(store, explained, recorded), now)
        running, due_soon = store.clocks.running_counts(now)
        store.commit()
    return SweepReport(
        now=now,
        new=explained,
        known=len(late) - len(recorded),
        due_soon=due_soon,
        running=running,
        queued=queued,
    )


@dataclass(frozen=True, slots=True)
class Board:
    now: datetime
    total: int  # running clocks in the wanted states
    items: list[NeglectedLead]  # the oldest due first, at most the limit


def board(
    engine: Engine,
    now: datetime,
    *,
    states: Iterable[ClockState] = (ClockState.BREACHED, ClockState.DUE_SOON),
    department: str | None = None,
    owner: str | None = None,
    limit: int | None = None,
) -> Board:
    """Running clocks in these states at `now`: how many, and the `limit` oldest due (all when None), explained."""
    with Store(engine) as store:
        columns = read_open(store, department=department, owner=owner)
        verdicts = judge_open(store, columns, now)
        chosen = np.flatnonzero(verdicts.having(states))
        shown = _oldest_due(columns, chosen, limit)
        held = store.clocks.held(columns.id[shown].tolist())
        recorded = store.breaches.known(h.run.id for h in held if h.run.id is not None)
        return Board(now=now, total=len(chosen), items=_explain(store, held, now, recorded))


def read_open(store: Store, department: str | None = None, owner: str | None = None) -> OpenClockColumns:
    """Every running clock (of `department`, of leads `owner` holds) as columns."""
    expected = [(p.version, clock.due_soon) for p in store.pacts.all() for clock in p.pact.clocks]
    return store.clocks.open_columns(expected, department=department, owner=owner)


def judge_open(store: Store, columns: OpenClockColumns, now: datetime) -> Verdicts:
    """Every clock of `columns` judged at `now`, each on its pact version's calendar."""
    if len(columns) and instant(now) < columns.started_at.max():
        _check_now(store, now)
    versions = sorted(set(columns.versions.tolist()))
    calendars = _calendars(store, versions)
    runs = ClockColumns(
        started_at=columns.started_at,
        due_at=columns.due_at,
        due_soon=columns.due_soon,
        stopped_at=np.full(len(columns), np.datetime64("NaT"), dtype="datetime64[us]"),
        calendar=np.array([versions.index(v) for v in columns.versions.tolist()], dtype=np.intp)[columns.terms],
    )
    return judge(runs, [calendars[v] for v in versions], now)


def _oldest_due(columns: OpenClockColumns, chosen: npt.NDArray[np.intp], limit: int | None) -> npt.NDArray[np.intp]:
    """Positions of the `limit` chosen clocks due first (ties: the older clock first)."""
    due = columns.due_at[chosen]
    if limit is not None and limit < len(chosen):
        # only the clocks due no later than the limit-th need sorting
        cutoff = np.partition(due, limit - 1)[limit - 1] if limit > 0 else None
        chosen = chosen[due <= cutoff] if cutoff is not None else chosen[:0]
        due = columns.due_at[chosen]
    order = np.lexsort((columns.id[chosen], due))
    return chosen[order][:limit]


def _calendars(store: Store, versions: Sequence[int]) -> dict[int, BusinessCalendar]:
    return {v: BusinessCalendar.of(_pact(store, v).calendar) for v in versions}


def _check_now(store: Store, now: datetime) -> None:
    newest = store.clocks.newest_open()
    if newest is not None and now < newest.started_at:
        raise DomainError(
            f"--now {now.isoformat()} is before clock {newest.clock_id} of lead {newest.lead_id} started "
            f"({newest.started_at.isoformat()}): a sweep looks at clocks as of a time after they started"
        )


def _explain(store: Store, held: list[HeldClock], now: datetime, recorded: dict[int, datetime]) -> list[NeglectedLead]:
    if not held:
        return []
    versions = sorted({h.run.pact_version for h in held})
    pacts = {v: _pact(store, v) for v in versions}
    calendars = {v: BusinessCalendar.of(p.calendar) for v, p in pacts.items()}
    runs = [h.run for h in held]
    verdicts = judge_runs(runs, calendars, now)
    holdings = _holdings(store, {r.lead_id for r in runs})
    out = []
    for i, h in enumerate(held):
        run = h.run
        definition = _definition(pacts[run.pact_version], run.clock_id)
        out.append(
            NeglectedLead(
                held=h,
                label=(definition.label or definition.id) if definition else run.clock_id,
                state=verdicts.state_of(i),
                business_days_late=int(verdicts.business_days_late[i]),
                split=split_elapsed(
                    calendars[run.pact_version],
                    run.started_at,
                    run.stopped_at or now,
                    run.responsible,
                    holdings.get(run.lead_id, []),
                    handoff=definition is not None and definition.kind is ClockKind.HANDOFF,
                ),
                recorded_at=recorded.get(run.id) if run.id is not None else None,
            )
        )
    return out


def _notices(store: Store, explained: list[NeglectedLead], breach_ids: dict[int, int]) -> list[BreachNotice]:
    """The new breaches as their notifications tell them, with the departments' names and the
    time zone of the pact each clock runs under."""
    pacts = {v: _pact(store, v) for v in {item.held.run.pact_version for item in explained}}
    notices = []
    for item in explained:
        run, pact = item.held.run, pacts[item.held.run.pact_version]
        assert run.id is not None
        notices.append(
            BreachNotice(
                breach_id=breach_ids[run.id],
                lead_id=run.lead_id,
                email=item.held.email,
                company=item.held.company,
                clock_id=run.clock_id,
                label=item.label,
                pact_version=run.pact_version,
                state=item.state.value,
                started_at=run.started_at,
                due_at=run.due_at,
                timezone=pact.calendar.timezone,
                business_days_late=item.business_days_late,
                responsible=_department_name(pact, run.responsible),
                owner=item.held.owner,
                owner_department=(
                    _department_name(pact, item.held.owner_department) if item.held.owner_department else None
                ),
                detected_at=item.recorded_at or run.due_at,
            )
        )
    return notices


def _department_name(pact: Pact, department_id: str) -> DepartmentName:
    found = pact.department(department_id)
    if found is None:
        return DepartmentName(department_id, department_id, department_id)
    return DepartmentName(department_id, found.name, found.name_en or found.name)


def _pact(store: Store, version: int) -> Pact:
    found = store.pacts.get(version)
    if found is None:
        raise DomainError(f"a clock names pact version {version}, which the store does not hold")
    return found.pact


def _definition(pact: Pact, clock_id: str) -> HandoffClock | None:
    return next((c for c in pact.clocks if c.id == clock_id), None)


def _holdings(store: Store, lead_ids: set[int]) -> dict[int, list[Holding]]:
    """Each lead's owners over time, from its assignment entries, with their departments."""
    entries = store.ledger.entries_of(lead_ids, kind=EntryKind.ASSIGNMENT)
    users = store.users.by_names({e.owner for e in entries if e.owner})
    out: dict[int, list[Holding]] = {}
    for e in entries:
        user = users.get(e.owner) if e.owner else None
        out.setdefault(e.lead_id, []).append(Holding(e.at, user.department if user else None))
    return out
