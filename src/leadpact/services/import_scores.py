"""The scores of an activity import: folded once, when the run ends, not batch by batch.

A batch of an import commits its activities without touching lead_scores. Folding each batch
into the stored scores rewrote nearly every lead's row again and again: at a million rows over
100 k leads, each 5,000-row batch read and rewrote about 4,900 scores and committed the pages
holding them, a third of the import's time. Instead the run keeps, per lead it touched, the most
points its new rows can add and its earliest new row (`Touched`, NumPy arrays, about 24 bytes a
row at most). When the last batch is in, `settle` rescores those leads from all their stored
activities (`rescore_leads`: exact whatever was folded into them meanwhile, by whom) and
replays the leads whose MQL criteria may have started to hold, dating each crossing at the
activity that made it, as the per-batch path did.

Until then the touched leads' scores do not count the run's rows yet. A run cut off before it
settles (kill -9) is settled when it is resumed: the rows its batches committed before the
cut-off are found again through the inbox and gathered with the rest, as if it had not stopped.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

from leadpact.adapters.db.store import PactVersion, Store
from leadpact.adapters.db.tables import from_micros
from leadpact.domain.clock import Clock
from leadpact.domain.pact import Pact
from leadpact.services.lifecycle import CONFLICTS, Workbench, retrying
from leadpact.services.rescore import Folded, rescore_leads, standing

LATEST = np.iinfo(np.int64).max
COMPACT_AT = 1 << 18  # rows gathered before they are reduced to one entry per lead and type (bounded memory)
SETTLE_LEADS = 200_000  # leads rescored at once: bounds the lead-id list and the arrays per step
SETTLE_ROWS = 1_500_000  # and about this many of the run's rows: bounds what a step reads
REPLAY_LEADS = 2_000  # MQL candidates replayed per transaction


def reach(pact: Pact) -> dict[str, float]:
    """The most points one activity of each type can add (the sum of its rules' positive points)."""
    found: dict[str, float] = {}
    for rule in pact.scoring.behaviour:
        found[rule.activity] = found.get(rule.activity, 0.0) + max(0.0, rule.points)
    return found


@dataclass(frozen=True)
class NewRows:
    """New activity rows reduced per lead (sorted by id): how many of each activity type, and the earliest."""

    lead_ids: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]  # leads × `kinds`
    kinds: list[str]
    earliest: npt.NDArray[np.int64]

    @classmethod
    def of(cls, lead_ids: Sequence[int], types: Sequence[str], micros: Sequence[int]) -> NewRows:
        codes: dict[str, int] = {}
        coded = np.fromiter((codes.setdefault(kind, len(codes)) for kind in types), dtype=np.int64, count=len(types))
        return cls._reduce(
            np.asarray(lead_ids, dtype=np.int64), coded, 1, np.asarray(micros, dtype=np.int64), list(codes)
        )

    @classmethod
    def _reduce(
        cls,
        leads: npt.NDArray[np.int64],
        codes: npt.NDArray[np.int64],
        weights: npt.NDArray[np.int64] | int,
        micros: npt.NDArray[np.int64],
        kinds: list[str],
    ) -> NewRows:
        unique, position = np.unique(leads, return_inverse=True)
        width = max(1, len(kinds))
        cells = np.bincount(
            position * width + codes, weights=np.broadcast_to(weights, len(leads)), minlength=len(unique) * width
        )
        earliest = np.full(len(unique), LATEST, dtype=np.int64)
        np.minimum.at(earliest, position, micros)
        return cls(unique, cells.astype(np.int64).reshape(len(unique), width)[:, : len(kinds)], kinds, earliest)


@dataclass
class Touched:
    """The leads a run's rows went to: per lead, its new rows of each activity type and the earliest."""

    _leads: list[npt.NDArray[np.int64]] = field(default_factory=list)
    _codes: list[npt.NDArray[np.int64]] = field(default_factory=list)
    _weights: list[npt.NDArray[np.int64]] = field(default_factory=list)
    _micros: list[npt.NDArray[np.int64]] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    _rows: int = 0
    _kept: int = 0

    def add(self, lead_ids: Sequence[int], types: Sequence[str], micros: Sequence[int]) -> None:
        """The rows of a committed batch (columns: lead, activity type, occurred_at in µs)."""
        kinds = self.kinds
        self._leads.append(np.asarray(lead_ids, dtype=np.int64))
        self._codes.append(
            np.fromiter((kinds.setdefault(k, len(kinds)) for k in types), dtype=np.int64, count=len(types))
        )
        self._weights.append(np.ones(len(lead_ids), dtype=np.int64))
        self._micros.append(np.asarray(micros, dtype=np.int64))
        self._rows += len(lead_ids)
        if self._rows >= self._kept + COMPACT_AT:
            self._compact()

    def _compact(self) -> None:
        rows = self.reduced()
        width = len(rows.kinds)
        lead, code = np.nonzero(rows.counts)
        self._leads, self._codes = [rows.lead_ids[lead]], [code.astype(np.int64)]
        self._weights, self._micros = [rows.counts[lead, code]], [rows.earliest[lead]]
        self._rows = self._kept = len(lead)  # one entry per lead and type: what compacting cannot shrink
        assert width == len(self.kinds)

    def reduced(self) -> NewRows:
        if not self._leads:
            return NewRows(
                np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.int64), [], np.empty(0, dtype=np.int64)
            )
        return NewRows._reduce(
            np.concatenate(self._leads),
            np.concatenate(self._codes),
            np.concatenate(self._weights),
            np.concatenate(self._micros),
            list(self.kinds),
        )


