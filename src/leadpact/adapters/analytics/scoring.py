"""Batch scoring: every lead's score state rebuilt at once from a columnar snapshot of the store.

This is the full-rebuild path (after a pact change, or on demand). It computes what
`leadpact.domain.scoring` defines, per lead and per behaviour rule: the raw value referenced to
`as_of` (the newest activity that hit any rule, as `ScoreState.fold` sets it), the match count,
the set of activity types done, and the behaviour, attribute and total scores at `as_of` and at a
given instant. `tests/integration/test_batch_scoring.py` holds it equal to the incremental fold.

How, and why that way:

* Rows leave the store as Arrow through ADBC (`ArrowStore.read_snapshot`), never `fetchall`:
  moving rows out of SQLite is the measured bottleneck. JSON columns come out as text (for
  activities, only on rows of a type some glob applies to) and DuckDB extracts the members the
  pact's rules read, several times faster than SQLite's JSON functions. Each member stays JSON
  text, so it decodes in Python to the value the incremental path sees.
* Rule predicates (property globs, attribute conditions) are the domain's own Python functions,
  run once per *distinct* value and mapped back onto the rows with a dictionary take: the same
  answers as the incremental path, at the cost of the number of distinct values, not of rows.
* The per-lead reduction (`as_of`, match counts, decayed sums) is NumPy `maximum.at` and
  `bincount` over a dense lead index. In DuckDB 2.0 the same reduction (a GROUP BY lead with one
  filtered aggregate per rule, or a GROUP BY (lead, class)) took 0.75–1.5 s for 10 M rows on the
  2-core reference machine against about 0.2 s here; the DuckDB SQL baseline of W1 shows the
  whole difference (docs/benchmarks.md). DuckDB does what it is good at: parsing JSON, and
  assembling the stored state documents (its DOUBLE-to-text is the shortest round-trip form,
  like Python's repr).
* Write-back is one Arrow ingest into a temporary staging table and one INSERT ... ON CONFLICT,
  in the same transaction as the read (`ArrowStore`).
* On SQLite all of that runs in a worker process (`rescore_in_store`). The ADBC driver links its
  own copy of SQLite, and two copies of SQLite in one process release each other's POSIX file
  locks (sqlite.org/howtocorrupt.html, section 2.2.1): measured here, closing an ADBC connection
  while the application's pysqlite connection was open deleted the WAL under it, and the next
  reader missed a committed transaction. A process that never opens the file otherwise is safe.

Must not import: leadpact.services, the entry points, or leadpact.adapters.db.store (this module
reads and writes through ADBC, never through SQLAlchemy connections).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite.dbapi
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import make_url

from leadpact.adapters.db.tables import to_micros
from leadpact.domain.pact import AttributeRule, BehaviourRule, Pact
from leadpact.domain.scoring import SECONDS_PER_DAY, AttributeValue, condition_holds, property_matches

MICROS_PER_SECOND = 1_000_000.0
NO_INSTANT = np.iinfo(np.int64).min  # "no as_of yet" inside the NumPy arrays; null in Arrow output

Int64s = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]  # row positions and dictionary codes: half the memory of int64
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

# Above this many (type, glob-verdict) combinations the class lookup table is built from the
# combinations that occur (a sort) instead of from all possible ones.
MAX_CLASS_TABLE = 1 << 20


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
        base = [("lead_id", pa.int64()), ("type", pa.string()), ("occurred_at", pa.int64())]
        return pa.schema(base + [(f"p{i}", pa.string()) for i in range(len(self.properties))])

    def lead_schema(self) -> pa.Schema:
        base = [("lead_id", pa.int64()), ("email", pa.string())]
        return pa.schema(base + [(f"f{i}", pa.string()) for i in range(len(self.fields))])


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What batch scoring reads: activity rows and lead rows, as Arrow tables in the layout's schema.

    `activities`: lead_id, type, occurred_at (integer microseconds since the epoch, UTC), p0...
    `leads`: lead_id, email (null or "" when none), f0... Every lead to be scored is a row of
    `leads`, with or without activities; every activity's lead must be among them.
    """

    layout: SnapshotLayout
    activities: pa.Table
    leads: pa.Table

    @classmethod
    def of(cls, layout: SnapshotLayout, activities: pa.Table, leads: pa.Table) -> Snapshot:
        """Conform both tables to the layout's schema (ADBC may hand back int32 ids or all-null columns)."""
        return cls(layout, _conform(activities, layout.activity_schema()), _conform(leads, layout.lead_schema()))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"snapshot table lacks columns {missing}")
    columns = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True, slots=True)
