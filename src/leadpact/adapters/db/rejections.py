"""Reading rejections and disputes out of the ledger (leadpact.domain.rejection, .disputes).

Both are ledger entries: moves to recycled or disqualified, and entries of the kinds
`dispute` and `resolution`. The queries name the partial indexes' conditions word for word
(tables.REJECTIONS, tables.DISPUTES), so that SQLite and PostgreSQL read those indexes and
never the whole ledger. Repositories never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.store import chunks, entry_from_row
from leadpact.domain.ledger import EntryKind, LedgerEntry

Seq = tuple[int, LedgerEntry]


class Rejections:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def between(self, start: datetime, end: datetime) -> list[Seq]:
        """Every move to recycled or disqualified dated in [start, end), in ledger order."""
        e = t.ledger_entries.c
        query = select(t.ledger_entries).where(text(t.REJECTIONS), e.at >= start, e.at < end).order_by(e.at, e.seq)
        return [(row.seq, entry_from_row(row)) for row in self.c.execute(query)]

    def disputes(self, lead_ids: Iterable[int] | None = None) -> list[Seq]:
        """Dispute and resolution entries (of these leads; of all when None), in ledger order."""
        e = t.ledger_entries.c
        query = select(t.ledger_entries).where(text(t.DISPUTES)).order_by(e.at, e.seq)
        if lead_ids is None:
            return [(row.seq, entry_from_row(row)) for row in self.c.execute(query)]
        found: list[Seq] = []
        for part in chunks(sorted(set(lead_ids))):
            found.extend((row.seq, entry_from_row(row)) for row in self.c.execute(query.where(e.lead_id.in_(part))))
        return sorted(found, key=lambda pair: (pair[1].at, pair[0]))

    def entry(self, seq: int) -> LedgerEntry | None:
        row = self.c.execute(select(t.ledger_entries).where(t.ledger_entries.c.seq == seq)).first()
        return entry_from_row(row) if row is not None else None

    def entries(self, seqs: Iterable[int]) -> dict[int, LedgerEntry]:
        """These ledger entries by sequence number (numbers with no entry are left out)."""
        found: dict[int, LedgerEntry] = {}
        for part in chunks(sorted(set(seqs))):
            query = select(t.ledger_entries).where(t.ledger_entries.c.seq.in_(part))
            found.update((row.seq, entry_from_row(row)) for row in self.c.execute(query))
        return found

    def transitions(self, lead_ids: Iterable[int]) -> list[Seq]:
        """The stage moves of these leads, in ledger order."""
        e = t.ledger_entries.c
        found: list[Seq] = []
        for part in chunks(sorted(set(lead_ids))):
            query = select(t.ledger_entries).where(e.lead_id.in_(part), e.kind == EntryKind.TRANSITION.value)
            found.extend((row.seq, entry_from_row(row)) for row in self.c.execute(query))
        return sorted(found, key=lambda pair: (pair[1].at, pair[0]))

    def leads(self, lead_ids: Iterable[int]) -> dict[int, tuple[str | None, Mapping[str, Any]]]:
        """Each lead's e-mail address and attributes as they are now."""
        found: dict[int, tuple[str | None, Mapping[str, Any]]] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = select(t.leads.c.id, t.leads.c.email, t.leads.c.attributes).where(t.leads.c.id.in_(part))
            for row in self.c.execute(query):
                found[row.id] = (row.email, row.attributes or {})
        return found
