"""Rescoring: the full rebuild after a pact change, and the incremental fold of a batch of activities.

* `rescore_all` rebuilds every lead's lead_scores row in one transaction on the batch path
  (adapters/analytics: Arrow out of the store, vectorised scoring, every row replaced at once).
  Leads without activities get their attribute-only score.
* `rescore_leads` rebuilds some leads' rows from all their activities (an import's closing fold).
* `rescore_incremental` folds only the new activities into the stored states, with the batch
  engine started from them (decay composes, so each activity costs O(rules) and no Python
  runs per lead): its cost follows the number of new events, not the size of the store. A
  lead whose stored state was computed under another pact version, or that has no stored
  state yet, is folded from its stored activities. (Event ingest folds per event in its
  `Workbench` instead, because any activity may be the one that meets the MQL criteria, and
  the crossing is dated at it.)

Both store the state referenced to `as_of` (the newest activity that hit a rule) and the totals
at `as_of`; a reader decays them to any later instant with `ScoreState.behaviour_at`.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

from leadpact.adapters.analytics.worker import BatchRun, rescore_in_store, start_worker
from leadpact.adapters.db import driver
from leadpact.adapters.db.score_state import NO_INSTANT, StateLayout, StateMatrix
from leadpact.adapters.db.store import Store
from leadpact.adapters.db.tables import to_micros
from leadpact.domain.errors import DomainError
from leadpact.domain.lead import scoring_attributes
from leadpact.domain.pact import Pact
from leadpact.domain.scoring import AttributeValue, condition_holds

if TYPE_CHECKING:
    from leadpact.adapters.analytics.scoring import BatchScores, Bools, RowClassifier

# The in-process fold (`RowClassifier`) lives with the batch engine, whose module loads Arrow:
# it is imported where a fold runs here, so that a process handing its rescores to the worker
# (a large import) does not load Arrow at all (docs/imports.md, memory).


@dataclass(frozen=True, slots=True)
class RescoreReport:
    """What a full rebuild wrote (`run`: counts and time per step), under which version, in how long."""

    pact_version: int
    at: datetime
    run: BatchRun
    seconds: float  # end to end, including the hop to the SQLite worker process


def rescore_all(engine: Engine, pact: Pact, version: int, at: datetime) -> RescoreReport:
    """Rebuild every lead's score under pact `version`, in one transaction; `at` is recorded as scored_at.

    The transaction is its own (call it outside any unit of work); concurrent writers wait for
    it, so no activity folded in meanwhile is lost. On SQLite it runs in a worker process
    (see `leadpact.adapters.analytics.scoring`).
    """
    started = time.perf_counter()
    run = rescore_in_store(engine.url.render_as_string(hide_password=False), pact, version, at)
    return RescoreReport(pact_version=version, at=at, run=run, seconds=time.perf_counter() - started)


def rescore_active(engine: Engine, at: datetime) -> RescoreReport:
    """Rebuild every lead's score under the active pact (after an upgrade, a restore, or to check)."""
    with Store(engine) as store:
        active = store.pacts.active()
    if active is None:
        raise DomainError("no active pact: scores are computed under an approved pact")
    return rescore_all(engine, active.pact, active.version, at)


def rescore_incremental(
    store: Store,
    pact: Pact,
    version: int,
    activity_rows: Sequence[Mapping[str, Any]],
    *,
    at: datetime | None = None,
) -> int:
    """Fold newly stored activities into their leads' scores; returns the number of leads rescored.

    `activity_rows` are the rows just added to `activities` in this same unit of work (keys
    lead_id, type, occurred_at as an aware datetime or integer microseconds, properties). It
    runs inside the caller's transaction and does not commit: the ingest commits activities
    and scores together, so a crash never leaves an activity stored but unscored. `at` is the
    scored_at recorded (the caller's clock); by default the newest occurred_at among the rows.
    """
    if not activity_rows:
        return 0
    folded = fold_activities(
        store,
        pact,
        version,
        [int(r["lead_id"]) for r in activity_rows],
        [r["type"] for r in activity_rows],
        [_micros(r["occurred_at"]) for r in activity_rows],
        [r.get("properties") for r in activity_rows],
        at=at,
    )
    return len(folded.lead_ids)


@dataclass(frozen=True)
class Folded:
    """What a fold of new activities found, per lead (sorted by id), for the MQL check that follows."""

    lead_ids: npt.NDArray[np.int64]
    stale: Bools  # no score under this version before: folded from all its stored activities
    as_of_before: npt.NDArray[np.int64]  # the stored state's instant (NO_INSTANT when stale)
    # The stored state's attribute points, and the positive part of each rule's value at
    # `as_of_before` (leads × rules, in the pact's order): at any later instant a rule's value is at
    # most that (positive values only decay, negative ones only rise toward 0). Zeros when stale.
    attributes_before: npt.NDArray[np.float64]
    raw_before: npt.NDArray[np.float64]
    actions_before: Bools  # leads × the pact's action types: done before
    earliest: npt.NDArray[np.int64]  # the earliest new activity of each lead


