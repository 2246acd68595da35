"""The hash chain: any change to an entry, its order or its link is found at that entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from leadpact.domain.ledger import GENESIS, EntryKind, LedgerEntry, chain_hash, first_break

T = datetime(2026, 4, 1, tzinfo=UTC)


def entries(n: int) -> list[LedgerEntry]:
    return [
        LedgerEntry(
            lead_id=i,
            kind=EntryKind.TRANSITION,
            at=T + timedelta(hours=i),
            recorded_at=T,
            actor="system",
            department="marketing",
            pact_version=1,
            from_stage="lead",
            to_stage="mql",
            evidence={"total": 80 + i},
        )
        for i in range(n)
    ]


def chain(items: list[LedgerEntry]) -> list[tuple[int, str, str, LedgerEntry]]:
    rows, previous = [], GENESIS
    for seq, entry in enumerate(items, start=1):
        digest = chain_hash(previous, entry)
        rows.append((seq, previous, digest, entry))
        previous = digest
    return rows


def test_an_intact_chain_has_no_break() -> None:
    assert first_break(chain(entries(5))) is None


def test_altered_evidence_breaks_at_that_entry() -> None:
    rows = chain(entries(5))
    seq, prev, digest, entry = rows[2]
    rows[2] = (seq, prev, digest, replace(entry, evidence={"total": 99}))
    found = first_break(rows)
    assert found is not None and found.seq == 3 and not found.broken_link


def test_a_removed_entry_breaks_the_link_of_the_next() -> None:
    rows = chain(entries(5))
    del rows[1]
    found = first_break(rows)
    assert found is not None and found.seq == 3 and found.broken_link


def test_the_hash_does_not_depend_on_the_offset_an_instant_was_written_with() -> None:
    from zoneinfo import ZoneInfo

    entry = entries(1)[0]
    tokyo = replace(entry, at=entry.at.astimezone(ZoneInfo("Asia/Tokyo")))
    assert chain_hash(GENESIS, entry) == chain_hash(GENESIS, tokyo)
