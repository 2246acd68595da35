"""Webhook deliveries: stored durably before they are acknowledged, applied after.

`receive` writes the events of one or more deliveries in one transaction and commits before it
returns, so a sender is only ever told "received" about events on disk. Redeliveries store
nothing: the key is (channel, source, event key).

`process` applies what is stored and not processed yet, in passes of bounded size, each one
transaction that applies the events and records their outcomes together (a crash leaves them
pending, and the next pass applies them exactly once). Canonical events from generic senders
apply in the order they were received, like a file given to `leadpact ingest`. HubSpot events
apply in the order they happened (occurredAt), and since HubSpot delivers in no particular
order and retries late, three rules make any delivery order end in the same state:

1. every property of a contact (its e-mail, its stage, its owner, each attribute) remembers the
   event whose value was applied last; an event older than that is *superseded*, never applied;
2. a contact's events are applied one at a time in the order they happened, so a property change
   never waits for a creation that has not arrived: the lead is created by whichever comes first;
3. when an event applies that is older than an event already *rejected* (a stage move that was
   not allowed yet), the rejected one is tried again after it, as it would have been in order.

Must not import: entry points.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from leadpact.adapters.db.store import PactVersion, Store
from leadpact.adapters.db.tables import to_micros
from leadpact.adapters.db.webhooks import AppliedValue, HubSpotValues, Key, StoredEvent, WebhookEvents
from leadpact.adapters.events import LineError, ParsedLine, parse_line
from leadpact.adapters.hubspot_webhooks import SYSTEM, Effect, HubSpotEvent, Meaning, describe, meaning
from leadpact.domain.clock import Clock
from leadpact.domain.lifecycle import Stage
from leadpact.services.ingest import apply_events
from leadpact.services.lifecycle import CONFLICTS, Workbench, retrying

HUBSPOT, GENERIC = "hubspot", "generic"
PASS_SIZE = 500  # stored events applied per transaction


class Outcome(StrEnum):
    APPLIED = "applied"  # leadpact applied it (or it was so already)
    SUPERSEDED = "superseded"  # a newer value of the same property had been applied: kept, not applied
    REJECTED = "rejected"  # leadpact refused it (see the note); tried again when an older event applies
    NOT_APPLIED = "not_applied"  # leadpact does not act on this kind of event (see the note)
    REFUSED = "refused"  # malformed when it arrived: kept aside, never applied


# --- receiving ------------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: built for every event received, and frozen __init__ costs 4x
class Incoming:
    """One event of a delivery, ready to store."""

    index: int  # its position in the delivery, for the sender's report
    channel: str
    source: str
    key: str
    object_id: str | None
    occurred_at: datetime
    payload: str
    digest: str
    event_id: str | None  # as the sender names it
    refused: str | None = None  # malformed: stored aside with this reason, never applied

    @property
    def identity(self) -> Key:
        return (self.channel, self.source, self.key)


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int
    id: str | None
    reason: str


@dataclass
class Receipt:
    """What became of a delivery's events: stored to be applied, already received, or refused."""

    received: int
    stored: int = 0
    duplicates: int = 0
    refused: list[Refusal] = field(default_factory=list)


def receive(engine: Engine, clock: Clock, deliveries: Sequence[Sequence[Incoming]]) -> list[Receipt]:
    """Store the events of some deliveries in one transaction, committed before this returns.

    Storing several deliveries together is how the receiver commits concurrent requests at the
    cost of one disk sync; each delivery gets its own receipt.
    """

    def work(store: Store) -> list[Receipt]:
        receipts = _store(WebhookEvents(store.connection), clock.now(), deliveries)
        store.commit()
        return receipts

    # Another process storing one of the keys first makes the insert fail on the unique key, and a
    # lock wait can run out: the retry starts over and finds their rows.
    return retrying(engine, work, commit=False, conflicts=(IntegrityError, *CONFLICTS))


def _row(item: Incoming, now: int) -> tuple[Any, ...]:
    """The event as WebhookEvents.insert takes it; a malformed one is stored as already refused."""
    refused = item.refused is not None
    return (
        item.channel,
        item.source,
        item.key,
        item.object_id,
        to_micros(item.occurred_at),
        item.payload,
        item.digest,
        now,
        now if refused else None,
        Outcome.REFUSED.value if refused else None,
        item.refused,
    )


