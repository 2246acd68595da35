"""The canonical event format: one JSON object per line (see docs/events.md).

Importers and webhooks map vendor formats onto these events; `leadpact ingest`
applies them. Parsing is strict: unknown fields and naive timestamps are refused,
so a mistake is reported on its line rather than silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from leadpact.domain.lifecycle import Stage

Text = Annotated[str, Field(min_length=1, max_length=200)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
AttributeValue = str | int | float | bool | None


class EventModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadRef(EventModel):
    """Names a lead by e-mail, by a source system's id, or both."""

    email: Annotated[str, Field(min_length=3, max_length=320)] | None = None
    system: Slug | None = None
    id: Text | None = None

    @model_validator(mode="after")
    def _named(self) -> LeadRef:
        if (self.system is None) != (self.id is None):
            raise ValueError("a source-system reference needs both 'system' and 'id'")
        if self.email is None and self.id is None:
            raise ValueError("name the lead by 'email' or by 'system' and 'id'")
        return self


class EventBase(EventModel):
    id: Text
    source: Slug
    at: AwareDatetime
    lead: LeadRef


class LeadUpsert(EventBase):
    type: Literal["lead_upsert"]
    attributes: dict[Annotated[str, Field(min_length=1, max_length=64)], AttributeValue] = {}


class ActivityEvent(EventBase):
    type: Literal["activity"]
    activity: Slug
    properties: dict[str, Any] = {}


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    MEETING = "meeting"
    WEB_MEETING = "web_meeting"
    VISIT = "visit"
    CHAT = "chat"
    OTHER = "other"


class ContactLogged(EventBase):
    type: Literal["contact_logged"]
    by: Text
    channel: Channel
    note: str | None = None


class BantUpdate(EventBase):
    type: Literal["bant_update"]
    by: Text | None = None
    budget: bool | None = None
    authority: bool | None = None
    need: bool | None = None
    timeline: bool | None = None
    facts: dict[Slug, bool] = {}
    note: str | None = None


class Assignment(EventBase):
    type: Literal["assignment"]
    to: Text
    by: Text | None = None
    note: str | None = None


class StageChange(EventBase):
    type: Literal["stage_change"]
    to: Stage
    by: Text | None = None
    reason: Slug | None = None
    note: str | None = None
    override: bool = False


Event = Annotated[
    LeadUpsert | ActivityEvent | ContactLogged | BantUpdate | Assignment | StageChange,
    Field(discriminator="type"),
]
EVENT_TYPES = ("lead_upsert", "activity", "contact_logged", "bant_update", "assignment", "stage_change")
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class ParsedLine:
    line: int
    event: Event
    payload: bytes  # the event as canonical JSON, for the idempotency check


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    event_id: str | None
    reason: str


def parse_line(number: int, raw: bytes) -> ParsedLine | LineError | None:
    """One JSONL line: an event, a located error, or None for a blank line."""
    stripped = raw.strip()
    if not stripped:
        return None
    try:
        data = json.loads(stripped)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        column = f", column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return LineError(number, None, f"not valid JSON{column}: {getattr(exc, 'msg', str(exc))}")
    event_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    if isinstance(data, dict) and data.get("type") not in EVENT_TYPES:
        return LineError(
            number, event_id, f"unknown event type {data.get('type')!r}; expected one of {', '.join(EVENT_TYPES)}"
        )
    try:
        event = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        return LineError(number, event_id, _describe(exc))
    # Idempotency compares content, not bytes: a re-export with other key order or spacing is the same event.
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return ParsedLine(number, event, canonical)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = ".".join(str(p) for p in error["loc"][1:] if not str(p).startswith("function")) or "event"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        parts.append(f"{loc}: {message}")
    return "; ".join(parts)


def read_lines(lines: Iterable[bytes]) -> Iterator[ParsedLine | LineError]:
    for number, raw in enumerate(lines, start=1):
        parsed = parse_line(number, raw)
        if parsed is not None:
            yield parsed