def fold_activities(
    store: Store,
    pact: Pact,
    version: int,
    lead_id: Sequence[int],
    types: Sequence[str],
    occurred_at: Sequence[int],
    properties: Sequence[Any],
    *,
    at: datetime | None = None,
) -> Folded:
    """`rescore_incremental` on columns (lead id, type, occurred_at in µs, properties per new row).

    The fold is the batch engine's, started from the stored states (`Carry`): NumPy over the
    new rows, no Python per lead. A lead with no score under `version` yet (new, or scored
    under an older pact) is folded from all its stored activities instead; a lead with a
    current score keeps its stored attribute points, which every change of its attributes
    rewrites (`Workbench.flush`).
    """
    row_leads = np.asarray(lead_id, dtype=np.int64)
    lead_ids, position = np.unique(row_leads, return_inverse=True)
    occurred = np.asarray(occurred_at, dtype=np.int64)
    scored_at = to_micros(at) if at is not None else int(occurred.max())
    ids = lead_ids.tolist()
    _lock(store, ids)
    stored = _stored_scores(store, ids, version)
    where = np.searchsorted(lead_ids, stored.lead_ids)  # the stored leads' positions
    current = np.zeros(len(ids), dtype=np.bool_)
    current[where] = True

    from leadpact.adapters.analytics.scoring import Carry, RowClassifier

    classifier = RowClassifier(pact)
    fresh = current[position]
    kept = np.flatnonzero(fresh).tolist()
    blocks = [
        classifier.rows_block(
            position[fresh].astype(np.int32),
            [types[i] for i in kept],
            [properties[i] for i in kept],
            occurred[fresh],
        )
    ]
    stale = lead_ids[~current].tolist()
    if stale:
        # Their whole history, which already holds this batch's rows (same transaction).
        blocks.append(_history(store, classifier, lead_ids, stale))

    layout = classifier.layout
    carry = StateMatrix.empty(len(ids), layout)
    carry_as_of = np.full(len(ids), NO_INSTANT, dtype=np.int64)
    attributes = np.zeros(len(ids))
    if len(where):
        decoded = layout.decode(stored.records)
        carry.raw[where], carry.matches[where], carry.actions[where] = decoded.raw, decoded.matches, decoded.actions
        carry_as_of[where] = [NO_INSTANT if a is None else a for a in stored.as_of]
        attributes[where] = stored.attributes
    attributes_before, raw_before, actions_before = (
        attributes.copy(),
        np.clip(carry.raw, 0.0, None),
        carry.actions.copy(),
    )
    earliest = np.full(len(ids), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, position, occurred)
    if stale:
        judge = _AttributeJudge(pact)
        fits = _attributes_of(store, stale)
        attributes[~current] = [judge.points(fits.get(i, {})) for i in stale]

    every = np.concatenate([block.at for block in blocks])
    span = (int(every.min()), int(every.max())) if len(every) else (0, 0)
    as_of, states = classifier.fold(len(ids), blocks, span, Carry(carry_as_of, carry))
    scores = classifier.totals(lead_ids, as_of, states, attributes, scored_at)
    _save(store, scores, version, scored_at, current)
    return Folded(lead_ids, ~current, carry_as_of, attributes_before, raw_before, actions_before, earliest)


