"""Handoff clocks: started and stopped by ledger entries, judged against their due time.

A pact clock (`HandoffClock`: "inside sales makes first contact within 3 business days of
assignment") becomes a `ClockRun` for a lead when a ledger entry brings its start event.
The run keeps what it was started under: the pact version, its due time on that version's
calendar, the responsible department and the events that stop it. A later pact changes
the clocks started after it, never the ones already running.

* Each ledger entry brings events (`events_of`): a stage move `entered_<stage>`, an
  assignment `assigned`, a logged contact `first_contact` (and `meeting_set` when the
  contact was a meeting or a visit).
* An entry stops every running clock of its lead whose stop events include one of them,
  at the entry's time (`stops`). A stop dated before the clock started does not stop it.
* An entry starts each clock of the active pact whose start event it brings, while the lead
  is in a stage of the clock's column of the agreement (`mql`: mql or sal; `sql`: sql), unless
  the lead already has that clock running: a lead reassigned while waiting for its first
  contact keeps waiting, on the same clock (`starts`).
* A run's state at an instant (`state_at`): met or met late once stopped (stopped exactly
  at the due time is met), else breached past its due time, due soon once the share of its
  budget left falls to the clock's `due_soon` share, else running. A late run's business
  days late (`business_days_late`) count the business days after its due day up to and
  including the day it stopped, or the day of now while it runs.
* `judge` answers both for many runs at once, as columns (`ClockColumns`): the board and the
  sweep judge every open clock of the store that way, with NumPy over the calendar's array
  functions instead of a loop over clocks. A property test holds it to the scalar rules.
  `judge_runs` does the same for runs read as objects (the rows a board shows, an export's page).

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from leadpact.domain.calendar import BusinessCalendar, Instants, instant
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.pact import ClockEvent, ClockStage, Pact

MEETING_CHANNELS = frozenset({"meeting", "web_meeting", "visit"})


class ClockState(StrEnum):
    RUNNING = "running"
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    MET = "met"
    MET_LATE = "met_late"


@dataclass(frozen=True, slots=True)
class ClockRun:
    """One clock running (or run) for one lead, as started under one pact version."""

    lead_id: int
    clock_id: str
    pact_version: int
    started_at: datetime
    due_at: datetime
    responsible: str
    stops: tuple[ClockEvent, ...]
    due_soon: float  # the share of the budget left when the clock turns "due soon"
    stopped_at: datetime | None = None
    stopped_by: ClockEvent | None = None
    id: int | None = None  # the stored row's id, once stored

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None

    @property
    def key(self) -> tuple[int, str, datetime]:
        """What names one run, stored or not: a lead's clock starts once per instant."""
        return self.lead_id, self.clock_id, self.started_at

    def state_at(self, now: datetime) -> ClockState:
        if self.stopped_at is not None:
            return ClockState.MET if self.stopped_at <= self.due_at else ClockState.MET_LATE
        if now > self.due_at:
            return ClockState.BREACHED
        if self.due_at - now <= (self.due_at - self.started_at) * self.due_soon:
            return ClockState.DUE_SOON
        return ClockState.RUNNING

    def business_days_late(self, calendar: BusinessCalendar, now: datetime) -> int:
        """Business days after the due day up to and including the day the run stopped (or of
        `now` while it runs); 0 unless it stopped, or runs, past its due time."""
        end = self.stopped_at or now
        if end <= self.due_at:
            return 0
        return calendar.business_days(calendar.due_day(self.due_at), calendar.local_day(end))


# --- many runs at once ------------------------------------------------------------------------

STATES: tuple[ClockState, ...] = tuple(ClockState)  # a state's code in `Verdicts.state` is its index here
_CODE = {state: np.int8(code) for code, state in enumerate(STATES)}