class BatchScores:
    """One row per lead of the snapshot, in its order.

    Columns: lead_id; as_of (microseconds, null when no activity hit a rule); behaviour,
    attributes and total at as_of (what lead_scores stores); total_at, the total at `at` (decayed
    on from as_of, never extrapolated before it); actions (sorted activity types done);
    then `raw_<rule id>` (float, referenced to as_of) and `matches_<rule id>` (int) per behaviour rule.
    """

    rule_ids: tuple[str, ...]
    at: int
    table: pa.Table

    @property
    def leads(self) -> int:
        return int(self.table.num_rows)

    @property
    def leads_with_activity(self) -> int:
        return int(pc.sum(pc.greater(pc.list_value_length(self.table.column("actions")), 0)).as_py() or 0)


def raw_column(rule_id: str) -> str:
    return f"raw_{rule_id}"


def matches_column(rule_id: str) -> str:
    return f"matches_{rule_id}"


def score_snapshot(snapshot: Snapshot, pact: Pact, at: datetime) -> BatchScores:
    """Score every lead of `snapshot` under `pact`; totals at each lead's as_of and at `at`. No IO."""
    if snapshot.layout != SnapshotLayout.of(pact):
        raise ValueError("the snapshot was not read for this pact (its property/attribute columns differ)")
    at_micros = to_micros(at)
    leads, activities = snapshot.leads, snapshot.activities
    lead_ids = _int64s(leads.column("lead_id"))
    n = len(lead_ids)
    row_lead = _positions(lead_ids, _int64s(activities.column("lead_id")))
    if (row_lead < 0).any():
        raise ValueError(f"{int((row_lead < 0).sum())} activities belong to leads that are not in the snapshot")
    type_codes, types = _type_codes(activities.column("type"))
    occurred = _int64s(activities.column("occurred_at"))
    rules = pact.scoring.behaviour
    row_class, class_hits = _classify(rules, snapshot.layout, activities, type_codes, types)
    per_rule = _reduce(rules, row_lead, row_class, class_hits, occurred, n)
    as_of, raws, matches = per_rule

    behaviour = np.zeros(n)
    behaviour_at = np.zeros(n)
    has_as_of = as_of != NO_INSTANT
    # behaviour_at never extrapolates before as_of; a lead without as_of has nothing to decay.
    elapsed = np.maximum(at_micros - np.where(has_as_of, as_of, at_micros), 0)
    elapsed_days = elapsed / MICROS_PER_SECOND / SECONDS_PER_DAY
    for rule, raw in zip(rules, raws, strict=True):
        behaviour += _capped(rule, raw)
        behaviour_at += _capped(rule, raw * _decay(rule, elapsed_days))
    attributes = _attribute_points(pact.scoring.attributes, snapshot.layout, leads)

    columns: dict[str, Any] = {
        "lead_id": pa.array(lead_ids),
        "as_of": pa.array(as_of, mask=~has_as_of),
        "behaviour": pa.array(behaviour),
        "attributes": pa.array(attributes),
        "total": pa.array(behaviour + attributes),
        "total_at": pa.array(behaviour_at + attributes),
        "actions": _actions(row_lead, type_codes, types, n),
    }
    for rule, raw, count in zip(rules, raws, matches, strict=True):
        columns[raw_column(rule.id)] = pa.array(raw)
        columns[matches_column(rule.id)] = pa.array(count)
    return BatchScores(rule_ids=tuple(r.id for r in rules), at=at_micros, table=pa.table(columns))


def _int64s(column: pa.ChunkedArray | pa.Array) -> Int64s:
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if any(chunk.null_count for chunk in chunks):
        raise ValueError("id and instant columns must not hold nulls")
    if not chunks:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.asarray(chunk.to_numpy(zero_copy_only=False), dtype=np.int64) for chunk in chunks])


