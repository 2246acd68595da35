"""Batch scoring: every lead's score state rebuilt at once from a columnar snapshot of the store,
and the same engine folding a batch of new activities onto stored states.

The full rebuild (after a pact change, or `leadpact rescore`) computes what
`leadpact.domain.scoring` defines, per lead and per behaviour rule: the raw value referenced to
`as_of` (the newest activity that hit any rule, as `ScoreState.fold` sets it), the match count,
the activity types done among those the pact scores, and the behaviour, attribute and total
scores at `as_of` and at a given instant. The incremental rescore (`services.rescore`) runs the
same `RowClassifier.fold` from the stored states. `tests/integration/test_batch_scoring.py`
holds the two paths equal to each other and the unit tests hold them to the domain.

How, and why that way:

* Rows leave the store as Arrow through ADBC (`ArrowStore.read_snapshot`), never `fetchall`:
  moving rows out of SQLite is the measured bottleneck, so on SQLite activities are read in id
  ranges over one connection per core. JSON columns come out as text (for activities, only on
  rows of a type some glob applies to) and DuckDB extracts the members the pact's rules read,
  once per distinct document. Each member stays JSON text, so it decodes in Python to the
  value the incremental path sees.
* Rule predicates (property globs, attribute conditions) are the domain's own Python functions,
  run once per *distinct* value of a dictionary-encoded column and mapped back onto the rows:
  the same answers as the incremental path, at the cost of the distinct values, not the rows.
* The per-lead reduction is NumPy over blocks of rows: `maximum.at` for `as_of`, and one
  `add.at` into a complex cell per (rule, lead) holding the decayed sum and the count, with
  weights against the newest activity so that one pass suffices (`RowClassifier.fold`). In
  DuckDB 2.0 the same reduction (a GROUP BY lead with one filtered aggregate per rule, or a
  GROUP BY (lead, class)) took 0.75–1.5 s for 10 M rows on the 2-core reference machine; the
  DuckDB SQL baseline of W1 shows the whole difference (docs/benchmarks.md).
* Write-back replaces every `lead_scores` row in the read's transaction (`ArrowStore`): the
  states as fixed-width records (`adapters/db/score_state.py`), appended straight from Arrow.
* On SQLite all of that runs in a worker process (`worker.rescore_in_store`). The ADBC driver links its
  own copy of SQLite, and two copies of SQLite in one process release each other's POSIX file
  locks (sqlite.org/howtocorrupt.html, section 2.2.1): measured here, closing an ADBC connection
  while the application's pysqlite connection was open deleted the WAL under it, and the next
  reader missed a committed transaction. A process that never opens the file otherwise is safe.

Must not import: leadpact.services, the entry points, or leadpact.adapters.db.store (this module
reads and writes through ADBC, never through SQLAlchemy connections).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import make_url

from leadpact.adapters.analytics.worker import BatchRun
from leadpact.adapters.db.score_state import NO_INSTANT, StateLayout, StateMatrix
from leadpact.adapters.db.tables import to_micros
from leadpact.domain.pact import BehaviourRule, Pact
from leadpact.domain.scoring import SECONDS_PER_DAY, condition_verdicts, property_matches

MICROS_PER_SECOND = 1_000_000.0

Int64s = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]  # row positions and dictionary codes: half the memory of int64
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

# Above this many (type, glob-verdict) combinations the class lookup table is built from the
# combinations that occur (a sort) instead of from all possible ones.
MAX_CLASS_TABLE = 1 << 20
FULL_CLASS_TABLE = 1 << 12  # up to this many combinations, every one is classified up front


@dataclass(frozen=True, slots=True)
class SnapshotLayout:
    """The columns a snapshot carries for one pact: one per property a glob reads, one per field a condition reads.

    Activity property `properties[i]` is column `p{i}`; lead attribute `fields[i]` is column `f{i}`.
    Both hold the value as JSON text (null or "" when absent), so numbers, booleans and strings
    decode exactly as the store's JSON columns do.
    """

    properties: tuple[str, ...]
    fields: tuple[str, ...]

    @classmethod
    def of(cls, pact: Pact) -> SnapshotLayout:
        properties = sorted({r.match.property for r in pact.scoring.behaviour if r.match is not None})
        fields = sorted({r.field for r in pact.scoring.attributes})
        return cls(tuple(properties), tuple(fields))

    def property_column(self, name: str) -> str:
        return f"p{self.properties.index(name)}"

    def field_column(self, name: str) -> str:
        return f"f{self.fields.index(name)}"

    def activity_schema(self) -> pa.Schema:
        base = [("lead_id", pa.int64()), ("type", TEXT), ("occurred_at", pa.int64())]
        return pa.schema(base + [(f"p{i}", TEXT) for i in range(len(self.properties))])

    def lead_schema(self) -> pa.Schema:
        return pa.schema([("lead_id", pa.int64())] + [(f"f{i}", TEXT) for i in range(len(self.fields))])


TEXT = pa.dictionary(pa.int32(), pa.string())  # low-cardinality text: types, JSON members


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What batch scoring reads: activity rows and lead rows, as Arrow tables in the layout's schema.

    `activities`: lead_id, type, occurred_at (integer microseconds since the epoch, UTC), p0...
    `leads`: lead_id, f0... (the attributes scoring sees, `email_domain` already derived from the
    address). Text columns are dictionary-encoded, as columnar stores keep them: rules are judged
    once per distinct value. Every lead to be scored is a row of `leads`, with or without
    activities; every activity's lead must be among them.
    """

    layout: SnapshotLayout
    activities: pa.Table
    leads: pa.Table

    @classmethod
    def of(cls, layout: SnapshotLayout, activities: pa.Table, leads: pa.Table) -> Snapshot:
        """Conform both tables to the layout's schema: ids as int64, text dictionary-encoded.

        `leads` may carry an `email` column: where an address has an "@", the text after the last
        one replaces the `email_domain` field, as `scoring_attributes` does for one lead.
        """
        if "email" in leads.column_names:
            leads = _derive_email_domain(layout, leads)
        return cls(layout, _conform(activities, layout.activity_schema()), _conform(leads, layout.lead_schema()))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"snapshot table lacks columns {missing}")
    columns = []
    for field in schema:
        column = table.column(field.name)
        if column.type == field.type:
            pass
        elif pa.types.is_dictionary(field.type):
            if pa.types.is_dictionary(column.type):
                column = column.cast(pa.dictionary(pa.int32(), column.type.value_type))
            else:
                column = pc.dictionary_encode(column.cast(pa.string()))
            if column.type != field.type:
                column = column.cast(field.type)
        else:
            column = column.cast(field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _derive_email_domain(layout: SnapshotLayout, leads: pa.Table) -> pa.Table:
    emails = leads.column("email")
    leads = leads.drop_columns(["email"])
    if "email_domain" not in layout.fields:
        return leads
    name = layout.field_column("email_domain")
    address = pc.fill_null(emails.cast(pa.string()).combine_chunks(), "")
    # Split once at the last "@" (like str.rsplit("@", 1)); the domain is each list's last part.
    parts = pc.split_pattern(address, "@", max_splits=1, reverse=True)
    domain = parts.flatten().take(pa.array(np.asarray(parts.offsets)[1:] - 1))
    # As JSON text like the stored members: quoted, with backslashes and quotes escaped (the
    # decoder reads it with strict=False, so no other character needs escaping).
    escaped = pc.replace_substring(pc.replace_substring(domain, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    if name in leads.column_names:
        stored = leads.column(name).cast(pa.string()).combine_chunks()
        leads = leads.drop_columns([name])
    else:
        stored = pa.nulls(leads.num_rows, pa.string())
    return leads.append_column(name, pc.if_else(pc.match_substring(address, "@"), quoted, stored))


@dataclass(frozen=True, slots=True)
class BatchScores:
    """One row per lead of the snapshot, in its order (NumPy columns).

    as_of: microseconds, NO_INSTANT when no activity hit a rule; behaviour, attributes and total
    at as_of (what lead_scores stores); total_at, the total at `at` (decayed on from as_of,
    never extrapolated before it); states: raw value (referenced to as_of), match count and
    actions per lead, in the pact's rule and action-type order (`StateLayout`).
    """

    layout: StateLayout
    at: int
    lead_id: Int64s
    as_of: Int64s
    behaviour: Floats
    attributes: Floats
    total: Floats
    total_at: Floats
    states: StateMatrix

    @property
    def leads(self) -> int:
        return len(self.lead_id)

    @property
    def leads_with_activity(self) -> int:
        """Leads that have done at least one activity the pact scores."""
        return int(self.states.actions.any(axis=1).sum())

    @property
    def table(self) -> pa.Table:
        """The same as an Arrow table (for reading and tests): `raw_<rule>`, `matches_<rule>`, sorted `actions`."""
        has_as_of = self.as_of != NO_INSTANT
        columns: dict[str, Any] = {
            "lead_id": pa.array(self.lead_id),
            "as_of": pa.array(self.as_of, mask=~has_as_of),
            "behaviour": pa.array(self.behaviour),
            "attributes": pa.array(self.attributes),
            "total": pa.array(self.total),
            "total_at": pa.array(self.total_at),
            "actions": pa.array(
                [
                    [a for a, done in zip(self.layout.action_types, row, strict=True) if done]
                    for row in self.states.actions.tolist()
                ],
                type=pa.list_(pa.string()),
            ),
        }
        for r, rule_id in enumerate(self.layout.rule_ids):
            columns[raw_column(rule_id)] = pa.array(np.ascontiguousarray(self.states.raw[:, r]))
            columns[matches_column(rule_id)] = pa.array(self.states.matches[:, r].astype(np.int64))
        return pa.table(columns)


def raw_column(rule_id: str) -> str:
    return f"raw_{rule_id}"


def matches_column(rule_id: str) -> str:
    return f"matches_{rule_id}"


def score_snapshot(snapshot: Snapshot, pact: Pact, at: datetime) -> BatchScores:
    """Score every lead of `snapshot` under `pact`; totals at each lead's as_of and at `at`. No IO."""
    if snapshot.layout != SnapshotLayout.of(pact):
        raise ValueError("the snapshot was not read for this pact (its property/attribute columns differ)")
    leads = snapshot.leads
    lead_ids = _int64s(leads.column("lead_id"))
    classifier = RowClassifier(pact)
    positions = _Positions(lead_ids)
    # Classified as the fold takes them, so each block's arrays are still in cache.
    blocks = (classifier.block(batch, positions) for batch in snapshot.activities.to_batches(max_chunksize=BLOCK_ROWS))
    as_of, states = classifier.fold(len(lead_ids), blocks, _span(snapshot.activities.column("occurred_at")))
    return classifier.totals(lead_ids, as_of, states, _attribute_points(pact, snapshot.layout, leads), to_micros(at))


# JSON members decode with control characters allowed (the derived e-mail domain escapes only
# quotes and backslashes); one decoder, as json.loads(strict=False) builds one per call.
_JSON = json.JSONDecoder(strict=False)
BLOCK_ROWS = 1 << 18  # rows handled at once: their temporaries stay in cache and are reused
# Largest decay exponent (in powers of 2) a weight may take before it could lose precision to
# underflow: float64 goes subnormal below 2 ** -1022.
MAX_EXPONENT = 960.0


def _span(occurred: pa.ChunkedArray) -> tuple[int, int]:
    """Oldest and newest instant of an occurred_at column (0, 0 when empty)."""
    extremes = pc.min_max(occurred)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    return (0, 0) if low is None else (int(low), int(high))


def _int64s(column: pa.ChunkedArray | pa.Array) -> Int64s:
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if any(chunk.null_count for chunk in chunks):
        raise ValueError("id and instant columns must not hold nulls")
    if not chunks:
        return np.empty(0, dtype=np.int64)
    if len(chunks) == 1:
        return np.asarray(chunks[0].to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.concatenate([np.asarray(chunk.to_numpy(zero_copy_only=False), dtype=np.int64) for chunk in chunks])


class _Positions:
    """Finds each activity's lead: its row in the snapshot's leads (whose ids are unique)."""

    def __init__(self, keys: Int64s) -> None:
        self.keys, self.table, self.base, self.dense, self.in_order = keys, None, 0, False, False
        if len(keys) == 0:
            return
        low, high = int(keys.min()), int(keys.max())
        # Ids are usually dense (autoincrement), so a lookup table beats a binary search by far.
        if high - low < 4 * len(keys) + (1 << 20):
            self.base = 0 if 0 <= low < (1 << 20) else low  # ids near 0: index by id, no subtraction
            table = np.full(high - self.base + 1, -1, dtype=np.int32)
            table[keys - self.base] = np.arange(len(keys), dtype=np.int32)
            found = int(np.count_nonzero(table >= 0))
            if found != len(keys):
                raise ValueError("lead ids in the snapshot are not unique")
            self.table = table
            # No holes between the smallest and the largest id: an id inside that range is known.
            self.dense, self.low = found == high - low + 1, low
            # Leads in id order without holes (as the store reads them): a position is id - low.
            self.in_order = self.dense and bool((keys[1:] > keys[:-1]).all())
        else:
            self.order = np.argsort(keys, kind="stable")
            self.ordered = keys[self.order]
            if (np.diff(self.ordered) == 0).any():
                raise ValueError("lead ids in the snapshot are not unique")

    def __call__(self, wanted: Int64s) -> Codes:
        if len(self.keys) == 0:
            found = np.full(len(wanted), -1, dtype=np.int32)
        elif self.table is not None:
            table, base = self.table, self.base
            low, high = (int(wanted.min()), int(wanted.max())) if len(wanted) else (base, base)
            if self.in_order and low >= self.low and high - base < len(table):
                # int32 arithmetic wraps alike on both sides, and the difference fits: exact.
                return np.subtract(wanted, self.low, dtype=np.int32, casting="unsafe")
            if low >= base and high - base < len(table):
                found = table[wanted - base if base else wanted]
                if self.dense and low >= self.low:
                    return found  # every id in range is a lead's
            else:
                found = np.full(len(wanted), -1, dtype=np.int32)
                inside = (wanted >= base) & (wanted - base < len(table))
                found[inside] = table[wanted[inside] - base]
        else:
            at = np.minimum(np.searchsorted(self.ordered, wanted), len(self.keys) - 1)
            found = np.where(self.ordered[at] == wanted, self.order[at], -1).astype(np.int32)
        if len(found) and int(found.min()) < 0:
            raise ValueError(f"{int((found < 0).sum())} activities belong to leads that are not in the snapshot")
        return found


@dataclass(frozen=True, slots=True)
class _Block:
    """A slice of activity rows of types the pact scores, reduced to what the fold needs."""

    lead: Codes  # the row's lead: its position among the fold's leads
    slot: Codes  # the row's class + 1 (never 0: rows of types the pact does not score are dropped)
    at: Int64s


# A type with more globbed rules than this has its rules folded one column each (see _columns).
MAX_GLOBS_PER_TYPE = 3


def _by_half_life(rules: Sequence[BehaviourRule], hits: Sequence[int]) -> list[tuple[int, ...]]:
    """`hits` (rule indices) grouped by half-life, in rule order: rules of a group decay alike."""
    groups: dict[float, list[int]] = {}
    for i in hits:
        groups.setdefault(_half_life(rules[i]), []).append(i)
    return [tuple(group) for group in groups.values()]


def _columns(rules: Sequence[BehaviourRule]) -> list[tuple[int, ...]]:
    """The fold's columns: each a set of rules that rows add to together, with one half-life.

    A row hitting several rules of one half-life (a pricing page view is also a page view) adds
    its weight once, to the column of exactly that set; a rule's value is then the sum of the
    columns holding it. The sets are every one the pact allows (per type: its unglobbed rules
    plus any subset of its globbed ones). Where that would be many, each rule is its own column
    and a row adds to each rule it hits.
    """
    one_each: list[tuple[int, ...]] = [(i,) for i in range(len(rules))]
    by_type: dict[str, tuple[list[int], list[int]]] = {}
    for i, rule in enumerate(rules):
        plain, globbed = by_type.setdefault(rule.activity, ([], []))
        (globbed if rule.match is not None else plain).append(i)
    columns: list[tuple[int, ...]] = []
    for plain, globbed in by_type.values():
        if len(globbed) > MAX_GLOBS_PER_TYPE:
            return one_each
        for subset in range(1 << len(globbed)):
            hits = sorted(plain + [g for bit, g in enumerate(globbed) if subset >> bit & 1])
            columns.extend(g for g in _by_half_life(rules, hits) if g not in columns)
    return columns if len(columns) <= 2 * len(rules) else one_each


class RowClassifier:
    """Sorts activity rows into classes, then folds them per lead: the engine of both batch paths.

    A class is an activity type the pact scores together with the set of rules a row of it hits
    (decided by the glob verdicts on its properties); rows of types the pact does not score are
    dropped as they are classified. Verdicts are the domain's `property_matches`, run once per
    distinct property value. The per-lead reduction is NumPy: `maximum.at` for as_of, then
    counts and decayed sums with `add.at` into one cell per lead and column (see `_columns`),
    block by block so every temporary stays small (on the reference VM, first touches of fresh
    memory cost more than the arithmetic).
    """

    def __init__(self, pact: Pact) -> None:
        self.layout = StateLayout.of(pact)
        self.rules = pact.scoring.behaviour
        self.snapshot_layout = SnapshotLayout.of(pact)
        self.globbed = [i for i, r in enumerate(self.rules) if r.match is not None]
        self.columns = _columns(self.rules)
        self._column_of = {column: c for c, column in enumerate(self.columns)}
        self.feeds = [[c for c, column in enumerate(self.columns) if r in column] for r in range(len(self.rules))]
        self._slots: dict[tuple[str, int], int] = {}
        self.slot_type: list[int] = [-1]  # action index per slot (slot 0: types the pact does not score)
        self.class_columns: list[tuple[int, ...]] = []  # the columns each class (slot - 1) adds to
        self._verdicts: dict[int, dict[str | None, bool]] = {}  # per globbed rule: JSON text -> verdict
        self._last_bits: dict[int, tuple[pa.Array, Codes]] = {}
        self._fold_tables: _FoldTables | None = None
        self._tables_by_types: dict[tuple[str, ...], Codes] = {}

    @property
    def slots(self) -> int:
        """Slot 0 (rows of types the pact does not score), then one per class seen so far."""
        return len(self.class_columns) + 1

    def _slot(self, type_name: str, bits: int) -> int:
        """Where a row of this type with these glob verdicts is counted: its class + 1, or 0 (not scored)."""
        key = (type_name, bits)
        found = self._slots.get(key)
        if found is None:
            if type_name not in self.layout.action_types:
                found = 0
            else:
                hits = [
                    i
                    for i, rule in enumerate(self.rules)
                    if rule.activity == type_name and (rule.match is None or (bits >> self.globbed.index(i)) & 1)
                ]
                columns: list[int] = []
                for group in _by_half_life(self.rules, hits):
                    # With one column per rule (see _columns), a group of several is split up.
                    singles = [group] if group in self._column_of else [(i,) for i in group]
                    columns.extend(self._column_of[g] for g in singles)
                self.class_columns.append(tuple(columns))
                found = len(self.class_columns)
                self.slot_type.append(self.layout.action_types.index(type_name))
            self._slots[key] = found
        return found

    def _bits(self, dictionary: pa.Array, bit: int, rule_index: int) -> Codes:
        """Rule `rule_index`'s verdict per code of a property column's dictionary, shifted to `bit`.

        Record batches of one snapshot usually share their dictionary: the last one is remembered.
        """
        last = self._last_bits.get(rule_index)
        if last is not None and (last[0] is dictionary or last[0].equals(dictionary)):
            return last[1] << bit
        out = self._verdict_codes(dictionary.to_pylist(), rule_index)
        self._last_bits[rule_index] = (dictionary, out)
        return out << bit

    def _verdict_codes(self, values: list[Any], rule_index: int) -> Codes:
        rule = self.rules[rule_index]
        known = self._verdicts.setdefault(rule_index, {})
        return _per_value(values, known, lambda values: [property_matches(rule, v) for v in values]).astype(np.int32)

    def block(self, batch: pa.RecordBatch, positions: Callable[[Int64s], Codes]) -> _Block:
        """The rows of one record batch of a snapshot's activities, classified."""
        types = batch.column("type")
        type_names: list[str] = types.dictionary.to_pylist()
        type_codes = _codes(types)
        if not self.globbed:
            table = np.array([self._slot(t, 0) for t in type_names], dtype=np.int32)
            slot = table[type_codes]
        else:
            width = len(self.globbed)
            keys = type_codes << width
            for bit, i in enumerate(self.globbed):
                match = self.rules[i].match
                assert match is not None
                column = batch.column(self.snapshot_layout.property_column(match.property))
                keys |= self._bits(column.dictionary, bit, i)[_codes(column, null=True)]
            # Each (type, verdicts) combination mapped to its slot once: every combination when
            # there are few (the table is then the same for every block of the snapshot), else
            # those that occur.
            combinations = len(type_names) << width
            if combinations <= FULL_CLASS_TABLE:
                table = self._combination_table(tuple(type_names), width)
            elif combinations <= MAX_CLASS_TABLE:
                combos = np.flatnonzero(np.bincount(keys, minlength=combinations))
                table = np.zeros(combinations, dtype=np.int32)
                table[combos] = self._slots_of(type_names, width, combos.tolist())
            else:
                combos, keys = np.unique(keys, return_inverse=True)
                table = np.array(self._slots_of(type_names, width, combos.tolist()), dtype=np.int32)
            slot = table[keys]
        # Only rows of types the pact scores go on; Arrow's filter is branch-free, NumPy's is not.
        scored = slot != 0
        if scored.all():
            return _Block(positions(_int64s(batch.column("lead_id"))), slot, _int64s(batch.column("occurred_at")))
        mask = pa.array(scored)
        kept = pa.RecordBatch.from_arrays(
            [batch.column("lead_id"), batch.column("occurred_at"), pa.array(slot)], names=["lead", "at", "slot"]
        ).filter(mask)
        return _Block(positions(_int64s(kept.column(0))), _codes_of(kept.column(2)), _int64s(kept.column(1)))

    def _slots_of(self, type_names: Sequence[str], width: int, keys: list[int]) -> list[int]:
        """The slot of each combination key: the type code above `width` bits of glob verdicts."""
        mask = (1 << width) - 1
        return [self._slot(type_names[k >> width], k & mask) for k in keys]

    def _combination_table(self, type_names: tuple[str, ...], width: int) -> Codes:
        found = self._tables_by_types.get(type_names)
        if found is None:
            every = list(range(len(type_names) << width))
            found = self._tables_by_types[type_names] = np.array(self._slots_of(type_names, width, every), np.int32)
        return found

    def rows_block(self, lead: Codes, types: Sequence[str], properties: Sequence[Any], at: Int64s) -> _Block:
        """Rows given as Python values (the incremental path's few thousand), classified once per
        distinct (type, globbed property values). `properties`: mappings, their JSON text, or None."""
        names = [self.rules[i].match.property for i in self.globbed]  # type: ignore[union-attr]
        found = [_mapping(p) for p in properties] if names else []
        values = [tuple(p.get(name) for name in names) for p in found] if names else [()] * len(types)
        keys: list[Any] = list(zip(types, values, strict=True))
        originals: dict[Any, tuple[Any, ...]] | None = None
        try:
            slots = dict.fromkeys(keys, 0)
        except TypeError:  # a list or object property: key it by its JSON text, judge the value
            originals, hashed = {}, []
            for kind, row_values in keys:
                key = (kind, tuple(map(_hashable, row_values)))
                originals.setdefault(key, row_values)
                hashed.append(key)
            keys, slots = hashed, dict.fromkeys(hashed, 0)
        for key in slots:
            kind, judged = key[0], key[1] if originals is None else originals[key]
            bits = 0
            for bit, i in enumerate(self.globbed):
                rule = self.rules[i]
                if rule.activity == kind and property_matches(rule, judged[bit]):
                    bits |= 1 << bit
            slots[key] = self._slot(kind, bits)
        slot = np.array([slots[key] for key in keys], dtype=np.int32)
        keep = np.flatnonzero(slot)  # rows of types the pact does not score count for nothing
        return _Block(lead[keep], slot[keep], at[keep])

    def fold(
        self, leads: int, blocks: Iterable[_Block], span: tuple[int, int], carry: Carry | None = None
    ) -> tuple[Int64s, StateMatrix]:
        """Each lead's as_of and state after folding in the blocks' rows (onto `carry`, if given).

        as_of is the newest row that hits a rule (or the carried one, if newer); each rule's raw
        value is the sum of its points decayed to as_of, plus the carried raw decayed from the
        carried as_of. Rows may come in any order. `span` is (oldest, newest) occurred_at of
        the rows.

        as_of comes first, in a pass of its own (interleaved with the sums, its array lost its
        cache lines to theirs). Then one pass adds counts and decayed sums together (the
        imaginary and real parts of one complex cell per lead and column: one random memory
        access instead of two). Decay composes, so each row's weight is taken relative to the
        newest row (`span[1]`) and each lead's sums are scaled to its own as_of at the end;
        where a half-life is so short against the span that such a weight could underflow,
        the weights are taken relative to each lead's as_of instead.
        """
        rules, columns = self.layout.rules, len(self.columns)
        newest = span[1]
        against_newest = all(abs(_per_micro(_half_life(r))) * (span[1] - span[0]) < MAX_EXPONENT for r in self.rules)
        as_of = np.full(leads, NO_INSTANT, dtype=np.int64) if carry is None else carry.as_of.copy()
        # One cell per column and lead, column-major: each column's leads are contiguous.
        cells = np.zeros(columns * leads, dtype=np.complex128)
        actions = np.zeros((self.layout.actions, leads), dtype=np.bool_)  # type-major too
        rows = [self._hitting(block, leads, actions) for block in blocks]
        for block in rows:
            np.maximum.at(as_of, block.lead, block.at)
        # (decayed weight, count 1) per row; the prefix of one buffer serves every block.
        buffer = np.empty(max((len(block.lead) for block in rows), default=0), dtype=np.complex128)
        buffer.imag = 1.0
        for block in rows:
            # Blocks may be classified as they come: the tables grow with the classes seen.
            tables = self._tables(leads)
            lead, slot, at = block.lead, block.slot, block.at
            for depth, (cell_of, per_micro) in enumerate(tables.layers):
                if depth:  # a row adding to several columns (rules of different half-lives): rare
                    more = np.flatnonzero(cell_of[slot] >= 0)
                    lead, slot, at = lead[more], slot[more], at[more]
                key = cell_of[slot]
                key += lead
                weights = buffer[: len(key)]
                # 2 ** ((reference - at) × minus 1 / (µs per day × half-life)): the weight's decay.
                lag = np.subtract(newest if against_newest else as_of[lead], at, dtype=np.float64)
                lag *= per_micro[slot]
                np.exp2(lag, out=weights.real)
                np.add.at(cells, key, weights)
        sums, counts = cells.real.reshape(columns, leads), cells.imag.reshape(columns, leads)
        raw, matches = np.empty((rules, leads)), np.empty((rules, leads))
        # Back from the reference to each lead's as_of: a factor ≥ 1 per half-life.
        ahead = (np.where(as_of != NO_INSTANT, as_of, newest) - newest).astype(np.float64) if against_newest else None
        factors: dict[float, Floats] = {}
        for r, rule in enumerate(self.rules):
            feeds = self.feeds[r]
            if not feeds:
                raw[r], matches[r] = 0.0, 0.0
                continue
            np.multiply(sums[feeds[0]], rule.points, out=raw[r])
            np.copyto(matches[r], counts[feeds[0]])
            for c in feeds[1:]:
                raw[r] += sums[c] * rule.points
                matches[r] += counts[c]
            if ahead is not None and rule.half_life_days is not None:
                factor = factors.get(rule.half_life_days)
                if factor is None:
                    factor = factors[rule.half_life_days] = np.exp2(ahead * _per_micro(rule.half_life_days))
                raw[r] *= factor
        for c, column in enumerate(self.columns):
            actions[self.layout.action_types.index(self.rules[column[0]].activity)] |= counts[c] > 0
        raw, matches, actions = raw.T, matches.T, actions.T  # (leads, rules) and (leads, types) views
        if carry is not None:
            before = carry.as_of != NO_INSTANT
            shift = np.where(before, as_of - np.where(before, carry.as_of, 0), 0).astype(np.float64)
            for r, rule in enumerate(self.rules):
                raw[:, r] += carry.states.raw[:, r] * np.exp2(shift * _per_micro(_half_life(rule)))
            matches += carry.states.matches
            actions |= carry.states.actions
        return as_of, StateMatrix(raw, matches, actions)

    def _hitting(self, block: _Block, leads: int, actions: Bools) -> _Block:
        """The block's rows that hit some rule; the others only mark their type as done in `actions`."""
        tables = self._tables(leads)
        if not len(tables.bare):
            return block
        hit = tables.hits[block.slot]
        if hit.all():
            return block
        bare = ~hit
        actions[tables.slot_type[block.slot[bare]], block.lead[bare]] = True
        keep = np.flatnonzero(hit)
        return _Block(block.lead[keep], block.slot[keep], block.at[keep])

    def _tables(self, leads: int) -> _FoldTables:
        """The fold's lookup tables per slot, rebuilt when a block brought new classes."""
        if self._fold_tables is None or len(self._fold_tables.hits) != self.slots:
            self._fold_tables = _FoldTables.of(self, leads)
        return self._fold_tables

    def totals(self, lead_ids: Int64s, as_of: Int64s, states: StateMatrix, attributes: Floats, at: int) -> BatchScores:
        """Behaviour (capped per rule) at as_of and at `at`, plus the attribute points."""
        leads = len(lead_ids)
        behaviour, behaviour_at, steady = np.zeros(leads), np.zeros(leads), np.zeros(leads)
        has_as_of = as_of != NO_INSTANT
        # behaviour_at never extrapolates before as_of; a lead without as_of has nothing to decay.
        elapsed_days = np.maximum(at - np.where(has_as_of, as_of, at), 0) / MICROS_PER_SECOND / SECONDS_PER_DAY
        decays: dict[float, Floats] = {}
        for r, rule in enumerate(self.rules):
            raw = states.raw[:, r]
            if rule.half_life_days is None:
                steady += _capped(rule, raw)  # the same at as_of and at `at`
                continue
            behaviour += _capped(rule, raw)
            decay = decays.get(rule.half_life_days)
            if decay is None:
                decay = decays[rule.half_life_days] = np.exp2(elapsed_days * (-1.0 / rule.half_life_days))
            behaviour_at += _capped(rule, raw * decay)
        behaviour += steady
        behaviour_at += steady
        return BatchScores(
            layout=self.layout,
            at=at,
            lead_id=lead_ids,
            as_of=as_of,
            behaviour=behaviour,
            attributes=attributes,
            total=behaviour + attributes,
            total_at=behaviour_at + attributes,
            states=states,
        )


@dataclass(frozen=True, slots=True)
class _FoldTables:
    """Per slot: whether its class hits a rule, its action type, and per depth d the cell offset
    of the d-th column it adds to (column × leads; -1 for none) with that column's decay
    exponent per microsecond."""

    hits: Bools
    bare: Codes  # slots of a scored type whose class hits no rule: they count as actions only
    slot_type: npt.NDArray[np.intp]
    layers: list[tuple[npt.NDArray[np.intp], Floats]]

    @classmethod
    def of(cls, classifier: RowClassifier, leads: int) -> _FoldTables:
        class_columns = classifier.class_columns
        hits = np.array([False] + [bool(c) for c in class_columns])
        per_micro = [_per_micro(_half_life(classifier.rules[column[0]])) for column in classifier.columns]
        layers = []
        for d in range(max((len(c) for c in class_columns), default=0) or 1):
            chosen = [None] + [c[d] if d < len(c) else None for c in class_columns]
            cell_of = np.array([-1 if c is None else c * leads for c in chosen], dtype=np.intp)
            layers.append((cell_of, np.array([0.0 if c is None else per_micro[c] for c in chosen])))
        return cls(
            hits=hits,
            bare=(np.flatnonzero(~hits[1:]) + 1).astype(np.int32),
            slot_type=np.array(classifier.slot_type, dtype=np.intp),
            layers=layers,
        )


@dataclass(frozen=True, slots=True)
class Carry:
    """States already folded, per lead (same order as the fold's leads): the incremental path's start."""

    as_of: Int64s  # NO_INSTANT where nothing has hit a rule yet
    states: StateMatrix


def _mapping(properties: Any) -> Mapping[str, Any]:
    """An activity's properties as a mapping: given so, as JSON text (SQLite), or absent."""
    if isinstance(properties, str | bytes):
        properties = json.loads(properties)
    return properties if isinstance(properties, Mapping) else {}


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def _codes_of(column: pa.Array) -> Codes:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int32)


def _codes(column: pa.Array, null: bool = False) -> Codes:
    """A dictionary array's indices; nulls (allowed when `null`) get the code len(dictionary)."""
    indices = column.indices
    if indices.null_count:
        if not null:
            raise ValueError("activity type must not be null")
        indices = indices.fill_null(len(column.dictionary))
    return np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int32)


def _per_micro(half_life_days: float) -> float:
    """Minus the base-2 exponent per microsecond of lag: 0.5 ** (lag / half-life) == 2 ** (lag × this)."""
    return -1.0 / (MICROS_PER_SECOND * SECONDS_PER_DAY * half_life_days)


def _half_life(rule: BehaviourRule) -> float:
    return math.inf if rule.half_life_days is None else rule.half_life_days


def _capped(rule: BehaviourRule, raw: Floats) -> Floats:
    return raw if rule.cap is None else np.minimum(raw, rule.cap)


def _member(text: str | None) -> Any:
    """A JSON member's value (None when absent); plain strings skip the decoder."""
    if text is None or text == "":
        return None
    if len(text) > 1 and text[0] == '"' and text[-1] == '"' and "\\" not in text:
        return text[1:-1]
    return _JSON.decode(text)


def _per_value(
    texts: list[str | None], known: dict[str | None, bool], judge: Callable[[list[Any]], list[bool]]
) -> Bools:
    """`judge` of each dictionary value (JSON text), plus False in one more slot for the null code;
    `known` remembers the verdicts across the chunks and blocks of one snapshot."""
    new = [text for text in dict.fromkeys(texts) if text not in known]
    if new:
        known.update(zip(new, judge([_member(text) for text in new]), strict=True))
    out = np.zeros(len(texts) + 1, dtype=np.bool_)
    out[:-1] = [known[text] for text in texts]
    return out


def _attribute_points(pact: Pact, layout: SnapshotLayout, leads: pa.Table) -> Floats:
    """Sum of attribute points per lead; each condition evaluated once per distinct field value."""
    points = np.zeros(leads.num_rows)
    for rule in pact.scoring.attributes:
        column = leads.column(layout.field_column(rule.field))
        verdicts: dict[str | None, bool] = {}
        at = 0
        for chunk in column.chunks:
            holds = _per_value(chunk.dictionary.to_pylist(), verdicts, partial(condition_verdicts, rule))
            gained = np.where(holds, float(rule.points), 0.0)  # per dictionary code
            np.add(points[at : at + len(chunk)], gained[_codes(chunk, null=True)], out=points[at : at + len(chunk)])
            at += len(chunk)
    return points


# --- the store, read and written as Arrow -------------------------------------------------------


class ArrowStore:
    """One ADBC connection to the store holding one write transaction; rolled back unless committed.

    On SQLite, open it only in a process that has no other connection to the file (see the module
    docstring); `worker.rescore_in_store` does that for you.

    The transaction starts before the first read so that nothing folded in by the incremental
    path between read and write-back is overwritten: SQLite takes the write lock at once
    (BEGIN IMMEDIATE, as the SQLAlchemy engine does), PostgreSQL reads one REPEATABLE READ
    snapshot with lead_scores locked against other writers (EXCLUSIVE still lets readers in).
    """

    def __init__(self, url: str, busy_timeout_ms: int = 30_000) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise ValueError(
                    "batch scoring needs a SQLite file; an in-memory database is private to one connection"
                )
            self._target = parsed.database
        elif self.dialect == "postgresql":
            self._target = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        else:
            raise ValueError(f"unsupported database {self.dialect!r} (SQLite or PostgreSQL)")
        self.busy_timeout_ms = busy_timeout_ms
        self._connection: Any = None
        self._open = False

    def __enter__(self) -> ArrowStore:
        if self.dialect == "sqlite":
            self._connection = self._sqlite_connection()
            # Foreign keys off: with them on, SQLite deletes the old lead_scores rows one by one
            # (0.6–0.8 s per million, against 0.06 s emptied at once). What they would guard is
            # checked instead: the leads come from this transaction's own read, and
            # `write_scores` checks the pact version.
            for pragma in ("foreign_keys=OFF", "synchronous=NORMAL"):
                self.execute(f"PRAGMA {pragma}")
            self.execute("BEGIN IMMEDIATE")
        else:
            import adbc_driver_postgresql.dbapi  # as the SQLite driver (see `_sqlite_connection`)

            self._connection = adbc_driver_postgresql.dbapi.connect(self._target, autocommit=True)
            self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            self.execute("LOCK TABLE lead_scores IN EXCLUSIVE MODE")
        self._open = True
        return self

    def _sqlite_connection(self) -> Any:
        """A new ADBC connection to the SQLite file, waiting up to `busy_timeout_ms` for a lock.

        The ADBC drivers and DuckDB load where the batch engine runs (the worker process on SQLite),
        not in every process that imports this module for its in-process folds: 40 MB a process.
        """
        import adbc_driver_sqlite.dbapi

        connection = adbc_driver_sqlite.dbapi.connect(self._target, autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        return connection

    def commit(self) -> None:
        self.execute("COMMIT")
        self._open = False

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._open:
                self.execute("ROLLBACK")
                self._open = False
        finally:
            self._connection.close()

    def execute(self, sql: str) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(sql)

    def query(self, sql: str) -> pa.Table:
        return _query(self._connection, sql, self.dialect)

    def read_snapshot(self, pact: Pact, leads: Sequence[int] | None = None) -> Snapshot:
        """Every activity and every lead (or only those of `leads`), with the members of their JSON
        columns this pact's rules read.

        On SQLite, activities are read in id ranges over several connections at once, one per
        core (up to 4): moving rows out of SQLite is the measured bottleneck, and the driver
        releases the GIL while it reads. Every connection but this one's reads in a transaction
        begun after this one took the write lock, so all of them see the same committed rows.
        """
        layout = SnapshotLayout.of(pact)
        as_text = "" if self.dialect == "sqlite" else "::text"
        columns = ["lead_id", "type", "occurred_at"]
        if layout.properties:
            # Only rows of a type some glob applies to need their properties. '' rather than NULL
            # elsewhere: the SQLite driver infers a column's Arrow type from its first rows, and a
            # run of NULLs would make it guess a number. (SQLite's own JSON functions extracting
            # the members in the query took longer than DuckDB does afterwards, measured.)
            types = ", ".join(_literal(t) for t in sorted({r.activity for r in pact.scoring.behaviour if r.match}))
            columns.append(f"CASE WHEN type IN ({types}) THEN properties{as_text} ELSE '' END AS properties")
        select = f"SELECT {', '.join(columns)} FROM activities"
        leads_query = (
            f"SELECT id AS lead_id, COALESCE(email, '') AS email, attributes{as_text} AS attributes FROM leads"
        )
        wanted: pa.Array | None = None
        if leads is not None and len(leads) * 4 < self._count("leads"):
            select += f" WHERE lead_id {self._among(leads)}"  # a few of the leads: through the index
            leads_query += f" WHERE id {self._among(leads)}"
        elif leads is not None:
            wanted = pa.array(leads, type=pa.int64())  # most of them: a scan, kept or dropped in Arrow

        def prepared(activities: pa.Table) -> pa.Table:
            if wanted is not None:
                activities = activities.filter(pc.is_in(activities.column("lead_id").cast(pa.int64()), wanted))
            return _encoded(_distinct_members(activities, layout.properties))

        if self.dialect == "sqlite":
            activities, people = self._read_in_parts(select, prepared, leads_query)
        else:
            activities, people = prepared(self.query(select)), self.query(leads_query)
        if wanted is not None:
            people = people.filter(pc.is_in(people.column("lead_id").cast(pa.int64()), wanted))
        return Snapshot.of(layout, activities, _members(people, "attributes", layout.fields, "f", email_domain=True))

    def _read_in_parts(
        self, select: str, prepared: Callable[[pa.Table], pa.Table], leads_query: str
    ) -> tuple[pa.Table, pa.Table]:
        # Two subqueries: SQLite answers a lone min() or max() of the rowid from the b-tree's
        # ends, but scans the table for both in one query.
        bounds = "SELECT (SELECT min(id) FROM activities) AS low, (SELECT max(id) FROM activities) AS high"
        found = self.query(bounds).to_pylist()[0]
        low, high = found["low"] or 0, found["high"] or 0
        parts = max(1, min(4, os.cpu_count() or 1))
        step = (high - low) // parts + 1
        ranges = [(low + i * step, min(high, low + (i + 1) * step - 1)) for i in range(parts)]
        opened: list[Any] = []

        def connection(index: int) -> Any:
            if index == 0:
                return self._connection
            extra = self._sqlite_connection()
            opened.append(extra)
            return extra

        joined = " AND " if " WHERE " in select else " WHERE "

        def read(index: int) -> pa.Table:
            first, last = ranges[index]
            return prepared(_query(connection(index), f"{select}{joined}id BETWEEN {first} AND {last}", self.dialect))

        try:
            with ThreadPoolExecutor(parts) as pool:
                pieces = list(pool.map(read, range(parts)))
                leads = self.query(leads_query)
        finally:
            for extra in opened:
                extra.close()
        return pa.concat_tables(pieces), leads

    def _count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py())

    def _among(self, leads: Sequence[int]) -> str:
        """`IN (…)` over lead ids, as one literal the database unpacks (ids are integers: nothing to escape)."""
        listed = ",".join(str(int(lead)) for lead in leads)
        if self.dialect == "sqlite":
            return f"IN (SELECT value FROM json_each('[{listed}]'))"
        return f"IN (SELECT unnest('{{{listed}}}'::bigint[]))"

    def write_scores(
        self, scores: BatchScores, version: int, scored_at: datetime, leads: Sequence[int] | None = None
    ) -> int:
        """Replace every lead_scores row (or those of `leads`) by the rows of `scores`.

        DELETE, then the rows in lead order: filling an emptied table in key order appends pages,
        where an upsert of a million rows searched and rewrote each one in place. SQLite takes
        them straight from Arrow; PostgreSQL through a temporary table, so its column types
        need not match Arrow's exactly.
        """
        known = self.query(f"SELECT count(*) AS n FROM pact_versions WHERE version = {int(version)}")
        if not known.column("n")[0].as_py():
            raise ValueError(f"pact version {version} is not stored; scores must name a stored version")
        rows = score_rows(scores, version, scored_at)
        with self._connection.cursor() as cursor:
            self.execute("DELETE FROM lead_scores" + ("" if leads is None else f" WHERE lead_id {self._among(leads)}"))
            if self.dialect == "sqlite":
                cursor.adbc_ingest("lead_scores", rows, mode="append")
            else:
                stage = "leadpact_score_stage"
                cursor.adbc_ingest(stage, rows, mode="create", temporary=True)
                columns = ", ".join(rows.column_names)
                self.execute(f"INSERT INTO lead_scores ({columns}) SELECT {columns} FROM {stage} ORDER BY lead_id")
                self.execute(f"DROP TABLE {stage}")
        return int(rows.num_rows)


def _query(connection: Any, sql: str, dialect: str) -> pa.Table:
    with connection.cursor() as cursor:
        # Large batches: the driver's default of 1,024 rows makes ten thousand chunks per 10 M rows.
        if dialect == "sqlite":
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 17)})
        cursor.execute(sql)
        return cursor.fetch_arrow_table()


