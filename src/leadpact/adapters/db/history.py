"""The ledger read out as columns for the KPIs (`domain.history.History`).

A million transitions cannot leave SQLite as Python tuples in time (about 2 s per million rows
and column); as for the open clocks (docs/benchmarks.md, W7), each column leaves as one text,
`group_concat` on SQLite and `string_agg` on PostgreSQL, that NumPy parses in C. Every column of
one query is aggregated over the same rows in the same order, so they stay aligned; stage names
become small integer codes in the query (`CASE`), and text keys (owners, clocks, departments,
source, campaign) come out as one row per distinct value with the ids that have it.

The ADBC path of the batch scorer is not used: on SQLite it needs a worker process (two copies
of SQLite in one process drop each other's file locks), whose start alone would cost more than
this whole read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Connection, Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from leadpact.adapters.db import tables as t
from leadpact.domain.history import (
    NEVER,
    STAGES,
    Assignments,
    Contacts,
    History,
    Int64s,
    LeadGroups,
    Runs,
    Transitions,
)
from leadpact.domain.kpis import segment_of
from leadpact.domain.ledger import EntryKind


class HistoryColumns:
    """Reads the whole ledger history the KPIs need, in the unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def read(self) -> History:
        users = {row.name: row.department for row in self.c.execute(select(t.users.c.name, t.users.c.department))}
        owners = tuple(sorted(users))
        assignments = self._assignments(owners)
        runs, clocks, departments = self._runs()
        merges = select(t.identity_merges.c.absorbed_id, t.identity_merges.c.survivor_id).where(
            t.identity_merges.c.undone_at.is_(None)
        )
        return History.of(
            self._transitions(),
            self._contacts(),
            assignments,
            runs,
            self._groups(),
            owners=owners,
            teams=tuple(users[o] for o in owners),
            clocks=clocks,
            departments=departments,
            merged={int(a): int(s) for a, s in self.c.execute(merges)},
        )

    def _joined(self, column: Any, order: Any) -> Any:
        if self.c.dialect.name == "postgresql":
            return func.string_agg(cast(column, Text), aggregate_order_by(literal(","), order))
        return func.group_concat(column)

    def _columns(self, query: Any, columns: Sequence[Any], order: Any) -> list[Int64s]:
        """`columns` of the rows `query` selects, each as an int64 array, in one statement."""
        row = self.c.execute(query.with_only_columns(*(self._joined(c, order) for c in columns))).one()
        return [_parsed(text) for text in row]

    def _grouped(self, query: Any, key: Any, columns: Sequence[Any], order: Any) -> list[tuple[Any, list[Int64s]]]:
        """Per distinct `key`, `columns` of its rows as int64 arrays."""
        selected = query.with_only_columns(key, *(self._joined(c, order) for c in columns)).group_by(key)
        return [(row[0], [_parsed(text) for text in row[1:]]) for row in self.c.execute(selected)]

    def _transitions(self) -> Transitions:
        e = t.ledger_entries.c
        codes = {stage.value: i for i, stage in enumerate(STAGES)}
        # from, to and imported packed in one integer: (from + 1) · 16 + (to + 1), + 256 when imported
        frm = case(codes, value=e.from_stage, else_=-1) + 1
        to = case(codes, value=e.to_stage, else_=-1) + 1
        packed = frm * 16 + to + case((e.imported, 256), else_=0)
        query = select(e.seq).where(e.kind == EntryKind.TRANSITION.value)
        seq, lead, at, code, version = self._columns(
            query, [e.seq, e.lead_id, _integer(e.at), packed, func.coalesce(e.pact_version, 0)], e.seq
        )
        order = _recorded(seq)
        code = code[order]
        return Transitions(
            lead=lead[order],
            at=at[order],
            frm=((code >> 4 & 15) - 1).astype(np.int8),
            to=((code & 15) - 1).astype(np.int8),
            version=version[order],
            imported=(code & 256) > 0,
        )

    def _contacts(self) -> Contacts:
        e = t.ledger_entries.c
        query = select(e.seq).where(e.kind == EntryKind.CONTACT.value)
        seq, lead, at, version = self._columns(
            query, [e.seq, e.lead_id, _integer(e.at), func.coalesce(e.pact_version, 0)], e.seq
        )
        order = _recorded(seq)
        return Contacts(lead=lead[order], at=at[order], version=version[order])

    def _assignments(self, owners: tuple[str, ...]) -> Assignments:
        e = t.ledger_entries.c
        query = select(e.seq).where(e.kind == EntryKind.ASSIGNMENT.value)
        parts = self._grouped(query, e.owner, [e.seq, e.lead_id, _integer(e.at)], e.seq)
        code = {name: i for i, name in enumerate(owners)}
        seq, lead, at, owner = _stacked(
            [(seq, lead, at, np.full(len(seq), code.get(name, -1), dtype=np.int64)) for name, (seq, lead, at) in parts]
        )
        order = _recorded(seq)
        return Assignments(lead=lead[order], at=at[order], owner=owner[order])

    def _runs(self) -> tuple[Runs, tuple[str, ...], tuple[str, ...]]:
        c = t.clocks.c
        key = func.coalesce(c.clock_id, "") + literal("\x1f") + c.responsible  # one grouping key for both texts
        stopped = func.coalesce(_integer(c.stopped_at), literal(NEVER, BigInteger()))
        columns = [c.lead_id, c.pact_version, _integer(c.started_at), _integer(c.due_at), stopped]
        parts = [(name.split("\x1f", 1), arrays) for name, arrays in self._grouped(select(c.id), key, columns, c.id)]
        clocks = tuple(sorted({clock for (clock, _), _ in parts}))
        departments = tuple(sorted({department for (_, department), _ in parts}))
        lead, version, started, due, stop, clock, responsible = _stacked(
            [
                (
                    *arrays,
                    np.full(len(arrays[0]), clocks.index(clock), dtype=np.int64),
                    np.full(len(arrays[0]), departments.index(department), dtype=np.int64),
                )
                for (clock, department), arrays in parts
            ],
            width=7,
        )
        runs = Runs(lead, clock, responsible, version, started, due, stop)
        return runs, clocks, departments

    def _groups(self) -> LeadGroups:
        """Each lead's source and campaign attributes, and its segment (`domain.kpis.segment_of`)."""
        c = t.leads.c
        found: dict[str, dict[str, Int64s]] = {}
        for name in ("source", "campaign"):
            value = c.attributes[name].as_string()
            parts = self._grouped(select(c.id).where(value.is_not(None)), value, [c.id], c.id)
            found[name] = {str(v): ids for v, (ids,) in parts if str(v).strip()}
        segment, employees = c.attributes["segment"].as_string(), c.attributes["employees"].as_string()
        pairs = select(segment, employees, self._joined(c.id, c.id)).group_by(segment, employees)
        segments: dict[str, list[Int64s]] = {}
        for seg, size, text in self.c.execute(pairs):
            named = segment_of({"segment": seg, "employees": _number(size)})
            if named is not None:
                segments.setdefault(named, []).append(_parsed(text))
        found["segment"] = {name: np.concatenate(parts) for name, parts in segments.items()}
        return LeadGroups.of(found)


def _integer(column: Any) -> Any:
    """An instant column as its stored integer (microseconds), not as a datetime."""
    return cast(column, BigInteger())


def _parsed(text: str | None) -> Int64s:
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


def _recorded(seq: Int64s) -> Int64s:
    """The permutation putting rows in recorded (seq) order: the tie-break among entries of one instant."""
    if len(seq) < 2 or bool(np.all(seq[1:] > seq[:-1])):
        return np.arange(len(seq))
    found: Int64s = np.argsort(seq, kind="stable")
    return found


def _stacked(parts: Iterable[tuple[Int64s, ...]], width: int = 4) -> list[Int64s]:
    """Columns of several groups, one after the other."""
    listed = list(parts)
    if not listed:
        return [np.zeros(0, dtype=np.int64) for _ in range(width)]
    return [np.concatenate([p[i] for p in listed]) for i in range(width)]


def _number(value: Any) -> float | None:
    """An attribute read as text (PostgreSQL) or as stored (SQLite), as a number if it is one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