def settle(engine: Engine, clock: Clock, touched: Touched, trigger: dict[str, object]) -> int:
    """Rescore the touched leads under the active pact and replay those that may have become MQLs;
    returns the transitions recorded. Each step commits on its own, and running it again is harmless."""
    rows = touched.reduced()
    with Store(engine) as store:
        active = store.pacts.active()
    if active is None or not len(rows.lead_ids):
        return 0
    transitions = 0
    for part in settle_steps(rows):
        ids = rows.lead_ids[part].tolist()
        with Store(engine) as store:
            before = standing(store, active.pact, active.version, ids)
        before = replace(before, earliest=rows.earliest[part])
        rescore_leads(engine, active.pact, active.version, ids, clock.now())
        with Store(engine) as store:
            candidates = may_qualify(
                store, active, before, NewRows(before.lead_ids, rows.counts[part], rows.kinds, before.earliest)
            )
        earliest = dict(zip(ids, before.earliest.tolist(), strict=True))
        transitions += _replay(engine, clock, active, candidates, earliest, trigger)
    return transitions


def settle_steps(rows: NewRows) -> list[slice]:
    """The touched leads in steps of at most SETTLE_LEADS leads and about SETTLE_ROWS new rows: each
    step's rescore reads those leads' activities at once, so a run of ten million rows is settled
    in about ten steps, not in one."""
    new_rows = np.cumsum(rows.counts.sum(axis=1)) if len(rows.counts) else np.zeros(0, dtype=np.int64)
    steps, start = [], 0
    while start < len(rows.lead_ids):
        before = int(new_rows[start - 1]) if start else 0
        by_rows = int(np.searchsorted(new_rows, before + SETTLE_ROWS, side="right"))
        end = min(start + SETTLE_LEADS, max(by_rows, start + 1), len(rows.lead_ids))
        steps.append(slice(start, end))
        start = end
    return steps


def _replay(
    engine: Engine,
    clock: Clock,
    pact: PactVersion,
    candidates: list[int],
    earliest: dict[int, int],
    trigger: dict[str, object],
) -> int:
    transitions = 0
    for start in range(0, len(candidates), REPLAY_LEADS):
        part = candidates[start : start + REPLAY_LEADS]

        def work(store: Store, part: list[int] = part) -> int:
            bench = Workbench(store, pact, clock.now())
            bench.load(part)
            bench.load_history(part)
            for lead_id in part:
                bench.qualify(bench.work[lead_id], from_micros(earliest[lead_id]), trigger=trigger, in_order=False)
            bench.flush()
            return bench.transitions

        transitions += retrying(engine, work, conflicts=CONFLICTS)
    return transitions


def may_qualify(store: Store, pact: PactVersion, folded: Folded, new: NewRows) -> list[int]:
    """The leads of a fold whose MQL criteria may have started to hold at one of the new activities.

    A ceiling, so that only these are replayed. From a stored state, each rule's value at any later
    instant is at most its positive part then plus the points of the new rows of its activity,
    and never above its cap; the score at most the stored attribute points plus those. A lead
    must also have done, or now do, one of the MQL's required actions. A lead without a stored
    state, with new rows older than it, or with no known bound, is bounded by everything its
    activities can add. Only leads still at lead or recycled that meet the MQL's attribute
    conditions are kept.
    """
    criteria, threshold = pact.pact.mql, pact.pact.mql.score_threshold
    column = {kind: i for i, kind in enumerate(new.kinds)}
    ceiling = folded.attributes_before.copy()
    for r, rule in enumerate(pact.pact.scoring.behaviour):
        if rule.activity in column:
            value = folded.raw_before[:, r] + new.counts[:, column[rule.activity]] * max(0.0, rule.points)
        else:
            value = folded.raw_before[:, r]
        ceiling += np.minimum(value, np.inf if rule.cap is None else rule.cap)
    possible = ceiling >= threshold
    if criteria.required_actions:
        actions = pact.pact.action_types
        done = np.zeros(len(folded.lead_ids), dtype=np.bool_)
        for action in criteria.required_actions:
            done |= folded.actions_before[:, actions.index(action)]
            if action in column:
                done |= new.counts[:, column[action]] > 0
        possible &= done
    unbounded = folded.stale | (folded.earliest < folded.as_of_before)
    found = folded.lead_ids[~unbounded & possible].tolist()
    others = folded.lead_ids[unbounded].tolist()
    if others:
        attributes = store.scores.attribute_points(others, pact.version)
        for lead_id, points in store.activities.reach(others, reach(pact.pact)).items():
            if attributes.get(lead_id, 0.0) + points >= threshold:
                found.append(lead_id)
    return store.leads.waiting_for_mql(sorted(found), criteria.attributes) if found else []