def _positions(keys: Int64s, wanted: Int64s) -> Codes:
    """The index of each `wanted` id in `keys` (unique ids), or -1 when it is not there."""
    if len(keys) == 0:
        return np.full(len(wanted), -1, dtype=np.int32)
    low, high = int(keys.min()), int(keys.max())
    # Ids are usually dense (autoincrement), so a lookup table beats a binary search by far.
    if high - low < 4 * len(keys) + (1 << 20):
        base = 0 if 0 <= low < (1 << 20) else low  # ids near 0: index the table by id, no subtraction pass
        table = np.full(high - base + 1, -1, dtype=np.int32)
        table[keys - base] = np.arange(len(keys), dtype=np.int32)
        if int(np.count_nonzero(table >= 0)) != len(keys):
            raise ValueError("lead ids in the snapshot are not unique")
        if len(wanted) and int(wanted.min()) >= base and int(wanted.max()) <= high:
            return table[wanted - base if base else wanted]
        found = np.full(len(wanted), -1, dtype=np.int32)
        inside = (wanted >= base) & (wanted <= high)
        found[inside] = table[wanted[inside] - base]
        return found
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    if (np.diff(ordered) == 0).any():
        raise ValueError("lead ids in the snapshot are not unique")
    at = np.minimum(np.searchsorted(ordered, wanted), len(keys) - 1)
    return np.where(ordered[at] == wanted, order[at], -1).astype(np.int32)


def _dictionary(column: pa.ChunkedArray | pa.Array) -> tuple[Codes, list[Any]]:
    """Codes per row and the distinct values; nulls get code len(values).

    Encodes chunk by chunk (one shared dictionary): combining the chunks first would copy every
    string, which cost more than the encoding itself on 10 M rows.
    """
    encoded = pc.dictionary_encode(column)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return np.empty(0, dtype=np.int32), []
    dictionary = chunks[-1].dictionary
    if not all(chunk.dictionary.equals(dictionary) for chunk in chunks):
        return _dictionary(column.combine_chunks())
    values: list[Any] = dictionary.to_pylist()
    indices = [chunk.indices.fill_null(len(values)) if chunk.indices.null_count else chunk.indices for chunk in chunks]
    return np.concatenate([np.asarray(i.to_numpy(zero_copy_only=False), dtype=np.int32) for i in indices]), values


def _decoded(values: list[Any]) -> list[Any]:
    """JSON text per distinct value, decoded; null and "" mean absent. One slot more for the null code."""
    return [None if v is None or v == "" else json.loads(v) for v in values] + [None]


def _type_codes(column: pa.ChunkedArray | pa.Array) -> tuple[Codes, tuple[str, ...]]:
    """Codes numbering the activity types in sorted order (so action lists come out sorted)."""
    codes, values = _dictionary(column)
    if len(codes) and int(codes.max()) >= len(values):
        raise ValueError("activity type must not be null")
    order = sorted(range(len(values)), key=values.__getitem__)
    if order != list(range(len(values))):
        rank = np.empty(len(values), dtype=np.int32)
        rank[order] = np.arange(len(values), dtype=np.int32)
        codes = rank[codes]
    return codes, tuple(values[i] for i in order)