@dataclass(frozen=True, slots=True)
class ClockColumns:
    """Runs as columns, for `judge`: instants are datetime64[us] (UTC), `stopped_at` is NaT
    while a run runs, and `calendar` is each run's position in the calendars passed along
    (its pact version's calendar)."""

    started_at: Instants
    due_at: Instants
    due_soon: npt.NDArray[np.float64]
    stopped_at: Instants
    calendar: npt.NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.due_at)

    @classmethod
    def of(cls, runs: Sequence[ClockRun], calendar: Sequence[int]) -> ClockColumns:
        """Columns of domain runs; `calendar[i]` is the position of run i's calendar."""

        def instants(values: Iterable[datetime | None]) -> Instants:
            return np.array([instant(v) if v is not None else np.datetime64("NaT") for v in values], "datetime64[us]")

        return cls(
            started_at=instants(r.started_at for r in runs),
            due_at=instants(r.due_at for r in runs),
            due_soon=np.array([r.due_soon for r in runs], dtype=np.float64),
            stopped_at=instants(r.stopped_at for r in runs),
            calendar=np.array(calendar, dtype=np.intp),
        )


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Each run's state (codes into STATES) and business days late, as `judge` found them."""

    state: npt.NDArray[np.int8]
    business_days_late: npt.NDArray[np.int64]

    def state_of(self, i: int) -> ClockState:
        return STATES[int(self.state[i])]

    def having(self, states: Iterable[ClockState]) -> npt.NDArray[np.bool_]:
        """Where the state is one of `states`."""
        return np.isin(self.state, [_CODE[s] for s in states])


def judge(runs: ClockColumns, calendars: Sequence[BusinessCalendar], now: datetime) -> Verdicts:
    """`state_at(now)` and `business_days_late(calendar, now)` of every run, as arrays.

    Due soon compares the time left with the budget's share, which `timedelta * float` rounds
    to a microsecond (half to even). The float product here is within a microsecond of the
    exact one, so it decides every run but those within a microsecond of the line: the scalar
    rule decides those, one at a time (none, or a handful, in a store).
    """
    at = instant(now)
    running = np.isnat(runs.stopped_at)
    end = np.where(running, at, runs.stopped_at)
    late = end > runs.due_at
    left = (runs.due_at - at).astype(np.int64)
    budget = (runs.due_at - runs.started_at).astype(np.int64)
    share = budget * runs.due_soon
    soon = left <= share
    for i in np.flatnonzero(running & ~late & (np.abs(left - share) < 1.0)).tolist():
        soon[i] = timedelta(microseconds=int(left[i])) <= timedelta(microseconds=int(budget[i])) * float(
            runs.due_soon[i]
        )
    state = np.select(
        [~running & late, ~running, late, soon],
        [_CODE[ClockState.MET_LATE], _CODE[ClockState.MET], _CODE[ClockState.BREACHED], _CODE[ClockState.DUE_SOON]],
        _CODE[ClockState.RUNNING],
    ).astype(np.int8)
    days = np.zeros(len(runs), dtype=np.int64)
    for position, calendar in enumerate(calendars):
        rows = np.flatnonzero(late if len(calendars) == 1 else late & (runs.calendar == position))
        days[rows] = calendar.count(calendar.due_days_of(runs.due_at[rows]), calendar.local_days(end[rows]))
    return Verdicts(state=state, business_days_late=days)


def judge_runs(runs: Sequence[ClockRun], calendars: Mapping[int, BusinessCalendar], now: datetime) -> Verdicts:
    """`judge` of domain runs, each on its pact version's calendar (`calendars` by version)."""
    versions = sorted({run.pact_version for run in runs})
    position = {version: i for i, version in enumerate(versions)}
    columns = ClockColumns.of(runs, [position[run.pact_version] for run in runs])
    return judge(columns, [calendars[v] for v in versions], now)


def events_of(entry: LedgerEntry) -> tuple[ClockEvent, ...]:
    """The clock events a ledger entry brings."""
    if entry.kind is EntryKind.TRANSITION:
        try:
            return (ClockEvent(f"entered_{entry.to_stage}"),)
        except ValueError:  # back to `lead`: no clock waits for that
            return ()
    if entry.kind is EntryKind.ASSIGNMENT:
        return (ClockEvent.ASSIGNED,)
    if entry.kind is EntryKind.CONTACT:
        if entry.evidence.get("channel") in MEETING_CHANNELS:
            return (ClockEvent.FIRST_CONTACT, ClockEvent.MEETING_SET)
        return (ClockEvent.FIRST_CONTACT,)
    return ()