def _encoded(activities: pa.Table) -> pa.Table:
    """Activities with their text columns (type, p0...) dictionary-encoded, as the snapshot holds them."""
    for index, name in enumerate(activities.column_names):
        column = activities.column(name)
        if pa.types.is_dictionary(column.type):
            pass
        elif name == "type" or name.startswith("p"):
            # cast first: the SQLite driver types an empty result's columns as integers
            column = pc.dictionary_encode(column.cast(pa.string()))
        else:
            column = column.cast(pa.int64())
        activities = activities.set_column(index, name, column)
    return activities


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _members(table: pa.Table, column: str, names: tuple[str, ...], prefix: str, email_domain: bool = False) -> pa.Table:
    """Replace the JSON text `column` by one column per member in `names` (`{prefix}{i}`), as JSON text.

    DuckDB parses the documents (several times faster than SQLite's JSON functions, measured).
    It re-serialises each member, which decodes to the same Python value as the stored text
    does, integers beyond 64 bits aside (DuckDB reads those as doubles). With `email_domain`,
    the table's `email` column is dropped too and, where it holds an "@", the text after the
    last one replaces the `email_domain` member (as `scoring_attributes` does for one lead).
    """
    keep = table.drop_columns([column, "email"] if email_domain else [column])
    if not names:
        return keep
    for name in names:
        if '"' in name:
            raise ValueError(f"property or attribute name {name!r} contains a double quote")
    paths = ", ".join(_literal(f'$."{name}"') for name in names)
    selected = [f"members[{i + 1}]::VARCHAR" for i in range(len(names))]
    if email_domain and "email_domain" in names:
        i = names.index("email_domain")
        derived = "to_json(string_split(email, '@')[-1])::VARCHAR"
        selected[i] = f"CASE WHEN contains(email, '@') THEN {derived} ELSE {selected[i]} END"
    members = ", ".join(f"{value} AS {prefix}{i}" for i, value in enumerate(selected))
    import duckdb  # loaded by the batch engine only (see ArrowStore._sqlite_connection)

    with duckdb.connect() as con:
        # Insertion order is preserved (DuckDB's default), so the members line up with `keep`.
        con.execute("SET preserve_insertion_order = true").fetchall()
        con.register("source", table.select([column, "email"] if email_domain else [column]))
        email = ", email" if email_domain else ""
        extracted = con.sql(
            f"SELECT {members} FROM "
            f"(SELECT json_extract(NULLIF({column}, ''), [{paths}]) AS members{email} FROM source)"
        ).to_arrow_table()
    if extracted.num_rows != keep.num_rows:
        raise RuntimeError("JSON member extraction lost rows")
    for name in extracted.column_names:
        keep = keep.append_column(name, extracted.column(name))
    return keep


