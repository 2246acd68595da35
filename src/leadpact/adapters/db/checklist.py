"""What the responsibility checklist reads from the store beyond the repositories: each a few aggregates.

Every query here is one GROUP BY or COUNT over a table, so the checklist stays one short read
however many leads the store holds. Read only: nothing here writes or commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Connection, func, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.store import absorbed_lead
from leadpact.domain.checklist import Feed, Side
from leadpact.domain.ledger import EntryKind

# Canonical event types (adapters/events.py) by the half of a lead's status they bring.
MARKETING_EVENTS: Final = frozenset({"lead_upsert", "activity"})
# Import formats (adapters/importers/formats.py) by the system they come from: an MA's contacts and
# activities, or an SFA's leads, deals and opportunities with their stages and owners. A generic
# file is read as lead and activity data.
SALES_FORMATS: Final = frozenset({"hubspot-deals", "salesforce-leads", "salesforce-opportunities"})


class ChecklistFacts:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def feeds(self) -> list[Feed]:
        """Every source that sent data, once per side and path, with its newest arrival and its row count."""
        i = t.inbox.c
        found: dict[tuple[str, Side, str], Feed] = {}

        def add(source: str, side: Side, via: str, last_at: datetime, rows: int) -> None:
            key = (source, side, via)
            known = found.get(key)
            if known is not None:
                last_at, rows = max(last_at, known.last_at), rows + known.rows
            found[key] = Feed(source, side, via, last_at, rows)

        events = select(i.source, i.type, func.max(i.received_at), func.count()).group_by(i.source, i.type)
        for source, kind, last_at, rows in self.c.execute(events):
            side = Side.MARKETING if kind in MARKETING_EVENTS else Side.SALES
            add(source, side, "events", last_at, int(rows))
        r = t.import_runs.c
        runs = select(r.format, func.max(func.coalesce(r.finished_at, r.started_at)), func.sum(r.rows)).group_by(
            r.format
        )
        for name, last_at, rows in self.c.execute(runs):
            add(name, Side.SALES if name in SALES_FORMATS else Side.MARKETING, "import", last_at, int(rows or 0))
        return sorted(found.values(), key=lambda f: (f.side, f.source, f.via))

    def unswept(self, due_before: datetime) -> tuple[int, datetime | None]:
        """Late clocks no sweep has recorded, due before `due_before`: how many, and the oldest due time."""
        c = t.clocks.c
        recorded = select(t.clock_breaches.c.id).where(t.clock_breaches.c.clock_run == c.id).exists()
        query = select(func.count(), func.min(c.due_at)).where(
            c.due_at < due_before, c.stopped_at.is_(None) | (c.stopped_at > c.due_at), ~recorded
        )
        count, oldest = self.c.execute(query).one()
        return int(count), oldest

    def last_breach_at(self) -> datetime | None:
        at: datetime | None = self.c.execute(select(func.max(t.clock_breaches.c.detected_at))).scalar()
        return at

    def lead_counts(self, version: int | None) -> tuple[int, int]:
        """(live leads, of them with a score stored under `version`); merged leads are not counted."""
        leads = select(func.count()).select_from(t.leads).where(~absorbed_lead(t.leads.c.id))
        live = int(self.c.execute(leads).scalar_one())
        if version is None:
            return live, 0
        s = t.lead_scores.c
        scored = select(func.count()).where(s.pact_version == version, ~absorbed_lead(s.lead_id))
        return live, int(self.c.execute(scored).scalar_one())

    def assignments(self, since: datetime, until: datetime) -> int:
        e = t.ledger_entries.c
        query = select(func.count()).where(e.kind == EntryKind.ASSIGNMENT.value, e.at >= since, e.at <= until)
        return int(self.c.execute(query).scalar_one())
