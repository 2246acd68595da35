"""Applying canonical events: in file order, in bounded batches, each batch one transaction.

Idempotency is a storage invariant: an event whose (source, id) is already in the
inbox changes nothing and is counted as unchanged; the same key with a different
body is rejected. A malformed or refused event is rejected with its line number and
the others still apply. A crash loses at most the batch in flight, and a re-run
resumes exactly where the committed batches end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from leadpact.adapters.db.store import PactVersion, Store
from leadpact.adapters.events import (
    ActivityEvent,
    Assignment,
    BantUpdate,
    ContactLogged,
    Event,
    LeadUpsert,
    LineError,
    ParsedLine,
    StageChange,
)
from leadpact.domain.clock import Clock
from leadpact.domain.errors import DomainError, NotFound
from leadpact.domain.lead import is_plausible_email, normalise_email
from leadpact.domain.lifecycle import ALLOWED, Actor, owning_department, responsible_department
from leadpact.domain.pact import BantItem
from leadpact.domain.scoring import Activity
from leadpact.services.identities import IdentityRow, resolve_leads
from leadpact.services.lifecycle import CONFLICTS, NO_ACTIVE_PACT, SYSTEM, Workbench, actor_of, retrying

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    event_id: str | None
    reason: str


@dataclass
class IngestReport:
    created: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    leads_created: int = 0
    leads_merged: int = 0
    transitions: int = 0

    @property
    def lines(self) -> int:
        return self.created + self.unchanged + len(self.rejected)

    def merge(self, other: IngestReport) -> None:
        self.created += other.created
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)
        self.leads_created += other.leads_created
        self.leads_merged += other.leads_merged
        self.transitions += other.transitions


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last shorter), read lazily: one batch in memory at a time."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def ingest(
    engine: Engine,
    clock: Clock,
    lines: Iterable[ParsedLine | LineError],
    batch_size: int = 2_000,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Apply parsed event lines; returns what was created, unchanged and rejected."""
    report = IngestReport()
    for batch in batches(lines, batch_size):
        report.merge(_apply_with_retry(engine, clock, batch))
        if progress is not None:
            progress(len(batch))
    report.rejected.sort(key=lambda r: r.line)
    return report


def apply_events(store: Store, now: datetime, lines: list[ParsedLine | LineError]) -> IngestReport:
    """Apply parsed events inside the caller's unit of work, without committing: for a caller that
    records what it applied in the same transaction (the webhook processor)."""
    report = IngestReport()
    _apply_batch(store, now, lines, report)
    return report


def _apply_with_retry(engine: Engine, clock: Clock, batch: list[ParsedLine | LineError]) -> IngestReport:
    """One batch in one transaction. Another writer committing the same events or leads first
    makes ours fail on a unique key (or, for a lead both change, on its row version); the retry then
    sees their rows and counts them unchanged."""

    def work(store: Store) -> IngestReport:
        part = IngestReport()
        _apply_batch(store, clock.now(), batch, part)
        return part

    return retrying(engine, work, conflicts=(IntegrityError, *CONFLICTS))


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _fresh_events(store: Store, parsed: list[ParsedLine], report: IngestReport) -> list[tuple[ParsedLine, str]]:
    """Drop events already applied (unchanged) and reused ids with another body (rejected)."""
    by_source: dict[str, list[str]] = {}
    for item in parsed:
        by_source.setdefault(item.event.source, []).append(item.event.id)
    known = {
        (source, event_id): digest
        for source, ids in by_source.items()
        for event_id, digest in store.inbox.known(source, ids).items()
    }
    fresh: list[tuple[ParsedLine, str]] = []
    for item in parsed:
        key = (item.event.source, item.event.id)
        digest = _digest(item.payload)
        if key in known:
            if known[key] == digest:
                report.unchanged += 1
            else:
                report.rejected.append(
                    Rejection(
                        item.line,
                        item.event.id,
                        f"event id {item.event.id!r} from {item.event.source} "
                        "was already applied with different content",
                    )
                )
            continue
        known[key] = digest
        fresh.append((item, digest))
    return fresh


CREATES = ("lead_upsert", "activity")  # the event types that may create a lead not known yet


def _resolve(
    store: Store, now: datetime, fresh: list[tuple[ParsedLine, str]], report: IngestReport
) -> list[tuple[ParsedLine, str, int, str | None]]:
    """Each fresh event's lead, resolved for the whole batch at once (services.identities): leads
    first seen are created, and leads the events show to be one person are merged."""
    rows: list[IdentityRow] = []
    kept: list[tuple[ParsedLine, str]] = []
    for item, digest in fresh:
        event = item.event
        if event.lead.email is not None and not is_plausible_email(normalise_email(event.lead.email)):
            report.rejected.append(
                Rejection(item.line, event.id, f"lead.email {event.lead.email!r} is not an e-mail address")
            )
            continue
        company = event.attributes.get("company") if isinstance(event, LeadUpsert) else None
        rows.append(
            IdentityRow(
                at=event.at,
                email=event.lead.email,
                refs=[(event.lead.system, event.lead.id)] if event.lead.system and event.lead.id else [],
                company=company if isinstance(company, str) else None,
                create=event.type in CREATES,
                record={"event": {"source": event.source, "id": event.id}, "line": item.line},
            )
        )
        kept.append((item, digest))
    resolution = resolve_leads(store, rows, now)
    report.leads_created += resolution.created
    report.leads_merged += len(resolution.merges)
    resolved: list[tuple[ParsedLine, str, int, str | None]] = []
    for (item, digest), found in zip(kept, resolution.rows, strict=True):
        event = item.event
        if found.lead_id is None:
            reason = found.refused or (
                f"unknown lead {found.email or f'{event.lead.system}:{event.lead.id}'}; "
                f"a {event.type} event needs an existing lead"
            )
            report.rejected.append(Rejection(item.line, event.id, reason))
            continue
        resolved.append((item, digest, found.lead_id, found.email))
    return resolved