def _classify(
    rules: Sequence[BehaviourRule],
    layout: SnapshotLayout,
    activities: pa.Table,
    type_codes: Codes,
    types: tuple[str, ...],
) -> tuple[Codes, list[tuple[int, ...]]]:
    """Sort every activity into a class: the set of behaviour rules it hits.

    Returns the class of each row and, per class, the indexes of the rules it hits; rows that
    hit no rule get class len(classes). A class is decided by the row's type and by the glob
    verdicts on its properties, which are computed once per distinct property value.
    """
    globbed = [i for i, r in enumerate(rules) if r.match is not None]
    keys = type_codes
    if globbed:
        keys = type_codes << len(globbed)
        encoded: dict[str, tuple[Codes, list[Any]]] = {}
        for bit, i in enumerate(globbed):
            match = rules[i].match
            assert match is not None
            if match.property not in encoded:
                codes, values = _dictionary(activities.column(layout.property_column(match.property)))
                encoded[match.property] = (codes, _decoded(values))
            codes, decoded = encoded[match.property]
            verdicts = np.array([int(property_matches(rules[i], v)) << bit for v in decoded], dtype=np.int32)
            keys |= verdicts[codes]

    def hits(type_code: int, verdicts: int) -> tuple[int, ...]:
        return tuple(
            i
            for i, rule in enumerate(rules)
            if rule.activity == types[type_code] and (rule.match is None or (verdicts >> globbed.index(i)) & 1)
        )

    combos = len(types) << len(globbed)
    if combos <= MAX_CLASS_TABLE:
        possible: npt.NDArray[Any] = np.arange(combos, dtype=np.int32)
        row_key: npt.NDArray[Any] = keys
    else:
        possible, row_key = np.unique(keys, return_inverse=True)
    classes: dict[tuple[int, ...], int] = {}
    key_class = np.empty(len(possible), dtype=np.int32)
    no_hit = []
    for slot, key in enumerate(possible.tolist()):
        hit = hits(key >> len(globbed), key & ((1 << len(globbed)) - 1))
        if hit:
            key_class[slot] = classes.setdefault(hit, len(classes))
        else:
            no_hit.append(slot)
    key_class[no_hit] = len(classes)
    return key_class[row_key], list(classes)


def _reduce(
    rules: Sequence[BehaviourRule],
    row_lead: Codes,
    row_class: Codes,
    class_hits: list[tuple[int, ...]],
    occurred: Int64s,
    n: int,
) -> tuple[Int64s, list[Floats], list[Int64s]]:
    """as_of per lead, then raw value (at as_of) and match count per rule per lead."""
    classes = len(class_hits)
    hit = row_class < classes
    lead, cls, at = row_lead[hit], row_class[hit], occurred[hit]
    del hit
    as_of = np.full(n, NO_INSTANT, dtype=np.int64)
    np.maximum.at(as_of, lead, at)
    key = lead.astype(np.intp)
    key *= classes
    key += cls
    counts = np.bincount(key, minlength=n * classes).reshape(n, classes)
    # (as_of - at) in microseconds times 1 / (µs per day × half-life): decay_factor's exponent.
    lag = as_of[lead]
    lag -= at
    del lead, at
    # One weighted bincount per half-life a class needs; almost always one per class.
    half_lives = [sorted({_half_life(rules[i]) for i in hits}) for hits in class_hits]
    sums: list[Floats] = []
    for j in range(max((len(h) for h in half_lives), default=0)):
        per_class = np.array([_per_micro(h[j]) if j < len(h) else 0.0 for h in half_lives])
        weights = per_class[cls]
        weights *= lag
        np.exp2(weights, out=weights)
        summed = np.bincount(key, weights=weights, minlength=n * classes)
        sums.append(np.asarray(summed, dtype=np.float64).reshape(n, classes))
    raws: list[Floats] = []
    matches: list[Int64s] = []
    for r, rule in enumerate(rules):
        raw = np.zeros(n)
        count = np.zeros(n, dtype=np.int64)
        for c, hits in enumerate(class_hits):
            if r in hits:
                raw += sums[half_lives[c].index(_half_life(rule))][:, c]
                count += counts[:, c]
        raws.append(raw * rule.points)
        matches.append(count)
    return as_of, raws, matches


def _per_micro(half_life_days: float) -> float:
    """Minus the base-2 exponent per microsecond of lag: 0.5 ** (lag / half-life) == 2 ** (lag × this)."""
    return -1.0 / (MICROS_PER_SECOND * SECONDS_PER_DAY * half_life_days)


def _half_life(rule: BehaviourRule) -> float:
    return math.inf if rule.half_life_days is None else rule.half_life_days


def _decay(rule: BehaviourRule, elapsed_days: Floats) -> Floats | float:
    return 1.0 if rule.half_life_days is None else np.power(0.5, elapsed_days / rule.half_life_days)


def _capped(rule: BehaviourRule, raw: Floats) -> Floats:
    return raw if rule.cap is None else np.minimum(raw, rule.cap)