def _distinct_members(activities: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """`_members` of the activities' `properties`, parsing each distinct document once.

    Activities repeat their property documents (the same page viewed by many leads), so the
    documents are dictionary-encoded first and only the dictionary goes through DuckDB; each
    member column comes out dictionary-encoded with the same indices.
    """
    if not names:
        return activities.drop_columns(["properties"])
    documents = pc.dictionary_encode(activities.column("properties").cast(pa.string())).combine_chunks()
    extracted = _members(pa.table({"properties": documents.dictionary}), "properties", names, "p")
    keep = activities.drop_columns(["properties"])
    for name in extracted.column_names:
        values = extracted.column(name).combine_chunks()
        keep = keep.append_column(name, pa.DictionaryArray.from_arrays(documents.indices, values))
    return keep


def score_rows(scores: BatchScores, version: int, scored_at: datetime) -> pa.Table:
    """The lead_scores rows of `scores`, as Arrow, with each state as its binary record."""
    leads, layout = scores.leads, scores.layout
    records = layout.encode(scores.states)
    offsets = np.arange(0, (leads + 1) * layout.width, layout.width, dtype=np.int64)
    state = pa.Array.from_buffers(pa.large_binary(), leads, [None, pa.py_buffer(offsets), pa.py_buffer(records)])
    return pa.table(
        {
            "lead_id": pa.array(scores.lead_id),
            "pact_version": pa.array(np.full(leads, version, dtype=np.int32)),
            "as_of": pa.array(scores.as_of, mask=scores.as_of == NO_INSTANT),
            "state": state.cast(pa.binary()),
            "behaviour": pa.array(scores.behaviour),
            "attributes": pa.array(scores.attributes),
            "total": pa.array(scores.total),
            "scored_at": pa.array(np.full(leads, to_micros(scored_at), dtype=np.int64)),
        }
    )


def rescore_store(
    store: ArrowStore, pact: Pact, version: int, at: datetime, leads: Sequence[int] | None = None
) -> BatchRun:
    """Read every lead (or those of `leads`), score it under `pact` from all its stored activities and
    write its lead_scores row, in `store`'s transaction."""
    started = time.perf_counter()
    snapshot = store.read_snapshot(pact, leads)
    read = time.perf_counter()
    scores = score_snapshot(snapshot, pact, at)
    scored = time.perf_counter()
    store.write_scores(scores, version, at, leads)
    written = time.perf_counter()
    return BatchRun(
        leads=scores.leads,
        leads_with_activity=scores.leads_with_activity,
        activities=int(snapshot.activities.num_rows),
        read_seconds=read - started,
        score_seconds=scored - read,
        write_seconds=written - scored,
    )
