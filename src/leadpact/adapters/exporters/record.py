"""What an export knows of each lead, and how a layout turns it into one row of cells.

A layout is a tuple of columns, each a header and the function giving its cell, so a header
and its cells never drift apart. Times are written in the time zone the export is given (the
active pact's calendar zone): the people reading or importing the file live there.

Pure mapping: must not import the store, services or entry points, and does no IO.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from leadpact.domain.clocks import ClockRun, ClockState
from leadpact.domain.lifecycle import Stage
from leadpact.domain.scoring import AttributeValue


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """One lead as an export writes it: its stored state, its score and its newest clock, both at
    the export's `now`."""

    id: int
    email: str | None
    attributes: Mapping[str, AttributeValue]
    stage: Stage
    stage_changed_at: datetime
    owner: str | None
    owner_email: str | None
    owner_department: str | None
    score: float | None  # None without an active pact
    clock: ClockRun | None  # the clock started last, running or not
    clock_state: ClockState | None
    business_days_late: int | None
    refs: tuple[tuple[str, str], ...] = ()  # (system, external id), sorted

    def attribute(self, name: str) -> str:
        return attribute_text(self.attributes.get(name))

    def ids_in(self, system: str) -> list[str]:
        """The lead's ids in one other system, as stored."""
        return [external for known, external in self.refs if known == system]


Cell = Callable[[LeadRecord, tzinfo], str]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    value: Cell


@dataclass(frozen=True, slots=True)
class Layout:
    """A file layout: its columns and the encoding its target reads unless told otherwise."""

    name: str
    columns: tuple[Column, ...]
    encoding: str

    @property
    def header(self) -> list[str]:
        return [column.header for column in self.columns]

    def cells(self, lead: LeadRecord, zone: tzinfo) -> list[str]:
        return [column.value(lead, zone) for column in self.columns]


def attribute_text(value: AttributeValue) -> str:
    """An attribute as a cell: nothing for none, true/false, whole numbers without `.0`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def score_text(score: float | None) -> str:
    """A score as `leadpact score` shows it: one decimal (never `-0.0`)."""
    if score is None:
        return ""
    return f"{score:.1f}".replace("-0.0", "0.0")


def iso_instant(at: datetime | None, zone: tzinfo) -> str:
    """ISO 8601 with the zone's offset, to the second: 2026-04-07T10:00:00+09:00."""
    return "" if at is None else at.astimezone(zone).isoformat(timespec="seconds")


def clock_id(lead: LeadRecord, _zone: tzinfo) -> str:
    return lead.clock.clock_id if lead.clock else ""


def clock_state(lead: LeadRecord, _zone: tzinfo) -> str:
    return lead.clock_state.value if lead.clock_state else ""


def days_late(lead: LeadRecord, _zone: tzinfo) -> str:
    return "" if lead.business_days_late is None else str(lead.business_days_late)


def score(lead: LeadRecord, _zone: tzinfo) -> str:
    return score_text(lead.score)


def attribute(name: str) -> Cell:
    def cell(lead: LeadRecord, _zone: tzinfo) -> str:
        return lead.attribute(name)

    return cell


def last_name(lead: LeadRecord) -> str:
    """The family name: `last_name` as imported, else the whole `name` (a Japanese full name is
    written family name first, a Western one given name first: it is not split by guessing)."""
    return lead.attribute("last_name") or lead.attribute("name")