def stops(running: Iterable[ClockRun], entry: LedgerEntry) -> list[ClockRun]:
    """The lead's running clocks this entry stops, stopped."""
    brought = events_of(entry)
    stopped = []
    for run in running:
        if run.lead_id != entry.lead_id or not run.is_running or entry.at < run.started_at:
            continue
        event = next((e for e in brought if e in run.stops), None)
        if event is not None:
            stopped.append(replace(run, stopped_at=entry.at, stopped_by=event))
    return stopped


# The stages a lead may be in for a clock of each column of the agreement to start: an
# assignment to a field sales rep at SQL does not start inside sales' first-contact clock.
CLOCK_STAGES = {ClockStage.MQL: frozenset({"mql", "sal"}), ClockStage.SQL: frozenset({"sql"})}


def starts(
    pact: Pact,
    version: int,
    calendar: BusinessCalendar,
    running: Sequence[ClockRun],
    entry: LedgerEntry,
    stage: str,
) -> list[ClockRun]:
    """The clocks of pact `version` this entry starts for its lead (none already running).

    `stage` is the lead's stage once the entry is applied; a clock starts only while the lead
    is in its column's stages (CLOCK_STAGES).
    """
    brought = events_of(entry)
    busy = {run.clock_id for run in running if run.lead_id == entry.lead_id and run.is_running}
    return [
        ClockRun(
            lead_id=entry.lead_id,
            clock_id=clock.id,
            pact_version=version,
            started_at=entry.at,
            due_at=calendar.due(entry.at, clock.deadline),
            responsible=clock.responsible,
            stops=clock.stop,
            due_soon=clock.due_soon,
        )
        for clock in pact.clocks
        if clock.start in brought and clock.id not in busy and stage in CLOCK_STAGES[clock.stage]
    ]


def advance(
    pact: Pact | None,
    version: int,
    calendar: BusinessCalendar | None,
    running: Sequence[ClockRun],
    entries: Iterable[LedgerEntry],
    stages: Mapping[int, str] | None = None,
) -> tuple[list[ClockRun], list[ClockRun]]:
    """Apply ledger entries in order to the running clocks: (clocks started, clocks stopped).

    `stages` holds each lead's stage before the entries (transitions then move it). A clock
    both started and stopped by these entries is among the started ones, stopped. Without a
    pact (none active) clocks only stop.
    """
    stage_of = dict(stages or {})
    # Each lead's clocks apart: an entry only ever touches its own lead's, and scanning every
    # lead's for each entry made a 5,000-lead import batch quadratic (a quarter of its time).
    current: dict[int, dict[tuple[int, str, datetime], ClockRun]] = defaultdict(dict)
    for run in running:
        current[run.lead_id][run.key] = run
    started: dict[tuple[int, str, datetime], ClockRun] = {}
    stopped: dict[tuple[int, str, datetime], ClockRun] = {}
    for entry in entries:
        own = current[entry.lead_id]
        for run in stops(own.values(), entry):
            own[run.key] = run
            (started if run.key in started else stopped)[run.key] = run
        if entry.kind is EntryKind.TRANSITION and entry.to_stage is not None:
            stage_of[entry.lead_id] = entry.to_stage
        stage = stage_of.get(entry.lead_id)
        if pact is not None and calendar is not None and stage is not None:
            for run in starts(pact, version, calendar, list(own.values()), entry, stage):
                own[run.key] = started[run.key] = run
    return list(started.values()), list(stopped.values())


def stopped_later(runs: Iterable[ClockRun], later: Iterable[LedgerEntry]) -> list[ClockRun]:
    """Runs just started that entries already recorded, dated after their start, stop.

    A start event can arrive after its stop (a backfilled assignment, a late webhook): the
    clock still ends at the stop it missed, as if the events had come in order.
    """
    by_lead: dict[int, list[LedgerEntry]] = defaultdict(list)  # each run looks at its own lead's only
    for entry in sorted(later, key=lambda e: e.at):
        by_lead[entry.lead_id].append(entry)
    stopped = []
    for run in runs:
        if not run.is_running:
            continue
        for entry in by_lead.get(run.lead_id, ()):
            found = stops([run], entry)
            if found:
                stopped.append(found[0])
                break
    return stopped
