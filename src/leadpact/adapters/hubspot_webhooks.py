"""HubSpot webhook events: their shape at the edge, their idempotency key, and what each means in leadpact.

A delivery is a JSON array of events (docs/webhooks.md). Contact events are mapped onto
canonical events (docs/events.md) for the lead `{"system": "hubspot", "id": <objectId>}`:

- `contact.creation` → a `lead_upsert` with no attributes (the lead exists from then on);
- `contact.propertyChange` of `email` → the lead's e-mail address (applied by the webhook service:
  canonical events never replace an address);
- of `lifecyclestage` → a `stage_change` to the stage the importers' vocabulary gives it;
- of `hs_lead_status` → the `lead_status` attribute, and a `stage_change` where the status implies
  one (`UNQUALIFIED` → disqualified, `BAD_TIMING` → recycled);
- of `hubspot_owner_id` → an `assignment` to the leadpact user the owner is mapped to;
- of any other property → a `lead_upsert` of one attribute, named as the importers name the
  column (`jobtitle` → `title`) or else by the property's internal name.

Each effect names the *register* it writes (the property it sets: `stage` for both stage
properties, since both move the one stage). The webhook service applies an effect only when no
newer value of its register has been applied, which is what makes late deliveries harmless.
Deletions, merges and everything not about contacts are mapped to nothing, with the reason.

Pure: no IO. Must not import: services or entry points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import to_json

from leadpact.adapters.importers.hubspot import COLUMNS, lead_status, lifecycle_stage
from leadpact.adapters.importers.values import parse_int
from leadpact.adapters.json_body import BodyInvalid, parse_json
from leadpact.domain.lead import is_plausible_email, normalise_email
from leadpact.domain.lifecycle import Stage

SYSTEM = "hubspot"  # the lead reference's system and the canonical events' source
MAX_EVENTS = 100  # HubSpot sends at most 100 events per request
CONTACT_TYPE = "0-1"  # objectTypeId of contacts in generic (object.*) subscriptions

# Registers: what a contact property sets in leadpact. Both stage properties move one stage.
EMAIL, STAGE, OWNER = "email", "stage", "owner"

# HubSpot's bookkeeping properties say nothing about the lead.
BOOKKEEPING = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hubspot_owner_assigneddate"})
# internal property name → the attribute name the importers give that column (jobtitle → title)
_ATTRIBUTES = {names[0]: field for field, names in COLUMNS.items()}
_SPECIAL = {"email", "lifecyclestage", "hs_lead_status", "hubspot_owner_id"}


class HubSpotEvent(BaseModel):
    """One event as HubSpot sends it (camelCase fields; fields not named here are kept as sent)."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
    )

    event_id: int
    subscription_type: str = Field(min_length=1, max_length=100)
    object_id: int
    occurred_at: int = Field(ge=0)  # epoch milliseconds
    portal_id: int | None = None
    subscription_id: int | None = None
    attempt_number: int | None = None
    object_type_id: str | None = None
    property_name: str | None = Field(default=None, max_length=100)
    property_value: str | None = None
    primary_object_id: int | None = None
    merged_object_ids: list[int] | None = None
    app_id: int | None = None
    change_source: str | None = None
    change_flag: str | None = None
    source_id: str | None = None

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_at / 1000, tz=UTC)


@dataclass(slots=True)  # not frozen: built for every event of every delivery, and frozen __init__ costs 4x
class Received:
    """One element of a delivery, with the key that makes redeliveries store nothing."""

    index: int
    key: str
    payload: str  # the event as compact JSON, without attemptNumber
    digest: str
    event: HubSpotEvent | None  # None: malformed, kept aside with `problem`
    problem: str | None = None


_DELIVERY: TypeAdapter[list[HubSpotEvent]] = TypeAdapter(list[HubSpotEvent])
_NOT_CONTENT = {"attempt_number"}  # what a retry changes: not part of the event