def _store(events: WebhookEvents, now: datetime, deliveries: Sequence[Sequence[Incoming]]) -> list[Receipt]:
    receipts = [Receipt(received=len(delivery)) for delivery in deliveries]
    first: dict[Key, tuple[int, Incoming]] = {}
    repeats: list[tuple[int, Incoming]] = []
    for n, delivery in enumerate(deliveries):
        for item in delivery:
            if item.identity in first:
                repeats.append((n, item))
            else:
                first[item.identity] = (n, item)
    known = events.known(first)
    stamp = to_micros(now)
    events.insert([_row(item, stamp) for key, (_, item) in first.items() if key not in known])
    for key, (n, item) in first.items():
        receipt = receipts[n]
        stored = known.get(key)
        if stored is None:
            if item.refused is None:
                receipt.stored += 1
            else:
                receipt.refused.append(Refusal(item.index, item.event_id, f"{item.refused} (kept aside)"))
        elif stored.payload_hash == item.digest:
            receipt.duplicates += 1
        elif item.channel == GENERIC and stored.outcome == Outcome.REJECTED:
            # A corrected event under the id of one leadpact rejected: it replaces it (docs/webhooks.md).
            events.reopen(stored.id, {"payload": item.payload, "payload_hash": item.digest, "received_at": now})
            receipt.stored += 1
        else:
            receipt.refused.append(Refusal(item.index, item.event_id, _different(item)))
    for n, item in repeats:
        if first[item.identity][1].digest == item.digest:
            receipts[n].duplicates += 1
        else:
            receipts[n].refused.append(Refusal(item.index, item.event_id, _different(item)))
    return receipts


def _different(item: Incoming) -> str:
    return (
        f"event id {item.event_id!r} from {item.source} was already received with different content; "
        "give a corrected event a new id"
    )


# --- processing -----------------------------------------------------------------------------