def rescore_leads(
    engine: Engine, pact: Pact, version: int, lead_ids: Sequence[int], at: datetime, *, batch_from: int = 20_000
) -> None:
    """Recompute the scores of `lead_ids` from all their stored activities, in a transaction of its own.

    Exact whatever was folded into them meanwhile, by whom: nothing is carried over. From
    `batch_from` leads on, the batch engine does it (`rescore_in_store`: Arrow out of the store,
    about 0.7 s per million activities, plus a second to start its worker on SQLite the first
    time); fewer are folded here, from their rows read in this process.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return
    if len(ids) >= batch_from:
        rescore_in_store(engine.url.render_as_string(hide_password=False), pact, version, at, ids)
        return
    from leadpact.adapters.analytics.scoring import RowClassifier

    with Store(engine) as store:
        _lock(store, ids)
        keys = np.asarray(ids, dtype=np.int64)
        classifier = RowClassifier(pact)
        block = _history(store, classifier, keys, ids)
        judge, fits = _AttributeJudge(pact), _attributes_of(store, ids)
        attributes = np.array([judge.points(fits.get(i, {})) for i in ids], dtype=np.float64)
        span = (int(block.at.min()), int(block.at.max())) if len(block.at) else (0, 0)
        as_of, states = classifier.fold(len(ids), [block], span)
        scored_at = to_micros(at)
        scores = classifier.totals(keys, as_of, states, attributes, scored_at)
        _save(store, scores, version, scored_at, np.zeros(len(ids), dtype=np.bool_))
        store.commit()


def expect_rescore(engine: Engine) -> None:
    """Get the batch engine ready for a `rescore_leads` of many leads to come (on SQLite its worker
    takes about a second to start, which then runs beside the caller's work)."""
    start_worker(engine.url.render_as_string(hide_password=False))


def _history(store: Store, classifier: RowClassifier, lead_ids: npt.NDArray[np.int64], wanted: list[int]) -> Any:
    """The stored activities of the leads `wanted` as one block of the fold (`lead_ids`: the fold's leads, sorted)."""
    history = [row for rows in store.activities.of_leads(wanted).values() for row in rows]
    return classifier.rows_block(
        np.searchsorted(lead_ids, [r.lead_id for r in history]).astype(np.int32),
        [r.type for r in history],
        [r.properties for r in history],
        np.array([_micros(r.occurred_at) for r in history], dtype=np.int64),
    )


def standing(store: Store, pact: Pact, version: int, lead_ids: Sequence[int]) -> Folded:
    """What the stored scores of `lead_ids` (sorted, unique) can still become, before new activities
    are folded in: the `Folded` of a fold yet to come, `earliest` left at its largest."""
    keys = np.asarray(lead_ids, dtype=np.int64)
    stored = _stored_scores(store, list(lead_ids), version)
    where = np.searchsorted(keys, stored.lead_ids)
    current = np.zeros(len(keys), dtype=np.bool_)
    current[where] = True
    layout = StateLayout.of(pact)
    as_of = np.full(len(keys), NO_INSTANT, dtype=np.int64)
    attributes = np.zeros(len(keys))
    raw = np.zeros((len(keys), layout.rules))
    actions = np.zeros((len(keys), layout.actions), dtype=np.bool_)
    if len(where):
        decoded = layout.decode(stored.records)
        as_of[where] = [NO_INSTANT if a is None else a for a in stored.as_of]
        attributes[where] = stored.attributes
        raw[where] = np.clip(decoded.raw, 0.0, None)
        actions[where] = decoded.actions
    earliest = np.full(len(keys), np.iinfo(np.int64).max, dtype=np.int64)
    return Folded(keys, ~current, as_of, attributes, raw, actions, earliest)


# Driver-level SQL rather than the repositories: one statement for all the leads of a batch (a
# JSON array on SQLite, an array on PostgreSQL), plain tuples in and out. Through SQLAlchemy's
# parameter processing the same 10 k rows took several times longer.


@dataclass(frozen=True, slots=True)
class _Stored:
    """The stored score rows of some leads, column by column, in lead id order."""

    lead_ids: list[int]
    as_of: list[int | None]
    records: list[bytes]
    attributes: list[float]


def _lock(store: Store, lead_ids: list[int]) -> None:
    """On PostgreSQL, lock the leads against a concurrent fold into the same lead.

    SQLite writers already queue on BEGIN IMMEDIATE. PostgreSQL needs the leads' rows locked
    (in id order, so two ingests cannot deadlock) so that two transactions folding into the
    same lead cannot both start from the same stored state, and lead_scores held in ROW
    EXCLUSIVE mode so that a running full rebuild (which holds it EXCLUSIVE) finishes first.
    """
    if driver.is_postgres(store.connection):
        store.connection.exec_driver_sql("LOCK TABLE lead_scores IN ROW EXCLUSIVE MODE")
        where, param = driver.in_list(store.connection, lead_ids)
        store.connection.exec_driver_sql(f"SELECT id FROM leads WHERE id {where} ORDER BY id FOR UPDATE", (param,))


def _stored_scores(store: Store, lead_ids: list[int], version: int) -> _Stored:
    where, param = driver.in_list(store.connection, lead_ids)
    mark = driver.mark(store.connection)
    query = (
        f"SELECT lead_id, as_of, state, attributes FROM lead_scores WHERE lead_id {where} "
        f"AND pact_version = {mark} ORDER BY lead_id"
    )
    cursor = driver.cursor(store.connection)
    try:
        cursor.execute(query, (param, version))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return _Stored([], [], [], [])
    ids, as_of, records, attributes = (list(column) for column in zip(*rows, strict=True))
    return _Stored(ids, as_of, records, attributes)


def _attributes_of(store: Store, lead_ids: list[int]) -> dict[int, dict[str, AttributeValue]]:
    where, param = driver.in_list(store.connection, lead_ids)
    rows = store.connection.exec_driver_sql(f"SELECT id, email, attributes FROM leads WHERE id {where}", (param,))
    return {
        lead_id: scoring_attributes(email, driver.json_value(attributes) or {}) for lead_id, email, attributes in rows
    }


def _save(store: Store, scores: BatchScores, version: int, scored_at: int, current: Bools) -> None:
    """Leads with a current score: UPDATE in place (version and attribute points are unchanged);
    the others: INSERT, or replace a score stored under another version."""
    records = scores.layout.encode(scores.states)
    width = records.shape[1]
    mark = driver.mark(store.connection)

    def column(values: npt.NDArray[Any], chosen: Bools) -> list[Any]:
        return values[chosen].tolist()  # type: ignore[no-any-return]

    def states(chosen: Bools) -> list[bytes]:
        joined = records[chosen].tobytes()
        return [joined[i : i + width] for i in range(0, len(joined), width)]

    def instants(chosen: Bools) -> list[int | None]:
        return [None if a == NO_INSTANT else a for a in column(scores.as_of, chosen)]

    fresh, stale = current, ~current
    updates = list(
        zip(
            instants(fresh),
            states(fresh),
            column(scores.behaviour, fresh),
            column(scores.total, fresh),
            repeat(scored_at),
            column(scores.lead_id, fresh),
            strict=False,  # repeat() is endless
        )
    )
    inserts = list(
        zip(
            column(scores.lead_id, stale),
            repeat(version),
            instants(stale),
            states(stale),
            column(scores.behaviour, stale),
            column(scores.attributes, stale),
            column(scores.total, stale),
            repeat(scored_at),
            strict=False,
        )
    )
    columns = ("pact_version", "as_of", "state", "behaviour", "attributes", "total", "scored_at")
    cursor = driver.cursor(store.connection)
    try:
        if driver.is_postgres(store.connection):
            _save_unnested(cursor, columns, updates, inserts)
            return
        if updates:
            cursor.executemany(
                f"UPDATE lead_scores SET as_of = {mark}, state = {mark}, behaviour = {mark}, total = {mark}, "
                f"scored_at = {mark} WHERE lead_id = {mark}",
                updates,
            )
        if inserts:
            cursor.executemany(
                driver.insert_sql(store.connection, "lead_scores", ("lead_id", *columns))
                + " ON CONFLICT (lead_id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in columns),
                inserts,
            )
    finally:
        cursor.close()


def _save_unnested(cursor: Any, columns: tuple[str, ...], updates: list[Any], inserts: list[Any]) -> None:
    """PostgreSQL: each of the two as one statement over arrays, not one statement per lead
    (executemany pipelines the statements, but a batch folding into 5,000 leads still waited on
    5,000 of them)."""
    if updates:
        as_of, states, behaviour, total, scored_at, lead_id = zip(*updates, strict=True)
        source, params = driver.unnest(
            [
                ("bigint", as_of),
                ("bytea", states),
                ("float8", behaviour),
                ("float8", total),
                ("bigint", scored_at),
                ("bigint", lead_id),
            ]
        )
        cursor.execute(
            "UPDATE lead_scores AS s SET as_of = u.as_of, state = u.state, behaviour = u.behaviour, "
            f"total = u.total, scored_at = u.scored_at FROM {source} "
            "AS u(as_of, state, behaviour, total, scored_at, lead_id) WHERE s.lead_id = u.lead_id",
            params,
        )
    if inserts:
        kinds = ("bigint", "int", "bigint", "bytea", "float8", "float8", "float8", "bigint")
        source, params = driver.unnest(list(zip(kinds, zip(*inserts, strict=True), strict=True)))
        cursor.execute(
            f"INSERT INTO lead_scores (lead_id, {', '.join(columns)}) SELECT * FROM {source} "
            "ON CONFLICT (lead_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in columns),
            params,
        )


def _micros(value: datetime | int) -> int:
    return value if isinstance(value, int) else to_micros(value)


class _AttributeJudge:
    """Attribute points, remembering each condition's verdict per value: leads share industries, sizes, titles."""

    def __init__(self, pact: Pact) -> None:
        self.rules = pact.scoring.attributes
        self.verdicts: dict[tuple[int, type, Hashable], bool] = {}

    def points(self, attributes: Mapping[str, AttributeValue]) -> float:
        total = []
        for i, rule in enumerate(self.rules):
            value = attributes.get(rule.field)
            if isinstance(value, Hashable):
                # type in the key: True == 1 == 1.0 hash alike but do not compare alike here.
                key = (i, type(value), value)
                hit = self.verdicts.get(key)
                if hit is None:
                    hit = self.verdicts[key] = condition_holds(rule, {rule.field: value})
            else:
                hit = condition_holds(rule, attributes)
            if hit:
                total.append(rule.points)
        return math.fsum(total)