def read_delivery(body: bytes) -> list[Received]:
    """The events of a delivery body, validated; raises BodyInvalid when it is not a delivery.

    Each event is kept as compact JSON without `attemptNumber` and keyed by its eventId and a
    digest of that JSON: HubSpot says eventId alone is not guaranteed unique, and a retry differs
    from the first attempt only in its attempt number. The whole body is parsed and validated in
    one pass; only a body with a malformed event is read again, event by event.
    """
    try:
        events = _DELIVERY.validate_json(body)
    except ValidationError:
        return _read_each(parse_json(body))
    _check_size(len(events))
    return [_received(index, event) for index, event in enumerate(events)]


def _check_size(events: int) -> None:
    if events > MAX_EVENTS:
        raise BodyInvalid(f"a HubSpot delivery has at most {MAX_EVENTS} events; this one has {events}")


def _received(index: int, event: HubSpotEvent) -> Received:
    extra = event.__pydantic_extra__
    if extra is not None and len(extra) > 1:  # fields the model does not name: in one order, for the digest
        ordered = sorted(extra.items())
        extra.clear()
        extra.update(ordered)
    payload = to_json(event, by_alias=True, exclude=_NOT_CONTENT, exclude_none=True)
    digest = hashlib.sha256(payload).hexdigest()
    return Received(index, f"{event.event_id}-{digest[:16]}", payload.decode(), digest, event)


def _read_each(data: Any) -> list[Received]:
    if not isinstance(data, list):
        raise BodyInvalid("a HubSpot delivery is a JSON array of events")
    _check_size(len(data))
    read = []
    for index, element in enumerate(data):
        try:
            read.append(_received(index, HubSpotEvent.model_validate(element)))
        except ValidationError as exc:
            content = (
                {k: element[k] for k in sorted(element) if k != "attemptNumber"}
                if isinstance(element, dict)
                else element
            )
            payload = to_json(content)
            digest = hashlib.sha256(payload).hexdigest()
            read.append(Received(index, f"malformed-{digest[:32]}", payload.decode(), digest, None, describe(exc)))
    return read


def read_element(index: int, element: object) -> Received:
    """One event, read as `read_delivery` reads it in a delivery."""
    (found,) = read_delivery(to_json([element]))
    return replace(found, index=index)


