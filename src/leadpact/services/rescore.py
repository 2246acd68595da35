"""Rescoring: the full rebuild after a pact change, and the incremental fold as activities arrive.

* `rescore_all` rebuilds every lead's lead_scores row in one transaction on the batch path
  (adapters/analytics: Arrow out of the store, vectorised scoring, one bulk upsert). Leads
  without activities get their attribute-only score.
* `rescore_incremental` folds only the new activities into the stored states with
  `ScoreState.fold` (decay composes, so each activity costs O(rules)): its cost follows the
  number of new events, not the size of the store. A lead whose stored state was computed under
  another pact version, or that has no stored state yet, is rebuilt from its stored activities.

Both store the state referenced to `as_of` (the newest activity that hit a rule) and the totals
at `as_of`; a reader decays them to any later instant with `ScoreState.behaviour_at`.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from leadpact.adapters.analytics.scoring import BatchRun, rescore_in_store
from leadpact.adapters.db.store import Store, activity_from_row, state_from_json, state_to_json
from leadpact.adapters.db.tables import from_micros, to_micros
from leadpact.domain.lead import scoring_attributes
from leadpact.domain.pact import Pact
from leadpact.domain.scoring import Activity, AttributeValue, ScoreState, condition_holds


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
    new: dict[int, list[Activity]] = {}
    for row in activity_rows:
        activity = activity_from_row(row)
        new.setdefault(int(row["lead_id"]), []).append(activity)
    lead_ids = sorted(new)
    scored_at = at or max(a.at for activities in new.values() for a in activities)

    attributes = _lock_and_read_attributes(store, lead_ids)
    stored = _stored_states(store, lead_ids)
    stale = {i for i in lead_ids if stored.get(i, (None,))[0] != version}
    history = store.activities.of_leads(sorted(stale)) if stale else {}
    judge = _AttributeJudge(pact)
    rows = []
    for lead_id in lead_ids:
        if lead_id in stale:
            state = ScoreState().fold_all(pact, (activity_from_row(r) for r in history.get(lead_id, [])))
        else:
            state = stored[lead_id][1].fold_all(pact, new[lead_id])
        behaviour = _behaviour_at_as_of(pact, state)
        fit = judge.points(attributes.get(lead_id, {}))
        rows.append(
            {
                "lead_id": lead_id,
                "pact_version": version,
                "as_of": None if state.as_of is None else to_micros(state.as_of),
                "state": json.dumps(state_to_json(state), ensure_ascii=False),
                "behaviour": behaviour,
                "attributes": fit,
                "total": math.fsum((behaviour, fit)),
                "scored_at": to_micros(scored_at),
            }
        )
    _save(store, rows)
    return len(rows)


# Bulk SQL rather than the repositories' chunked IN lists: one statement for all the leads of a
# batch (a JSON array on SQLite, an array on PostgreSQL), rows read without ORM processing.
# Measured on 10 k new events: about half the time of Scores.get_many + Scores.save.


def _postgres(store: Store) -> bool:
    return store.connection.dialect.name == "postgresql"


def _ids(store: Store, column: str, lead_ids: list[int]) -> tuple[str, dict[str, Any]]:
    if _postgres(store):
        return f"{column} = ANY(:ids)", {"ids": lead_ids}
    return f"{column} IN (SELECT value FROM json_each(:ids))", {"ids": json.dumps(lead_ids)}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value  # psycopg hands JSON over decoded


def _lock_and_read_attributes(store: Store, lead_ids: list[int]) -> dict[int, dict[str, AttributeValue]]:
    """The scoring attributes of these leads; on PostgreSQL, lock them against a concurrent fold.

    SQLite writers already queue on BEGIN IMMEDIATE. PostgreSQL needs the leads' rows locked
    (in id order, so two ingests cannot deadlock) so that two transactions folding into the
    same lead cannot both start from the same stored state, and lead_scores held in ROW
    EXCLUSIVE mode so that a running full rebuild (which holds it EXCLUSIVE) finishes first.
    """
    where, params = _ids(store, "id", lead_ids)
    query = f"SELECT id, email, attributes FROM leads WHERE {where}"
    if _postgres(store):
        store.connection.execute(text("LOCK TABLE lead_scores IN ROW EXCLUSIVE MODE"))
        query += " ORDER BY id FOR UPDATE"
    return {
        row.id: scoring_attributes(row.email, _json(row.attributes) or {})
        for row in store.connection.execute(text(query), params)
    }


def _stored_states(store: Store, lead_ids: list[int]) -> dict[int, tuple[int, ScoreState]]:
    where, params = _ids(store, "lead_id", lead_ids)
    query = f"SELECT lead_id, pact_version, as_of, state FROM lead_scores WHERE {where}"
    return {
        row.lead_id: (
            row.pact_version,
            state_from_json(None if row.as_of is None else from_micros(int(row.as_of)), _json(row.state)),
        )
        for row in store.connection.execute(text(query), params)
    }


def _save(store: Store, rows: list[dict[str, Any]]) -> None:
    state = "CAST(:state AS json)" if _postgres(store) else ":state"
    columns = ("pact_version", "as_of", "state", "behaviour", "attributes", "total", "scored_at")
    store.connection.execute(
        text(
            f"INSERT INTO lead_scores (lead_id, {', '.join(columns)}) VALUES (:lead_id, :pact_version, :as_of, "
            f"{state}, :behaviour, :attributes, :total, :scored_at) ON CONFLICT (lead_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in columns)
        ),
        rows,
    )


def _behaviour_at_as_of(pact: Pact, state: ScoreState) -> float:
    """`ScoreBreakdown.behaviour` at as_of, where nothing has decayed yet: each rule's raw, capped."""
    return math.fsum(
        min(raw, rule.cap) if rule.cap is not None else raw
        for rule in pact.scoring.behaviour
        for raw in (state.raw.get(rule.id, 0.0),)
    )


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
