"""The ledger as columns: the history the shared KPIs are computed over (`domain.kpis`).

KPIs never read a lead's current stage: they read what the ledger says happened. This module
holds that history as NumPy columns, one array per field, so that a KPI over a million leads
is a few vector operations (benchmark W8, docs/benchmarks.md):

* **transitions**: every stage move, leadpact's own and imported ones (history from the MA/CRM
  before leadpact, or kept there since: the KPIs count both, docs/kpis.md);
* **contacts**: the ledger's contact entries (a rep reached the lead);
* **assignments**: who held the lead from when, for grouping by owner and team;
* **runs**: the handoff clocks started for leads, for SLA attainment and neglected leads;
* **leads**: what leads are grouped by that the ledger does not hold (source, campaign,
  segment), by lead id.

Instants are integer microseconds since the epoch (UTC); `NEVER` stands for "not (yet)". Lead
ids index the per-lead arrays directly. `History.of` takes columns in any order (the store's
recorded order), folds the entries of leads merged into another one into their survivor (one
person counts once), and sorts each table by lead, then time, then recorded order.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from leadpact.domain.calendar import EPOCH
from leadpact.domain.clocks import ClockRun
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Stage

Int64s = npt.NDArray[np.int64]
Int8s = npt.NDArray[np.int8]
Bools = npt.NDArray[np.bool_]

NEVER: Final = int(np.iinfo(np.int64).max)  # "not (yet)" in an instant column
STAGES: Final[tuple[Stage, ...]] = tuple(Stage)  # a stage's code is its position here; -1: none
GROUP_FIELDS: Final = ("source", "campaign", "segment")
MICROSECOND: Final = timedelta(microseconds=1)


def stage_code(stage: str | None) -> int:
    """A stage's code in the transition columns (-1 for none or an unknown name)."""
    try:
        return STAGES.index(Stage(stage)) if stage is not None else -1
    except ValueError:
        return -1