def _attribute_points(rules: Sequence[AttributeRule], layout: SnapshotLayout, leads: pa.Table) -> Floats:
    """Sum of attribute points per lead; each condition evaluated once per distinct field value."""
    points = np.zeros(leads.num_rows)
    if not rules:
        return points
    encoded: dict[str, tuple[Codes, list[Any]]] = {}
    domains: tuple[Bools, Codes, list[Any]] | None = None
    for rule in rules:
        if rule.field not in encoded:
            codes, values = _dictionary(leads.column(layout.field_column(rule.field)))
            encoded[rule.field] = (codes, _decoded(values))
        codes, decoded = encoded[rule.field]
        holds = _verdicts(rule, decoded)[codes]
        if rule.field == "email_domain":
            # `scoring_attributes` derives email_domain from the e-mail address when it has an "@",
            # overriding any stored attribute of that name.
            if domains is None:
                domains = _email_domains(leads.column("email"))
            derived, domain_codes, domain_values = domains
            holds = np.where(derived, _verdicts(rule, domain_values)[domain_codes], holds)
        points += np.where(holds, rule.points, 0.0)
    return points


def _verdicts(rule: AttributeRule, values: list[Any]) -> Bools:
    return np.array([condition_holds(rule, {rule.field: _attribute(v)}) for v in values], dtype=np.bool_)


def _attribute(value: Any) -> AttributeValue:
    return value  # type: ignore[no-any-return]  # JSON-decoded: str, int, float, bool or None


def _email_domains(emails: pa.ChunkedArray) -> tuple[Bools, Codes, list[Any]]:
    """Whether each lead's e-mail yields a domain, and the domain: the text after the last "@"."""
    array = pc.fill_null(emails.combine_chunks(), "")
    derived = np.asarray(pc.match_substring(array, "@").to_numpy(zero_copy_only=False), dtype=np.bool_)
    # Split once at the last "@" (like str.rsplit("@", 1)); the domain is each list's last part.
    parts = pc.split_pattern(array, "@", max_splits=1, reverse=True)
    last = np.asarray(parts.offsets)[1:] - 1
    codes, values = _dictionary(parts.flatten().take(pa.array(last)))
    return derived, codes, values + [None]


