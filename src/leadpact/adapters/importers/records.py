"""What one row of an export says, once its vendor's columns and values are read.

Every format reads its rows into these records (see `formats.py`); the import service applies
them without knowing which vendor wrote the file. A `LeadRecord` is a lead as the export shows
it (who, its attributes, its stage and the stage history the export carries); an
`ActivityRecord` is one behavioural event with its id in the source system; `ActivityColumns`
is a batch of them as columns, what the bulk path of an activity import reads.

Pure data: no IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadpact.domain.lifecycle import Stage
from leadpact.domain.scoring import AttributeValue


@dataclass(frozen=True, slots=True)
class Identity:
    """How a row names its person: an e-mail address as written and each system's id for them."""

    email: str | None
    refs: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.email) or bool(self.refs)

    def describe(self) -> str:
        named = [self.email] if self.email else []
        return ", ".join(named + [f"{system}:{ref}" for system, ref in self.refs]) or "nobody"


@dataclass(frozen=True, slots=True)
class StageMark:
    """The export says the lead entered `stage` at `at` (None: it says so without a date)."""

    stage: Stage
    at: datetime | None
    column: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LeadRecord:
    line: int
    identity: Identity
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    # The stage history the row carries, oldest first; the last mark is the stage it shows now.
    marks: tuple[StageMark, ...] = ()
    owner: str | None = None
    owner_at: datetime | None = None
    created_at: datetime | None = None
    # A deal or opportunity row moves leads that must exist already: it never creates one.
    creates: bool = True


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    line: int
    event_id: str
    identity: Identity
    type: str
    at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ActivityColumns:
    """A batch of activity rows read as columns, one list per field, so a bulk import builds no
    record per row. Rows name their lead either all by one system's id (`system` and `refs`,
    what a vendor's activity extract does) or each by an `Identity` (`identities`)."""

    lines: list[int] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    micros: list[int] = field(default_factory=list)  # when it happened, µs since the epoch, UTC
    properties: list[Mapping[str, Any]] = field(default_factory=list)
    properties_json: list[str] = field(default_factory=list)  # the same, as stored
    digests: list[str] = field(default_factory=list)  # of the cells read (the re-import check)
    system: str | None = None
    refs: list[str] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def identity(self, i: int) -> Identity:
        return Identity(None, ((self.system, self.refs[i]),)) if self.system is not None else self.identities[i]
