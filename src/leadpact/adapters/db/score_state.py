"""The stored form of a score state: one fixed-width binary record per lead, laid out by pact version.

A `lead_scores` row keeps the `ScoreState` its lead's score was folded to, so that a new activity
costs O(rules) instead of a replay. The record is binary rather than JSON because the
incremental path reads and writes thousands of them per batch and the full rebuild a million:
decoding 10 k JSON documents alone took longer than the whole 100 ms budget of an incremental
rescore (W3), while fixed-width records decode as one NumPy view over the joined bytes.

Layout, little-endian, for a pact with R behaviour rules and A action types (`Pact.action_types`):

    8 bytes    b"LPS", format 1 (u8), R (u16), A (u16)
    8·R bytes  raw value per rule at as_of (float64), in the pact's rule order
    4·R bytes  match count per rule (uint32)
    ⌈A/8⌉      actions: bit i (least significant first) set when action_types[i] was done

The rule order and the action types come from the pact version stored beside the record
(`lead_scores.pact_version`); a state is only read under that same version, as scores under any
other version are stale and rebuilt from the activities. `leadpact score LEAD --json` shows a
state in readable form.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from leadpact.domain.pact import Pact
from leadpact.domain.scoring import ScoreState

NO_INSTANT = np.iinfo(np.int64).min  # "no as_of yet" inside NumPy arrays of states; null in Arrow output
MAGIC = b"LPS"
FORMAT = 1
_HEADER = struct.Struct("<3sBHH")


@dataclass(frozen=True, slots=True)
class StateMatrix:
    """Many leads' states as columns: one row per lead, one column per rule or action type."""

    raw: npt.NDArray[np.float64]  # (leads, R)
    matches: npt.NDArray[Any]  # (leads, R) counts: integers, or whole floats (the batch fold's views)
    actions: npt.NDArray[np.bool_]  # (leads, A)

    @classmethod
    def empty(cls, leads: int, layout: StateLayout) -> StateMatrix:
        return cls(
            np.zeros((leads, layout.rules)),
            np.zeros((leads, layout.rules), dtype=np.int64),
            np.zeros((leads, layout.actions), dtype=np.bool_),
        )


@dataclass(frozen=True, slots=True)
class StateLayout:
    """Where each part of a state sits in the record, for one pact."""

    rule_ids: tuple[str, ...]
    action_types: tuple[str, ...]

    @classmethod
    def of(cls, pact: Pact) -> StateLayout:
        return cls(tuple(r.id for r in pact.scoring.behaviour), pact.action_types)

    @property
    def rules(self) -> int:
        return len(self.rule_ids)

    @property
    def actions(self) -> int:
        return len(self.action_types)

    @property
    def header(self) -> bytes:
        return _HEADER.pack(MAGIC, FORMAT, self.rules, self.actions)

    @property
    def width(self) -> int:
        return _HEADER.size + 12 * self.rules + (self.actions + 7) // 8

    # --- many at once ----------------------------------------------------------------------------

    def encode(self, states: StateMatrix) -> npt.NDArray[np.uint8]:
        """One record per row of `states`, as a (leads, width) byte matrix (rows are the records)."""
        leads, rules = len(states.raw), self.rules
        out = np.empty((leads, self.width), dtype=np.uint8)
        out[:, : _HEADER.size] = np.frombuffer(self.header, dtype=np.uint8)
        at = _HEADER.size
        out[:, at : at + 8 * rules] = np.ascontiguousarray(states.raw, dtype="<f8").view(np.uint8).reshape(leads, -1)
        at += 8 * rules
        counts = np.ascontiguousarray(states.matches, dtype="<u4")
        out[:, at : at + 4 * rules] = counts.view(np.uint8).reshape(leads, -1)
        at += 4 * rules
        out[:, at:] = np.packbits(states.actions, axis=1, bitorder="little").reshape(leads, -1)
        return out

    def decode(self, records: Sequence[bytes]) -> StateMatrix:
        """The states of these records (all written under this layout); a record that is not raises."""
        if not records:
            return StateMatrix.empty(0, self)
        joined, width = b"".join(records), self.width
        if len(joined) != len(records) * width or any(len(r) != width for r in records):
            raise ValueError(f"a stored score state is not {width} bytes: it was written for another pact")
        matrix = np.frombuffer(joined, dtype=np.uint8).reshape(len(records), width)
        if (matrix[:, : _HEADER.size] != np.frombuffer(self.header, dtype=np.uint8)).any():
            raise ValueError("a stored score state has another layout: it was written for another pact")
        rules, at = self.rules, _HEADER.size
        raw = matrix[:, at : at + 8 * rules].copy().view("<f8").astype(np.float64)
        at += 8 * rules
        matches = matrix[:, at : at + 4 * rules].copy().view("<u4").astype(np.int64)
        at += 4 * rules
        actions = np.unpackbits(matrix[:, at:], axis=1, count=self.actions, bitorder="little").astype(np.bool_)
        return StateMatrix(raw, matches, actions)

    # --- one at a time (plain struct: NumPy's per-call overhead dwarfs one record) -------------

    def to_record(self, state: ScoreState) -> bytes:
        rules, actions = self.rule_ids, self.action_types
        bits = sum(1 << i for i, a in enumerate(actions) if a in state.actions)
        return (
            self.header
            + struct.pack(f"<{len(rules)}d", *(state.raw.get(r, 0.0) for r in rules))
            + struct.pack(f"<{len(rules)}I", *(state.matches.get(r, 0) for r in rules))
            + bits.to_bytes((len(actions) + 7) // 8, "little")
        )

    def from_record(self, as_of: datetime | None, record: bytes) -> ScoreState:
        if len(record) != self.width or record[: _HEADER.size] != self.header:
            raise ValueError("a stored score state has another layout: it was written for another pact")
        rules, at = len(self.rule_ids), _HEADER.size
        raw = struct.unpack_from(f"<{rules}d", record, at)
        matches = struct.unpack_from(f"<{rules}I", record, at + 8 * rules)
        bits = int.from_bytes(record[at + 12 * rules :], "little")
        hit = [i for i, n in enumerate(matches) if n]
        return ScoreState(
            as_of=as_of,
            raw={self.rule_ids[i]: raw[i] for i in hit},
            matches={self.rule_ids[i]: matches[i] for i in hit},
            actions=frozenset(a for i, a in enumerate(self.action_types) if bits >> i & 1),
        )