def micros(values: Iterable[Any]) -> Int64s:
    """Aware datetimes (or None, for NEVER) as integer microseconds since the epoch."""
    return np.array([NEVER if v is None else (v - EPOCH) // MICROSECOND for v in values], dtype=np.int64)


def gather(values: Int64s, positions: Int64s, missing: int) -> Int64s:
    """`values[positions]`, with `missing` where a position is -1 (and everywhere when `values` is empty)."""
    if len(values) == 0:
        return np.full(len(positions), missing, dtype=np.int64)
    found: Int64s = np.where(positions >= 0, values[np.maximum(positions, 0)], missing)
    return found


@dataclass(frozen=True, slots=True)
class Transitions:
    """Stage moves: lead, instant, from and to stage codes, pact version (0: none), imported."""

    lead: Int64s
    at: Int64s
    frm: Int8s
    to: Int8s
    version: Int64s
    imported: Bools

    def __len__(self) -> int:
        return len(self.lead)


@dataclass(frozen=True, slots=True)
class Contacts:
    """Contact entries: lead, instant, pact version (0: none)."""

    lead: Int64s
    at: Int64s
    version: Int64s

    def __len__(self) -> int:
        return len(self.lead)


@dataclass(frozen=True, slots=True)
class Assignments:
    """Assignment entries: lead, instant, the new owner (a code into `History.owners`; -1: a name no user has)."""

    lead: Int64s
    at: Int64s
    owner: Int64s

    def __len__(self) -> int:
        return len(self.lead)


@dataclass(frozen=True, slots=True)
class Runs:
    """Clock runs: lead, clock and responsible department (codes into `History.clocks` and
    `History.departments`), pact version, started, due and stopped (NEVER while running)."""

    lead: Int64s
    clock: Int64s
    responsible: Int64s
    version: Int64s
    started: Int64s
    due: Int64s
    stopped: Int64s

    def __len__(self) -> int:
        return len(self.lead)


@dataclass(frozen=True, slots=True)
class LeadGroups:
    """Each lead's source, campaign and segment as codes into `values[field]` (-1: none); index: lead id."""

    codes: Mapping[str, Int64s]
    values: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, found: Mapping[str, Mapping[str, Sequence[int] | Int64s]], size: int = 0) -> LeadGroups:
        """From each field's values and the leads having them: `{"source": {"ad": [3, 7], ...}, ...}`."""
        top = max([size - 1] + [int(np.max(ids)) for by in found.values() for ids in by.values() if len(ids)])
        codes: dict[str, Int64s] = {}
        values: dict[str, tuple[str, ...]] = {}
        for name in GROUP_FIELDS:
            column = np.full(top + 1, -1, dtype=np.int64)
            names = tuple(sorted(found.get(name, {})))
            for code, value in enumerate(names):
                column[np.asarray(found[name][value], dtype=np.int64)] = code
            codes[name], values[name] = column, names
        return cls(codes, values)

    @classmethod
    def of_leads(cls, leads: Mapping[int, Mapping[str, str | None]]) -> LeadGroups:
        """From each lead's values: `{3: {"source": "ad", "segment": "size:100-299"}, ...}`."""
        found: dict[str, dict[str, list[int]]] = {name: {} for name in GROUP_FIELDS}
        for lead, values in leads.items():
            for name in GROUP_FIELDS:
                value = values.get(name)
                if value is not None:
                    found[name].setdefault(value, []).append(lead)
        return cls.of(found, size=max(leads, default=-1) + 1)

    def code(self, name: str, leads: Int64s) -> Int64s:
        """The codes of `leads` for one field (-1 for a lead the groups do not know)."""
        column = self.codes[name]
        if not len(column):  # the field was not read, or no lead has it
            return np.full(len(leads), -1, dtype=np.int64)
        inside = leads < len(column)
        return np.where(inside, column[np.where(inside, leads, 0)], -1)


Columns = TypeVar("Columns", Transitions, Contacts, Assignments, Runs)


def take(columns: Columns, index: Any) -> Columns:
    """The rows of `columns` at `index` (positions or a mask), in that order."""
    return type(columns)(**{f.name: getattr(columns, f.name)[index] for f in fields(columns)})


def lead_time_order(lead: Int64s, at: Int64s) -> npt.NDArray[np.intp]:
    """The permutation sorting rows by lead, then instant, keeping the given order among ties.

    Rows come in recorded order, which is nearly time order: a stable sort by time is cheap
    then. The leads are then put in order by a stable radix sort on 16 bits at a time (NumPy
    sorts 16-bit keys by radix, in linear time): a third of a general sort's time on 1.8 M rows.
    """
    n = len(lead)
    order = np.arange(n) if n < 2 or bool(np.all(at[1:] >= at[:-1])) else np.argsort(at, kind="stable")
    if n == 0:
        return order
    if int(lead.min()) < 0:
        return np.lexsort((np.arange(n), at, lead))
    shift, top = 0, int(lead.max())
    while shift == 0 or top >> shift:
        digit = ((lead[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
    return order


@dataclass(frozen=True, slots=True)
class History:
    """What the KPIs read: the ledger's transitions, contacts and assignments sorted by lead and
    time, the clock runs, the leads' groups, and the names the codes stand for."""

    transitions: Transitions
    contacts: Contacts
    assignments: Assignments
    runs: Runs
    leads: LeadGroups
    owners: tuple[str, ...] = ()
    teams: tuple[str | None, ...] = ()  # each owner's department (None: not a user any more)
    clocks: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """One more than the largest lead id: the length of per-lead arrays."""
        tops = [len(self.leads.codes[GROUP_FIELDS[0]]) - 1]
        tops += [int(c.lead.max()) for c in (self.transitions, self.contacts, self.assignments, self.runs) if len(c)]
        return max(tops) + 1

    @classmethod
    def of(
        cls,
        transitions: Transitions,
        contacts: Contacts,
        assignments: Assignments,
        runs: Runs,
        leads: LeadGroups,
        owners: tuple[str, ...] = (),
        teams: tuple[str | None, ...] = (),
        clocks: tuple[str, ...] = (),
        departments: tuple[str, ...] = (),
        merged: Mapping[int, int] | None = None,
    ) -> History:
        """Fold merged leads into their survivors (`merged`: absorbed id → survivor id, undone merges left
        out) and sort each ledger table by lead, then time, then the order given (recorded order)."""
        survivor = _survivors(merged or {})
        transitions, contacts = _folded(transitions, survivor), _folded(contacts, survivor)
        assignments, runs = _folded(assignments, survivor), _folded(runs, survivor)
        return cls(
            transitions=take(transitions, lead_time_order(transitions.lead, transitions.at)),
            contacts=take(contacts, lead_time_order(contacts.lead, contacts.at)),
            assignments=take(assignments, lead_time_order(assignments.lead, assignments.at)),
            runs=runs,
            leads=leads,
            owners=owners,
            teams=teams or tuple(None for _ in owners),
            clocks=clocks,
            departments=departments,
        )

    @classmethod
    def of_entries(
        cls,
        entries: Iterable[LedgerEntry],
        runs: Iterable[ClockRun] = (),
        leads: LeadGroups | None = None,
        teams: Mapping[str, str] | None = None,
        merged: Mapping[int, int] | None = None,
    ) -> History:
        """A history of domain objects, in recorded order (`teams`: each user's department)."""
        kept = list(entries)
        moves = [e for e in kept if e.kind is EntryKind.TRANSITION]
        contacts = [e for e in kept if e.kind is EntryKind.CONTACT]
        assigned = [e for e in kept if e.kind is EntryKind.ASSIGNMENT]
        clock_runs = list(runs)
        owners = tuple(sorted({e.owner for e in assigned if e.owner is not None}))
        clocks = tuple(sorted({r.clock_id for r in clock_runs}))
        departments = tuple(sorted({r.responsible for r in clock_runs}))
        return cls.of(
            Transitions(
                lead=np.array([e.lead_id for e in moves], dtype=np.int64),
                at=micros(e.at for e in moves),
                frm=np.array([stage_code(e.from_stage) for e in moves], dtype=np.int8),
                to=np.array([stage_code(e.to_stage) for e in moves], dtype=np.int8),
                version=np.array([e.pact_version or 0 for e in moves], dtype=np.int64),
                imported=np.array([e.imported for e in moves], dtype=np.bool_),
            ),
            Contacts(
                lead=np.array([e.lead_id for e in contacts], dtype=np.int64),
                at=micros(e.at for e in contacts),
                version=np.array([e.pact_version or 0 for e in contacts], dtype=np.int64),
            ),
            Assignments(
                lead=np.array([e.lead_id for e in assigned], dtype=np.int64),
                at=micros(e.at for e in assigned),
                owner=np.array([owners.index(e.owner) if e.owner else -1 for e in assigned], dtype=np.int64),
            ),
            Runs(
                lead=np.array([r.lead_id for r in clock_runs], dtype=np.int64),
                clock=np.array([clocks.index(r.clock_id) for r in clock_runs], dtype=np.int64),
                responsible=np.array([departments.index(r.responsible) for r in clock_runs], dtype=np.int64),
                version=np.array([r.pact_version for r in clock_runs], dtype=np.int64),
                started=micros(r.started_at for r in clock_runs),
                due=micros(r.due_at for r in clock_runs),
                stopped=micros(r.stopped_at for r in clock_runs),
            ),
            leads if leads is not None else LeadGroups.of({}),
            owners=owners,
            teams=tuple((teams or {}).get(o) for o in owners),
            clocks=clocks,
            departments=departments,
            merged=merged,
        )

    def as_of(self, now: int) -> History:
        """The history as it stood at `now` (µs): later entries and clocks left out, later stops undone."""
        runs = take(self.runs, self.runs.started <= now)
        runs = Runs(
            lead=runs.lead,
            clock=runs.clock,
            responsible=runs.responsible,
            version=runs.version,
            started=runs.started,
            due=runs.due,
            stopped=np.where(runs.stopped <= now, runs.stopped, NEVER),
        )
        return History(
            transitions=take(self.transitions, self.transitions.at <= now),
            contacts=take(self.contacts, self.contacts.at <= now),
            assignments=take(self.assignments, self.assignments.at <= now),
            runs=runs,
            leads=self.leads,
            owners=self.owners,
            teams=self.teams,
            clocks=self.clocks,
            departments=self.departments,
        )


def _survivors(merged: Mapping[int, int]) -> Mapping[int, int]:
    """Each absorbed lead's final survivor (a survivor may itself have been absorbed later)."""
    final = {}
    for absorbed in merged:
        seen, lead = {absorbed}, merged[absorbed]
        while lead in merged and lead not in seen:
            seen.add(lead)
            lead = merged[lead]
        final[absorbed] = lead
    return final


def _folded(columns: Columns, survivor: Mapping[int, int]) -> Columns:
    if not survivor or not len(columns):
        return columns
    absorbed = np.array(sorted(survivor), dtype=np.int64)
    into = np.array([survivor[a] for a in absorbed.tolist()], dtype=np.int64)
    at = np.clip(np.searchsorted(absorbed, columns.lead), 0, len(absorbed) - 1)
    lead = np.where(absorbed[at] == columns.lead, into[at], columns.lead)
    return type(columns)(**{f.name: getattr(columns, f.name) for f in fields(columns)} | {"lead": lead})