def _apply_batch(store: Store, now: datetime, batch: list[ParsedLine | LineError], report: IngestReport) -> None:
    for item in batch:
        if isinstance(item, LineError):
            report.rejected.append(Rejection(item.line, item.event_id, item.reason))
    fresh = _fresh_events(store, [i for i in batch if isinstance(i, ParsedLine)], report)
    if not fresh:
        return
    pact = store.pacts.active()
    resolved = _resolve(store, now, fresh, report)

    bench = Workbench(store, pact, now)
    bench.load(lead_id for _, _, lead_id, _ in resolved)
    names = {n for item, *_ in resolved for n in _people(item.event)}
    users = store.users.by_names(names)
    applied: list[tuple[ParsedLine, str]] = []
    activities: list[tuple[tuple[str, str], dict[str, Any]]] = []
    for item, digest, lead_id, email in resolved:
        event = item.event
        try:
            row = _apply(bench, pact, users, event, lead_id, email)
        except DomainError as err:
            report.rejected.append(Rejection(item.line, event.id, str(err)))
            continue
        if row is not None:
            activities.append(((event.source, event.id), row))
        applied.append((item, digest))

    inbox_ids = store.inbox.add(
        [
            {
                "source": item.event.source,
                "event_id": item.event.id,
                "type": item.event.type,
                "occurred_at": item.event.at,
                "received_at": now,
                "payload_hash": digest,
            }
            for item, digest in applied
        ]
    )
    store.activities.add([{**row, "inbox_id": inbox_ids[key]} for key, row in activities])
    for contact in bench.contacts:
        contact["inbox_id"] = inbox_ids[contact.pop("event_key")]
    report.transitions += bench.transitions
    bench.flush()
    report.created += len(applied)


def _people(event: Event) -> list[str]:
    names = [getattr(event, "by", None), getattr(event, "to", None) if isinstance(event, Assignment) else None]
    return [n for n in names if isinstance(n, str)]


def _user_or_refuse(users: dict[str, Any], name: str) -> Any:
    user = users.get(name)
    if user is None:
        raise NotFound(f"unknown user {name!r}; add them with `leadpact user add`")
    return user


def _apply(
    bench: Workbench,
    pact: PactVersion | None,
    users: dict[str, Any],
    event: Event,
    lead_id: int,
    email: str | None,
) -> dict[str, Any] | None:
    """Apply one event to the workbench; returns the activity row to store, if any."""
    if isinstance(event, LeadUpsert):
        bench.upsert(lead_id, event.at, event.attributes, email)
        return None
    if isinstance(event, ActivityEvent):
        if email and bench.work[lead_id].lead.email is None:
            bench.upsert(lead_id, event.at, {}, email)
        activity = Activity(type=event.activity, at=event.at, properties=event.properties)
        bench.add_activity(lead_id, activity, trigger={"event": event.id, "activity": event.activity})
        return {"lead_id": lead_id, "type": event.activity, "occurred_at": event.at, "properties": event.properties}
    if isinstance(event, ContactLogged):
        user = _user_or_refuse(users, event.by)
        bench.log_contact(lead_id, user, event.at, event.channel.value, event.note, (event.source, event.id))
        return None
    if pact is None:
        raise DomainError(NO_ACTIVE_PACT)
    work = bench.work[lead_id]
    if isinstance(event, BantUpdate):
        actor = _actor(pact, users, event.by, event.source, owning_department(pact.pact, work.lead.stage))
        answers = {item: getattr(event, item.value) for item in BantItem}
        bench.update_bant(lead_id, event.at, actor, answers, event.facts, event.note)
        return None
    if isinstance(event, Assignment):
        actor = _actor(pact, users, event.by, event.source, owning_department(pact.pact, work.lead.stage))
        bench.assign(lead_id, _user_or_refuse(users, event.to), event.at, actor, event.note)
        return None
    assert isinstance(event, StageChange)
    move = ALLOWED.get((work.lead.stage, event.to))
    department = responsible_department(pact.pact, move) if move else pact.pact.departments[0].id
    actor = _actor(pact, users, event.by, event.source, department)
    bench.move(lead_id, event.to, event.at, actor, reason=event.reason, note=event.note, override=event.override)
    return None


def _actor(pact: PactVersion, users: dict[str, Any], by: str | None, source: str, department: str) -> Actor:
    if by is None:
        return Actor(f"{SYSTEM}:{source}", department, is_system=True)
    return actor_of(_user_or_refuse(users, by))