def _actions(row_lead: Codes, type_codes: Codes, types: tuple[str, ...], n: int) -> pa.ListArray:
    """Each lead's sorted list of activity types done (type codes are in sorted order)."""
    done = np.zeros((n, len(types)), dtype=np.bool_)
    done[row_lead, type_codes] = True
    _, codes = np.nonzero(done)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(done.sum(axis=1), out=offsets[1:])
    values = pa.array(list(types), type=pa.string()).take(pa.array(codes, type=pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


# --- the store, read and written as Arrow -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchRun:
    """What one batch rescore read, computed and wrote, and how long each step took."""

    leads: int
    leads_with_activity: int
    activities: int
    read_seconds: float
    score_seconds: float
    write_seconds: float


class ArrowStore:
    """One ADBC connection to the store holding one write transaction; rolled back unless committed.

    On SQLite, open it only in a process that has no other connection to the file (see the module
    docstring); `rescore_in_store` does that for you.

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
            self._connection = adbc_driver_sqlite.dbapi.connect(self._target, autocommit=True)
            for pragma in (f"busy_timeout={int(self.busy_timeout_ms)}", "foreign_keys=ON", "synchronous=NORMAL"):
                self.execute(f"PRAGMA {pragma}")
            self.execute("BEGIN IMMEDIATE")
        else:
            self._connection = adbc_driver_postgresql.dbapi.connect(self._target, autocommit=True)
            self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            self.execute("LOCK TABLE lead_scores IN EXCLUSIVE MODE")
        self._open = True
        return self

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
        with self._connection.cursor() as cursor:
            # Large batches: the driver's default of 1,024 rows makes ten thousand chunks per 10 M rows.
            if self.dialect == "sqlite":
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 17)})
            cursor.execute(sql)
            return cursor.fetch_arrow_table()

    def read_snapshot(self, pact: Pact) -> Snapshot:
        """Every activity and every lead, with the members of their JSON columns this pact's rules read."""
        layout = SnapshotLayout.of(pact)
        as_text = "" if self.dialect == "sqlite" else "::text"
        columns = ["lead_id", "type", "occurred_at"]
        if layout.properties:
            # Only rows of a type some glob applies to need their properties. '' rather than NULL
            # elsewhere: the SQLite driver infers a column's Arrow type from its first rows, and a
            # run of NULLs would make it guess a number.
            types = ", ".join(_literal(t) for t in sorted({r.activity for r in pact.scoring.behaviour if r.match}))
            columns.append(f"CASE WHEN type IN ({types}) THEN properties{as_text} ELSE '' END AS properties")
        activities = self.query(f"SELECT {', '.join(columns)} FROM activities")
        leads = self.query(
            f"SELECT id AS lead_id, COALESCE(email, '') AS email, attributes{as_text} AS attributes FROM leads"
        )
        return Snapshot.of(
            layout,
            _members(activities, "properties", layout.properties, "p"),
            _members(leads, "attributes", layout.fields, "f"),
        )

    def write_scores(self, scores: BatchScores, version: int, scored_at: datetime) -> int:
        """Upsert one lead_scores row per lead of `scores`; returns the number of rows written."""
        rows = score_rows(scores)
        stage = "leadpact_score_stage"
        with self._connection.cursor() as cursor:
            cursor.adbc_ingest(stage, rows, mode="create", temporary=True)
        sqlite = self.dialect == "sqlite"
        source = f"temp.{stage}" if sqlite else stage
        columns = "lead_id, pact_version, as_of, state, behaviour, attributes, total, scored_at"
        select = (
            f"SELECT lead_id, {int(version)}, as_of, state{'' if sqlite else '::json'}, behaviour, attributes, total, "
            f"{to_micros(scored_at)} FROM {source}"
        )
        changed = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[1:])
        # WHERE true: SQLite needs it to tell the upsert's ON from a join's ON.
        self.execute(
            f"INSERT INTO lead_scores ({columns}) {select} WHERE true ON CONFLICT (lead_id) DO UPDATE SET {changed}"
        )
        self.execute(f"DROP TABLE {source}")
        return int(rows.num_rows)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _members(table: pa.Table, column: str, names: tuple[str, ...], prefix: str) -> pa.Table:
    """Replace the JSON text `column` by one column per member in `names` (`{prefix}{i}`), as JSON text.

    DuckDB parses the documents (several times faster than SQLite's JSON functions, measured).
    It re-serialises each member, which decodes to the same Python value as the stored text
    does, integers beyond 64 bits aside (DuckDB reads those as doubles).
    """
    keep = table.drop_columns([column])
    if not names:
        return keep
    for name in names:
        if '"' in name:
            raise ValueError(f"property or attribute name {name!r} contains a double quote")
    paths = ", ".join(_literal(f'$."{name}"') for name in names)
    members = ", ".join(f"members[{i + 1}]::VARCHAR AS {prefix}{i}" for i in range(len(names)))
    with duckdb.connect() as con:
        # Insertion order is preserved (DuckDB's default), so the members line up with `keep`.
        con.execute("SET preserve_insertion_order = true").fetchall()
        con.register("source", table.select([column]))
        extracted = con.sql(
            f"SELECT {members} FROM (SELECT json_extract(NULLIF({column}, ''), [{paths}]) AS members FROM source)"
        ).to_arrow_table()
    if extracted.num_rows != keep.num_rows:
        raise RuntimeError("JSON member extraction lost rows")
    for name in extracted.column_names:
        keep = keep.append_column(name, extracted.column(name))
    return keep


def score_rows(scores: BatchScores) -> pa.Table:
    """lead_id, as_of, state (the JSON document `state_from_json` reads), behaviour, attributes, total."""
    raw = [
        f"""CASE WHEN "{matches_column(r)}" > 0 THEN '"{r}": ' || "{raw_column(r)}"::VARCHAR END"""
        for r in scores.rule_ids
    ]
    counts = [
        f"""CASE WHEN "{matches_column(r)}" > 0 THEN '"{r}": ' || "{matches_column(r)}"::VARCHAR END"""
        for r in scores.rule_ids
    ]
    members = (
        ("concat_ws(', ', " + ", ".join(raw) + ")", "concat_ws(', ', " + ", ".join(counts) + ")")
        if scores.rule_ids
        else ("''", "''")
    )
    with duckdb.connect() as con:
        con.register("scores", scores.table)
        return con.sql(
            "SELECT lead_id, as_of, "
            f"""'{{"raw": {{' || {members[0]} || '}}, "matches": {{' || {members[1]} || '}}, "actions": ' """
            "|| to_json(actions)::VARCHAR || '}' AS state, "
            "behaviour, attributes, total FROM scores"
        ).to_arrow_table()


def rescore_store(store: ArrowStore, pact: Pact, version: int, at: datetime) -> BatchRun:
    """Read every lead, score it under `pact` and write its lead_scores row, in `store`'s transaction."""
    started = time.perf_counter()
    snapshot = store.read_snapshot(pact)
    read = time.perf_counter()
    scores = score_snapshot(snapshot, pact, at)
    scored = time.perf_counter()
    store.write_scores(scores, version, at)
    written = time.perf_counter()
    return BatchRun(
        leads=scores.leads,
        leads_with_activity=scores.leads_with_activity,
        activities=int(snapshot.activities.num_rows),
        read_seconds=read - started,
        score_seconds=scored - read,
        write_seconds=written - scored,
    )


def rescore_in_store(url: str, pact: Pact, version: int, at: datetime) -> BatchRun:
    """Rescore every lead of the store at `url` and write the rows in one transaction of its own, committed.

    SQLite: runs in the worker process (one per calling process, started on first use in about a
    second), so this process's own SQLite connections stay safe. Call it outside any open unit
    of work: it waits for the write lock like any other writer.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return _rescore_committed(url, pact, version, at)
    with _worker_lock:
        global _worker
        if _worker is None or _worker.poll() is not None:
            _worker = _start_worker()
        try:
            _send(_worker.stdin, (url, pact, version, at))
            status, value = _receive(_worker.stdout)
        except (EOFError, OSError) as exc:
            _worker.kill()
            _worker = None
            raise RuntimeError("the SQLite scoring worker died; its transaction was rolled back") from exc
    if status == "error":
        raise value
    return value  # type: ignore[no-any-return]


def _rescore_committed(url: str, pact: Pact, version: int, at: datetime) -> BatchRun:
    with ArrowStore(url) as store:
        run = rescore_store(store, pact, version, at)
        store.commit()
    return run


# The worker is a plain `python -c` child, not multiprocessing: spawn would re-run the caller's
# __main__ (`python -m leadpact` has no main guard), and fork would copy this process's SQLite
# state and threads into the child.
_worker: subprocess.Popen[bytes] | None = None
_worker_lock = threading.Lock()
_WORKER_CODE = "from leadpact.adapters.analytics.scoring import serve_worker; serve_worker()"


def _start_worker() -> subprocess.Popen[bytes]:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
    )
    atexit.register(_stop, worker)
    return worker


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        assert worker.stdin is not None
        worker.stdin.close()  # end of input: the worker returns
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def worker_pid() -> int | None:
    """The SQLite worker's process id while it runs (for monitoring its memory), else None."""
    with _worker_lock:
        return None if _worker is None or _worker.poll() is not None else _worker.pid


def stop_worker() -> None:
    """Stop the SQLite worker process, if one was started (it is also stopped at interpreter exit)."""
    global _worker
    with _worker_lock:
        if _worker is not None:
            _stop(_worker)
        _worker = None


def serve_worker() -> None:
    """The worker's loop: one request (url, pact, version, at) in, ("ok", BatchRun) or ("error", exception) out."""
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the replies
    while True:
        try:
            url, pact, version, at = _receive(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", _rescore_committed(url, pact, version, at))
        except Exception as exc:  # sent back and raised in the caller
            reply = ("error", exc)
        try:
            _send(replies, reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            _send(replies, ("error", RuntimeError(repr(reply[1]))))


def _send(stream: Any, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(payload)) + payload)
    stream.flush()


def _receive(stream: Any) -> Any:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return pickle.loads(payload)
