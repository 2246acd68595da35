"""Repositories for webhook deliveries: the stored events and the newest applied HubSpot values.

Built on the connection of a `Store` unit of work (`WebhookEvents(store.connection)`); like every
repository they never commit. Kept beside store.py rather than in it: webhooks are one entry
point's concern, and the unit of work does not need to know them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, text, update

from leadpact.adapters.db import driver
from leadpact.adapters.db import tables as t
from leadpact.adapters.db.store import chunks, upsert

Key = tuple[str, str, str]  # (channel, source, event_key)

_W = t.webhook_events.c


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    channel: str
    source: str
    event_key: str
    object_id: str | None
    occurred_at: datetime
    payload: str
    payload_hash: str
    received_at: datetime
    processed_at: datetime | None
    outcome: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class KnownEvent:
    """What the receipt path needs to know of an event stored before."""

    id: int
    payload_hash: str
    outcome: str | None


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        row.id,
        row.channel,
        row.source,
        row.event_key,
        row.object_id,
        row.occurred_at,
        row.payload,
        row.payload_hash,
        row.received_at,
        row.processed_at,
        row.outcome,
        row.note,
    )


class WebhookEvents:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    # The receipt path stores up to thousands of events a second and answers only once they are
    # committed; going through SQLAlchemy's per-row parameter processing doubled its time (100
    # events: 2.5 ms against 1.2 ms for the driver's executemany, docs/benchmarks.md W6).
    _COLUMNS = (
        "channel",
        "source",
        "event_key",
        "object_id",
        "occurred_at",
        "payload",
        "payload_hash",
        "received_at",
        "processed_at",
        "outcome",
        "note",
    )

    def known(self, keys: Iterable[Key]) -> dict[Key, KnownEvent]:
        """The events already stored under these keys."""
        by_stream: dict[tuple[str, str], list[str]] = {}
        for channel, source, key in keys:
            by_stream.setdefault((channel, source), []).append(key)
        found: dict[Key, KnownEvent] = {}
        m = driver.mark(self.c)
        for (channel, source), event_keys in by_stream.items():
            for part in chunks(event_keys):
                query = (
                    "SELECT id, event_key, payload_hash, outcome FROM webhook_events "
                    f"WHERE channel = {m} AND source = {m} AND event_key IN ({', '.join([m] * len(part))})"
                )
                for row in self.c.exec_driver_sql(query, (channel, source, *part)):
                    found[(channel, source, row[1])] = KnownEvent(row[0], row[2], row[3])
        return found

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert events: tuples in `_COLUMNS` order, instants as `to_micros` integers. A key stored
        meanwhile by another process fails the statement (the caller's unit of work starts over)."""
        if rows:
            self.c.exec_driver_sql(driver.insert_sql(self.c, "webhook_events", self._COLUMNS), list(rows))

    def reopen(self, event_id: int, values: dict[str, Any]) -> None:
        """Replace a rejected event's content with its correction and make it pending again."""
        self.c.execute(
            update(t.webhook_events)
            .where(_W.id == event_id)
            .values(**values, processed_at=None, outcome=None, note=None)
        )

    def pending(self, limit: int) -> list[StoredEvent]:
        """Events not processed yet, in the order they were stored."""
        query = select(t.webhook_events).where(_W.processed_at.is_(None)).order_by(_W.id).limit(limit)
        return [_stored(row) for row in self.c.execute(query)]

    def rejected_of(self, channel: str, object_ids: Iterable[str]) -> list[StoredEvent]:
        """The rejected events about these objects (they may apply once an older event has)."""
        # Written so that both engines take the partial index of rejected events: its condition
        # named as it is (tables.REJECTED), and the channel checked on the few rows found (given
        # to SQLite, it took the unique key's index and read every event of the channel: a pass of
        # the processor over 300 k stored events took 0.1 s).
        found: list[StoredEvent] = []
        for part in chunks(sorted(set(object_ids))):
            query = select(t.webhook_events).where(text(t.REJECTED), _W.object_id.in_(part))
            found.extend(event for row in self.c.execute(query) if (event := _stored(row)).channel == channel)
        return found

    def finish(self, outcomes: Sequence[tuple[int, str, str | None]], at: datetime) -> None:
        """Record each event's outcome and note (one statement)."""
        if not outcomes:
            return
        statement = (
            update(t.webhook_events)
            .where(_W.id == bindparam("b_id"))
            .values(
                processed_at=bindparam("b_at", type_=t.Instant()),
                outcome=bindparam("b_outcome"),
                note=bindparam("b_note"),
            )
        )
        self.c.execute(
            statement, [{"b_id": i, "b_at": at, "b_outcome": outcome, "b_note": note} for i, outcome, note in outcomes]
        )

    def requeue(self, outcome: str) -> int:
        """Make every event with `outcome` pending again; returns how many."""
        result = self.c.execute(
            update(t.webhook_events).where(_W.outcome == outcome).values(processed_at=None, outcome=None)
        )
        return int(result.rowcount)

    def counts(self) -> dict[str, int]:
        """Events by outcome; `pending` for those not processed yet."""
        query = select(_W.outcome, func.count()).group_by(_W.outcome)
        return {(outcome or "pending"): int(n) for outcome, n in self.c.execute(query)}

    def newest(self, outcomes: Sequence[str] | None, limit: int) -> list[StoredEvent]:
        """The most recently received events, optionally of some outcomes (`pending` included)."""
        query = select(t.webhook_events).order_by(_W.id.desc()).limit(limit)
        if outcomes:
            named = [o for o in outcomes if o != "pending"]
            conditions = [_W.outcome.in_(named)] if named else []
            if "pending" in outcomes:
                conditions.append(_W.outcome.is_(None))
            query = query.where(or_(*conditions))
        return [_stored(row) for row in self.c.execute(query)]


@dataclass(frozen=True, slots=True)
class AppliedValue:
    """The newest applied value of one property of one HubSpot contact, and the event that set it."""

    value: str | None
    occurred_at: datetime
    event_key: str


_V = t.hubspot_values.c


class HubSpotValues:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def of(self, object_ids: Iterable[str]) -> dict[tuple[str, str], AppliedValue]:
        found: dict[tuple[str, str], AppliedValue] = {}
        for part in chunks(sorted(set(object_ids))):
            for row in self.c.execute(select(t.hubspot_values).where(_V.object_id.in_(part))):
                found[(row.object_id, row.register)] = AppliedValue(row.value, row.occurred_at, row.event_key)
        return found

    def save(self, values: dict[tuple[str, str], AppliedValue]) -> None:
        rows = [
            {"object_id": o, "register": r, "value": v.value, "occurred_at": v.occurred_at, "event_key": v.event_key}
            for (o, r), v in values.items()
        ]
        upsert(self.c, t.hubspot_values, rows, ("object_id", "register"))