@dataclass
class ProcessReport:
    applied: int = 0
    superseded: int = 0
    rejected: int = 0
    not_applied: int = 0
    retried: int = 0  # events rejected earlier and tried again (counted again under their new outcome)
    leads_created: int = 0
    transitions: int = 0
    taken: int = 0  # pending events taken by the pass

    def count(self, outcome: Outcome) -> None:
        if outcome is not Outcome.REFUSED:
            setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def merge(self, other: ProcessReport) -> None:
        for name in ("applied", "superseded", "rejected", "not_applied", "retried"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.leads_created += other.leads_created
        self.transitions += other.transitions
        self.taken += other.taken


@dataclass(frozen=True, slots=True)
class Mappings:
    """The user's names for HubSpot values: owner ids → leadpact users, custom lifecycle stages."""

    owners: Mapping[str, str] = field(default_factory=dict)
    stages: Mapping[str, Stage | None] = field(default_factory=dict)


def process(
    engine: Engine, clock: Clock, mappings: Mappings, pass_size: int = PASS_SIZE, passes: int | None = None
) -> ProcessReport:
    """Apply pending events, in passes of at most `pass_size` events, each one transaction; until none
    is left, or after `passes` passes."""
    total = ProcessReport()
    done = 0
    while True:

        def work(store: Store) -> ProcessReport:
            return _pass(store, clock.now(), mappings, pass_size)

        # Another processor (the server's, a `leadpact webhooks process`) waits for ours: each pass
        # holds the store's write lock on SQLite and the "webhooks" lock on PostgreSQL.
        part = retrying(engine, work, serialize="webhooks", conflicts=(IntegrityError, *CONFLICTS))
        total.merge(part)
        done += 1
        if part.taken < pass_size or (passes is not None and done >= passes):
            return total


def requeue_rejected(engine: Engine) -> int:
    """Make every rejected event pending again (after the cause was fixed: a pact signed, an owner
    mapped); `process` then applies them in order. Returns how many."""

    def work(store: Store) -> int:
        return WebhookEvents(store.connection).requeue(Outcome.REJECTED.value)

    return retrying(engine, work)


def counts(store: Store) -> dict[str, int]:
    """Stored events by outcome (`pending` for those not processed yet)."""
    with store:
        return WebhookEvents(store.connection).counts()


def newest(store: Store, outcomes: Sequence[str] | None = None, limit: int = 50) -> list[StoredEvent]:
    """The most recently received events, newest first."""
    with store:
        return WebhookEvents(store.connection).newest(outcomes, limit)


def _pass(store: Store, now: datetime, mappings: Mappings, size: int) -> ProcessReport:
    events = WebhookEvents(store.connection)
    pending = events.pending(size)
    report = ProcessReport(taken=len(pending))
    if not pending:
        return report
    outcomes: list[tuple[int, str, str | None]] = []
    _apply_generic(store, now, [e for e in pending if e.channel == GENERIC], outcomes, report)
    hubspot = [e for e in pending if e.channel == HUBSPOT]
    if hubspot:
        _HubSpotPass(store, now, mappings, report, outcomes).run(hubspot)
    unknown = [e for e in pending if e.channel not in (GENERIC, HUBSPOT)]
    outcomes.extend((e.id, Outcome.NOT_APPLIED.value, f"unknown channel {e.channel}") for e in unknown)
    events.finish(outcomes, now)
    return report


def _apply_generic(
    store: Store,
    now: datetime,
    rows: list[StoredEvent],
    outcomes: list[tuple[int, str, str | None]],
    report: ProcessReport,
) -> None:
    """Canonical events, in the order they were received, exactly as `leadpact ingest` applies a file."""
    if not rows:
        return
    lines: list[ParsedLine | LineError] = []
    for number, row in enumerate(rows, start=1):
        parsed = parse_line(number, row.payload.encode())
        assert parsed is not None  # stored payloads are never blank
        lines.append(parsed)
    applied = apply_events(store, now, lines)
    reasons = {r.line: r.reason for r in applied.rejected}
    for number, row in enumerate(rows, start=1):
        outcome = Outcome.REJECTED if number in reasons else Outcome.APPLIED
        report.count(outcome)
        outcomes.append((row.id, outcome.value, reasons.get(number)))
    report.leads_created += applied.leads_created
    report.transitions += applied.transitions


def _order(at: datetime, key: str) -> tuple[datetime, int, str]:
    """The order events happened in: occurredAt, then HubSpot's eventId (as a number: a key starts
    with it), so that events of one instant apply in the same order whatever order they arrive in."""
    return (at, len(key.split("-", 1)[0]), key)


@dataclass
class _Item:
    row: StoredEvent
    meaning: Meaning
    retry: bool  # rejected before: tried again only after an older event of its contact applied

    @property
    def order(self) -> tuple[datetime, int, str]:
        return _order(self.row.occurred_at, self.row.event_key)


@dataclass
class _Plan:
    """One effect of one event in a round: its status, and the canonical line that applies it."""

    item: _Item
    effect: Effect
    status: Outcome | None = None  # None: to apply in this round
    note: str | None = None
    line: int | None = None


class _HubSpotPass:
    """Applies the pass's HubSpot events contact by contact in the order they happened.

    Rounds: round r applies the r-th event of every contact in the pass together (one batch of
    canonical events), so a burst of many contacts is a few batches, not one per event.
    """

    def __init__(
        self,
        store: Store,
        now: datetime,
        mappings: Mappings,
        report: ProcessReport,
        outcomes: list[tuple[int, str, str | None]],
    ) -> None:
        self.store, self.now, self.mappings, self.report, self.outcomes = store, now, mappings, report, outcomes
        self.values: dict[tuple[str, str], AppliedValue] = {}
        self.changed: dict[tuple[str, str], AppliedValue] = {}
        self.applied_contacts: set[str] = set()
        self.pact: PactVersion | None = None

    def _meaning(self, row: StoredEvent) -> Meaning | None:
        """What a stored event means; None, and refused, when it no longer reads as a HubSpot event
        (stored by another version): one such event must not stop every pass after it."""
        try:
            event = HubSpotEvent.model_validate_json(row.payload)
        except ValidationError as exc:
            self._finish(row, Outcome.REFUSED, describe(exc))
            return None
        return meaning(event, row.event_key, self.mappings.owners, self.mappings.stages)

    def run(self, rows: list[StoredEvent]) -> None:
        contacts: dict[str, list[_Item]] = {}
        for row in rows:
            found = self._meaning(row)
            if found is None:
                continue
            if found.object_id is None or not found.effects:
                outcome = Outcome.REJECTED if found.rejected else Outcome.NOT_APPLIED
                self._finish(row, outcome, found.rejected or found.not_applied)
                continue
            contacts.setdefault(found.object_id, []).append(_Item(row, found, retry=False))
        if not contacts:
            return
        oldest = {contact: min(i.order for i in items) for contact, items in contacts.items()}
        for row in WebhookEvents(self.store.connection).rejected_of(HUBSPOT, contacts):
            assert row.object_id is not None
            if _order(row.occurred_at, row.event_key) > oldest[row.object_id] and (again := self._meaning(row)):
                contacts[row.object_id].append(_Item(row, again, retry=True))
        for items in contacts.values():
            items.sort(key=lambda i: i.order)
        self.values = HubSpotValues(self.store.connection).of(contacts)
        self.pact = self.store.pacts.active()
        for r in range(max(len(items) for items in contacts.values())):
            self._round([items[r] for items in contacts.values() if len(items) > r])
        HubSpotValues(self.store.connection).save(self.changed)

    def _finish(self, row: StoredEvent, outcome: Outcome, note: str | None) -> None:
        self.report.count(outcome)
        self.outcomes.append((row.id, outcome.value, note))

    def _round(self, items: list[_Item]) -> None:
        items = [i for i in items if not i.retry or i.meaning.object_id in self.applied_contacts]
        if not items:
            return
        contacts = [i.meaning.object_id for i in items if i.meaning.object_id is not None]
        leads = self.store.leads.ids_by_ref(SYSTEM, contacts)
        stages = {lead_id: lead.stage for lead_id, (lead, _, _) in self.store.leads.held(leads.values()).items()}
        plans: list[_Plan] = []
        events: list[dict[str, Any]] = []
        for item in items:
            contact = item.meaning.object_id
            assert contact is not None
            needs_lead = contact not in leads
            for effect in item.meaning.effects:
                plan = _Plan(item, effect)
                plans.append(plan)
                self._decide(plan, stages.get(leads[contact]) if contact in leads else None)
                if plan.status is not None:
                    continue
                if needs_lead and effect.needs_lead:
                    # A stage move or an assignment before any event that created the contact's lead.
                    named = {k: effect.event[k] for k in ("source", "at", "lead")}
                    events.append({**named, "id": f"{effect.event['id']}.lead", "type": "lead_upsert"})
                needs_lead = False
                events.append(effect.event)
                plan.line = len(events)
        self._apply(plans, events)
        self._already_there([p for p in plans if p.status is Outcome.REJECTED and p.effect.stage is not None])
        self._give_emails([p for p in plans if p.status is None and p.effect.email is not None])
        for plan in plans:
            if plan.status is None:
                plan.status = Outcome.APPLIED
        self._settle(items, plans)

    def _decide(self, plan: _Plan, stage: Stage | None) -> None:
        """Superseded when a newer value of the effect's property was applied; applied already when
        this very event applied it (a retried event's other effects) or the lead is in the stage."""
        effect, item = plan.effect, plan.item
        contact = item.meaning.object_id
        assert contact is not None
        held = self.values.get((contact, effect.register)) if effect.register else None
        if held is not None:
            if _order(held.occurred_at, held.event_key) > item.order:
                plan.status = Outcome.SUPERSEDED
                when = held.occurred_at.isoformat(timespec="milliseconds")
                event_id = held.event_key.split("-")[0]
                plan.note = f"a newer {effect.register} was applied (HubSpot event {event_id} of {when})"
                return
            if held.event_key == item.row.event_key:
                plan.status = Outcome.APPLIED
                return
        if effect.stage is not None and effect.stage is stage:
            plan.status = Outcome.APPLIED
            plan.note = f"the lead is in stage {stage.value} already"

    def _apply(self, plans: list[_Plan], events: list[dict[str, Any]]) -> None:
        if not events:
            return
        lines: list[ParsedLine | LineError] = []
        for number, event in enumerate(events, start=1):
            parsed = parse_line(number, json.dumps(event, ensure_ascii=False).encode())
            assert parsed is not None
            lines.append(parsed)
        applied = apply_events(self.store, self.now, lines)
        self.report.leads_created += applied.leads_created
        self.report.transitions += applied.transitions
        reasons = {r.line: r.reason for r in applied.rejected}
        for plan in plans:
            if plan.line is not None and plan.line in reasons:
                plan.status, plan.note = Outcome.REJECTED, reasons[plan.line]

    def _already_there(self, plans: list[_Plan]) -> None:
        """A stage move refused because the lead got there in this very batch (an attribute completed
        the MQL criteria) is no refusal: the lead is where HubSpot says."""
        if not plans:
            return
        leads = self.store.leads.ids_by_ref(SYSTEM, [p.item.meaning.object_id or "" for p in plans])
        held = self.store.leads.held(leads.values())
        for plan in plans:
            lead_id = leads.get(plan.item.meaning.object_id or "")
            if lead_id is not None and held[lead_id][0].stage is plan.effect.stage:
                plan.status, plan.note = Outcome.APPLIED, None

    def _give_emails(self, plans: list[_Plan]) -> None:
        """The lead's e-mail address becomes the contact's newest one: canonical events keep a lead's
        first address, but a HubSpot contact's address is what HubSpot says it is now."""
        if not plans:
            return
        contacts = [p.item.meaning.object_id for p in plans if p.item.meaning.object_id is not None]
        leads = self.store.leads.ids_by_ref(SYSTEM, contacts)
        wanted = {p.effect.email for p in plans if p.effect.email is not None}
        owners = self.store.leads.ids_by_email(wanted)
        bench = Workbench(self.store, self.pact, self.now)
        bench.load(leads.values())
        claimed: dict[str, int] = {}
        for plan in plans:
            email, contact = plan.effect.email, plan.item.meaning.object_id
            assert email is not None and contact is not None
            lead_id = leads[contact]
            holder = claimed.get(email, owners.get(email))
            if holder is not None and holder != lead_id:
                plan.status = Outcome.REJECTED
                plan.note = f"{email} is lead {holder}'s address already; leadpact does not merge leads from webhooks"
                continue
            claimed[email] = lead_id
            work = bench.work[lead_id]
            if work.lead.email == email:
                continue
            if work.lead.email is not None:
                claimed.pop(work.lead.email, None)
                owners.pop(work.lead.email, None)
            work.change(replace(work.lead, email=email))
            in_order = work.state.as_of is None or plan.item.row.occurred_at >= work.state.as_of
            bench.qualify(work, plan.item.row.occurred_at, trigger={"event": "email"}, in_order=in_order)
        self.report.transitions += bench.transitions
        bench.flush()

    def _settle(self, items: list[_Item], plans: list[_Plan]) -> None:
        """Each event's outcome from its effects'; each applied value becomes its property's newest
        (also when another effect of the same event was rejected: what was applied stays applied)."""
        by_item: dict[int, list[_Plan]] = {}
        for plan in plans:
            by_item.setdefault(plan.item.row.id, []).append(plan)
        for item in items:
            mine = by_item[item.row.id]
            contact = item.meaning.object_id
            assert contact is not None
            statuses = {p.status for p in mine}
            if Outcome.REJECTED in statuses:
                outcome = Outcome.REJECTED
                notes = "; ".join(p.note for p in mine if p.status is Outcome.REJECTED and p.note)
            else:
                outcome = Outcome.SUPERSEDED if statuses == {Outcome.SUPERSEDED} else Outcome.APPLIED
                notes = "; ".join(p.note for p in mine if p.note)
            if item.retry:
                self.report.retried += 1
            self._finish(item.row, outcome, notes or None)
            for plan in mine:
                if plan.status is not Outcome.APPLIED:
                    continue
                self.applied_contacts.add(contact)
                if plan.effect.register is not None:
                    value = AppliedValue(plan.effect.value, item.row.occurred_at, item.row.event_key)
                    self.values[(contact, plan.effect.register)] = value
                    self.changed[(contact, plan.effect.register)] = value
