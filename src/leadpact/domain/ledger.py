"""The lifecycle ledger: append-only entries chained by SHA-256.

Each entry's hash covers its own fields and the previous entry's hash, so changing,
removing or reordering any stored entry breaks every hash after it; `first_break`
finds the first entry whose stored hash no longer matches.

Must not import: sqlalchemy or anything doing IO (hashlib and json are pure).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

GENESIS = "0" * 64


class EntryKind(StrEnum):
    TRANSITION = "transition"  # a stage move
    ASSIGNMENT = "assignment"  # the lead got an owner
    CONTACT = "contact"  # a rep reached the lead (evidence: channel)
    BANT = "bant"  # sales recorded BANT answers or facts
    MERGE = "merge"  # two leads were found to be one person (evidence: the merge, its rule and proof)
    UNMERGE = "unmerge"  # an admin undid a merge (evidence: what was restored)
    DISPUTE = "dispute"  # marketing disputed a rejection (evidence: the rejection, the MQL criteria at handoff)
    RESOLUTION = "resolution"  # a manager upheld or overturned a dispute (evidence: the outcome, any reinstatement)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded fact about a lead: a stage move, an assignment, a contact, BANT, a merge or its undo,
    a dispute of a rejection or its resolution."""

    lead_id: int
    kind: EntryKind
    at: datetime
    recorded_at: datetime
    actor: str
    department: str
    pact_version: int | None
    from_stage: str | None = None
    to_stage: str | None = None
    owner: str | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)
    reason: str | None = None
    note: str | None = None
    override: bool = False
    imported: bool = False

    def canonical(self) -> str:
        """The entry as the hash sees it: sorted keys, UTC instants to the microsecond."""
        return json.dumps(
            {
                "lead_id": self.lead_id,
                "kind": self.kind.value,
                "at": _instant(self.at),
                "recorded_at": _instant(self.recorded_at),
                "actor": self.actor,
                "department": self.department,
                "pact_version": self.pact_version,
                "from_stage": self.from_stage,
                "to_stage": self.to_stage,
                "owner": self.owner,
                "evidence": self.evidence,
                "reason": self.reason,
                "note": self.note,
                "override": self.override,
                "imported": self.imported,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(previous: str, entry: LedgerEntry) -> str:
    """The hash of `entry` following the entry whose hash is `previous`."""
    return hashlib.sha256((previous + "\n" + entry.canonical()).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first stored entry whose hash does not follow from its content and predecessor."""

    seq: int
    expected: str
    stored: str
    broken_link: bool  # True when prev_hash itself no longer names the previous entry


def first_break(entries: Iterable[tuple[int, str, str, LedgerEntry]], previous: str = GENESIS) -> ChainBreak | None:
    """Walk `(seq, prev_hash, hash, entry)` rows in order; None when the chain is intact."""
    for seq, stored_prev, stored_hash, entry in entries:
        if stored_prev != previous:
            return ChainBreak(seq=seq, expected=previous, stored=stored_prev, broken_link=True)
        expected = chain_hash(previous, entry)
        if expected != stored_hash:
            return ChainBreak(seq=seq, expected=expected, stored=stored_hash, broken_link=False)
        previous = stored_hash
    return None