def describe(exc: ValidationError) -> str:
    """At most three field problems, as `field: message`."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "event"
        message = "required field is missing" if error["type"] == "missing" else str(error["msg"])
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Effect:
    """One thing an event sets for its contact's lead."""

    register: str | None  # the property it sets; None: it sets nothing and applies every time (creation)
    value: str | None  # the value the register holds once applied, for the record
    event: dict[str, Any]  # the canonical event that applies it
    email: str | None = None  # an address to give the lead, after `event` made sure the lead exists
    stage: Stage | None = None  # a stage change's target: nothing to do when the lead is already there

    @property
    def needs_lead(self) -> bool:
        """Canonical events of these types never create the lead they name."""
        return self.event["type"] in ("stage_change", "assignment")


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one HubSpot event means for leadpact: effects to apply, or why there are none."""

    object_id: str | None
    effects: tuple[Effect, ...] = ()
    rejected: str | None = None  # leadpact refuses it (a value it cannot read, an owner it does not know)
    not_applied: str | None = None  # leadpact does not act on this kind of event


def contact_action(event: HubSpotEvent) -> str | None:
    """`creation`, `propertyChange`, … for a contact event (legacy or generic subscription), else None."""
    kind, _, action = event.subscription_type.partition(".")
    if kind == "contact" or (kind == "object" and event.object_type_id == CONTACT_TYPE):
        return action
    return None


def meaning(
    event: HubSpotEvent,
    key: str,
    owners: Mapping[str, str],
    stages: Mapping[str, Stage | None] | None = None,
) -> Meaning:
    """The effects of one event. `owners` maps HubSpot owner ids to leadpact user names;
    `stages` maps custom lifecycle stage values to leadpact stages (None: no stage)."""
    action = contact_action(event)
    if action is None:
        return Meaning(None, not_applied=f"leadpact maps contact events only; {event.subscription_type} is kept")
    contact = str(event.object_id)
    base = {"source": SYSTEM, "at": event.at.isoformat(), "lead": {"system": SYSTEM, "id": contact}}
    if action == "creation":
        return Meaning(contact, (Effect(None, None, {**base, "id": key, "type": "lead_upsert"}),))
    if action == "propertyChange":
        return _property(event, key, base, owners, stages or {})
    if action == "deletion" or action == "privacyDeletion":
        return Meaning(
            contact, not_applied="the contact was deleted in HubSpot; leadpact keeps the lead and its ledger"
        )
    if action == "merge":
        merged = ", ".join(str(i) for i in event.merged_object_ids or [])
        return Meaning(
            contact,
            not_applied=f"HubSpot merged contacts {merged or '?'} into {event.primary_object_id or contact}; "
            "leadpact does not merge leads from webhooks",
        )
    return Meaning(contact, not_applied=f"leadpact does not act on {event.subscription_type}")


def _property(
    event: HubSpotEvent,
    key: str,
    base: dict[str, Any],
    owners: Mapping[str, str],
    stages: Mapping[str, Stage | None],
) -> Meaning:
    contact = base["lead"]["id"]
    name, value = event.property_name, (event.property_value or "").strip()
    if not name:
        return Meaning(contact, rejected="a propertyChange event without propertyName")
    upsert = {**base, "id": key, "type": "lead_upsert"}
    if name == "email":
        if not value:
            return Meaning(contact, not_applied="the e-mail address was cleared in HubSpot; leadpact keeps it")
        email = normalise_email(value)
        if not is_plausible_email(email):
            return Meaning(contact, rejected=f"email {value!r} is not an e-mail address")
        return Meaning(contact, (Effect(EMAIL, email, upsert, email=email),))
    if name == "lifecyclestage":
        if not value:
            return Meaning(contact, not_applied="the lifecycle stage was cleared in HubSpot; leadpact keeps its stage")
        try:
            stage = lifecycle_stage(value, stages)
        except ValueError:
            return Meaning(
                contact,
                rejected=f"unknown lifecycle stage {value!r}; map custom stages in LEADPACT_HUBSPOT_STAGES",
            )
        if stage is None:
            return Meaning(contact, not_applied=f"lifecycle stage {value!r} says nothing about the funnel")
        return Meaning(contact, (_stage_effect(base, key, stage, None, value),))
    if name == "hs_lead_status":
        try:
            implied = lead_status(value) if value else None
        except ValueError:
            implied = None  # a custom status: kept as the attribute, moves nothing
        status = {**upsert, "attributes": {"lead_status": value or None}}
        effects = [Effect("attribute:lead_status", value or None, status)]
        if implied is not None:
            stage, reason = implied
            effects.append(_stage_effect(base, f"{key}.stage", stage, reason, value))
        return Meaning(contact, tuple(effects))
    if name == "hubspot_owner_id":
        if not value:
            return Meaning(contact, not_applied="the owner was removed in HubSpot; leadpact keeps the lead's owner")
        user = owners.get(value)
        if user is None:
            return Meaning(
                contact,
                rejected=f"HubSpot owner {value} is not mapped to a leadpact user; add it to LEADPACT_HUBSPOT_OWNERS",
            )
        return Meaning(contact, (Effect(OWNER, value, {**base, "id": key, "type": "assignment", "to": user}),))
    if name in BOOKKEEPING:
        return Meaning(contact, not_applied=f"{name} is HubSpot bookkeeping; leadpact keeps its own")
    attribute = _ATTRIBUTES.get(name, name)
    cell: str | int | None = value or None
    if attribute == "employees" and value:
        try:
            cell = parse_int(value)
        except ValueError as exc:
            return Meaning(contact, rejected=f"{name}: {exc}")
    effect = Effect(f"attribute:{attribute}", value or None, {**upsert, "attributes": {attribute: cell}})
    return Meaning(contact, (effect,))


def _stage_effect(base: dict[str, Any], key: str, stage: Stage, reason: str | None, value: str) -> Effect:
    event = {**base, "id": key, "type": "stage_change", "to": stage.value, "note": f"HubSpot: {value}"}
    if reason is not None:
        event["reason"] = reason
    return Effect(STAGE, value, event, stage=stage)
