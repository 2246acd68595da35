"""The formats `leadpact import --format` reads, each turning a row into records.

A format finds its columns in the file's header (the vendor's names, plus what the mapping
file adds or renames) and reads each row into `LeadRecord`s (a lead as the export shows it) or
an `ActivityRecord` (one behavioural event). A cell that cannot be read raises `CellError`
naming its column; the import puts the row in quarantine with that reason.

| format | rows are | names the lead by |
|---|---|---|
| hubspot-contacts | leads, with lifecycle stage, lead status, "Became a … Date" history | e-mail, Record ID |
| hubspot-deals | deals moving their associated contacts to opportunity, won or lost | HubSpot contact ids |
| salesforce-leads | leads, stage from conversion and Status | e-mail, Lead Id, converted Contact Id |
| salesforce-opportunities | opportunities moving the leads converted into them | converted opportunity or Contact Id |
| marketo-leads | leads (statuses only through the mapping) | e-mail, Marketo id |
| marketo-activities | Bulk Activity Extract rows | Marketo lead id |
| generic | leadpact's own column names (see docs/imports.md), leads or activities | e-mail, record id |

Pure: rows in, records out; the reader and the import service do the IO.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any, Literal

from leadpact.adapters.importers import hubspot, marketo, salesforce
from leadpact.adapters.importers.mapping import ImportMapping
from leadpact.adapters.importers.records import ActivityColumns, ActivityRecord, Identity, LeadRecord, StageMark
from leadpact.adapters.importers.table import Row
from leadpact.adapters.importers.values import (
    Vocabulary,
    clean,
    find_columns,
    key,
    parse_bool,
    parse_datetime,
    parse_int,
)
from leadpact.domain.lead import is_plausible_email, normalise_email
from leadpact.domain.lifecycle import Stage
from leadpact.domain.scoring import AttributeValue

Kind = Literal["leads", "activities"]
Unread = list[tuple[Row, "CellError"]]  # the rows of a batch that could not be read, and why
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CACHED = 100_000  # distinct cell texts a bulk reader keeps the JSON of, at most
MICROSECOND = timedelta(microseconds=1)
FORMATS = (
    "hubspot-contacts",
    "hubspot-deals",
    "salesforce-leads",
    "salesforce-opportunities",
    "marketo-leads",
    "marketo-activities",
    "generic",
)


class CellError(ValueError):
    """A cell that cannot be read: the row goes to quarantine with the column and the reason."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


class FormatError(ValueError):
    """The file cannot be read as the format at all (a required column is missing)."""


# Attributes a lead export carries, read the same way in every format.
TEXT_ATTRIBUTES = ("company", "industry", "title", "prefecture", "source", "campaign", "segment", "region", "size")
INTEGER_ATTRIBUTES = ("employees",)
BOOLEAN_ATTRIBUTES = ("is_competitor",)


@dataclass
class Columns:
    """The file's column for each field the format reads (mapping first), and the rest unread."""

    found: dict[str, str]
    extra: dict[str, str]  # attributes the mapping adds: name → column
    positions: Mapping[str, int]
    unread: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, header: Sequence[str], table: Mapping[str, tuple[str, ...]], mapping: ImportMapping) -> Columns:
        found = find_columns(header, table)
        by_key = {key(name): name for name in header}
        extra: dict[str, str] = {}
        for name, column in mapping.columns.items():
            actual = by_key.get(key(column))
            if actual is None:
                raise FormatError(f"the mapping names column {column!r} for {name}, but the file has no such column")
            if name in table:
                found[name] = actual
            else:
                extra[name] = actual
        positions = {name: i for i, name in enumerate(header)}
        used = set(found.values()) | set(extra.values())
        return cls(found, extra, positions, [name for name in header if name and name not in used])

    def cell(self, row: Row, name: str) -> str | None:
        """The field's text, or None when the file has no such column or the cell is blank."""
        column = self.found.get(name) or self.extra.get(name)
        if column is None:
            return None
        value = row.values[self.positions[column]]
        return value if value and not value.isspace() else None

    def column(self, name: str) -> str:
        return self.found.get(name) or self.extra.get(name) or name

    def require(self, *names: str, what: str) -> None:
        """At least one of `names` must be a column of the file."""
        if not any(n in self.found or n in self.extra for n in names):
            raise FormatError(f"no {' or '.join(names)} column: {what}")


@dataclass(frozen=True)
class Context:
    file: str
    zone: tzinfo
    mapping: ImportMapping


_VALUES = attrgetter("values")
_DIGEST = partial(hashlib.blake2b, digest_size=16)
_HEX = type(hashlib.blake2b()).hexdigest


class Reader:
    """Reads the rows of one file of one format."""

    kind: Kind = "leads"
    source = "import"  # activity readers: the system whose activity ids the rows carry (the inbox key)
    _id: int  # activity readers: the id column's position, and the positions of the cells they read
    _read: list[int]

    def __init__(self, header: Sequence[str], context: Context) -> None:
        self.context = context
        self.zone = context.zone
        self.mapping = context.mapping
        self.columns = Columns.of(header, self.table(), self.mapping)
        self.check()

    def table(self) -> Mapping[str, tuple[str, ...]]:
        raise NotImplementedError

    def check(self) -> None:
        """Refuse a file the format cannot read at all."""

    def read(self, row: Row) -> list[LeadRecord] | ActivityRecord:
        raise NotImplementedError

    def identify(self, rows: Sequence[Row]) -> list[tuple[str, str] | None]:
        """Each activity row's id in its source and a digest of the cells read from it (None: no id).

        Cheap on purpose: a re-import recognises a row it has by these alone, without reading it.
        The id is the cell at `self._id`, the digest covers the cells at `self._read` (both set by
        the activity formats' `check`), gathered by one C call per row.
        """
        # Built-ins mapped over the batch, not a loop: no Python frame per row (twice as fast).
        values = list(map(_VALUES, rows))
        event_ids = map(str.strip, map(itemgetter(self._id), values))
        if len(self._read) > 1:
            contents: Iterator[str] = map("\x1f".join, map(itemgetter(*self._read), values))
        else:
            contents = map(itemgetter(self._read[0]), values)
        digests = map(_HEX, map(_DIGEST, map(str.encode, contents)))
        return [(event_id, digest) if event_id else None for event_id, digest in zip(event_ids, digests, strict=True)]

    def read_columns(self, rows: Sequence[Row], digests: Mapping[int, str]) -> tuple[ActivityColumns, Unread]:
        """Activity rows as columns (`digests`: each row's, by line), and the rows that could not be read.

        This reads a record per row; a format made for bulk extracts reads the batch straight into
        columns instead.
        """
        columns, unread = ActivityColumns(), []
        for row in rows:
            try:
                record = self.read(row)
            except CellError as exc:
                unread.append((row, exc))
                continue
            assert isinstance(record, ActivityRecord)
            columns.lines.append(record.line)
            columns.event_ids.append(record.event_id)
            columns.identities.append(record.identity)
            columns.types.append(record.type)
            columns.micros.append((record.at - EPOCH) // MICROSECOND)
            columns.properties.append(record.properties)
            columns.properties_json.append(json.dumps(record.properties, ensure_ascii=False, separators=(",", ":")))
            columns.digests.append(digests[row.line])
        return columns, unread

    # --- cells ---------------------------------------------------------------

    def text(self, row: Row, name: str) -> str | None:
        value = self.columns.cell(row, name)
        if value is None:
            return None
        value = clean(value)
        if looks_like_formula(value):
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise CellError(self.columns.column(name), f"{shown!r} is a spreadsheet formula, not a value")
        return value

    def when(self, row: Row, name: str) -> datetime | None:
        value = self.columns.cell(row, name)
        if value is None:
            return None
        try:
            return parse_datetime(value, self.zone)
        except ValueError as exc:
            raise CellError(self.columns.column(name), str(exc)) from None

    def meaning(self, row: Row, name: str, read: Callable[[str], Any]) -> Any:
        value = self.columns.cell(row, name)
        if value is None:
            return None
        try:
            return read(value)
        except ValueError as exc:
            raise CellError(self.columns.column(name), str(exc)) from None

    def email(self, row: Row) -> str | None:
        value = self.columns.cell(row, "email")
        if value is None:
            return None
        email = normalise_email(value)
        if not is_plausible_email(email):
            raise CellError(self.columns.column("email"), f"{value.strip()!r} is not an e-mail address")
        return email

    def ref(self, row: Row, name: str, system: str) -> tuple[str, str] | None:
        value = self.text(row, name)
        return (system, value) if value else None

    def attributes(self, row: Row) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue] = {}
        for name in TEXT_ATTRIBUTES:
            value = self.text(row, name)
            if value is not None:
                found[name] = value
        for name in INTEGER_ATTRIBUTES:
            number = self.meaning(row, name, parse_int)
            if number is not None:
                found[name] = number
        for name in BOOLEAN_ATTRIBUTES:
            flag = self.meaning(row, name, parse_bool)
            if flag is not None:
                found[name] = flag
        first, last = self.text(row, "first_name"), self.text(row, "last_name")
        # 姓 名 as Japanese names are written; Latin-script names in their own order.
        order = (first, last) if (first or "").isascii() and (last or "").isascii() else (last, first)
        name = " ".join(part for part in order if part)
        if name:
            found["name"] = name
        for extra in self.columns.extra:
            if extra not in found:
                value = self.text(row, extra)
                if value is not None:
                    found[extra] = value
        return found

    def mapped_stage(self, row: Row, name: str) -> StageMark | None:
        """A status the mapping gives a stage (Marketo's, a generic file's own words)."""
        value = self.text(row, name)
        if value is None:
            return None
        for written, stage in self.mapping.stages.items():
            if key(written) == key(value):
                if stage is None:
                    return None
                return StageMark(stage, None, self.columns.column(name), self.mapping.reasons.get(written))
        return None


def looks_like_formula(value: str) -> bool:
    """A cell a spreadsheet would run: `=…`, or +, - or @ before a function call (`@SUM(`, `+cmd|`)."""
    if value.startswith("="):
        return True
    if value[:1] in ("+", "-", "@"):
        rest = value[1:].lstrip()
        head = rest.split("(", 1)[0]
        return ("(" in rest and head.isidentifier()) or "|" in rest
    return False


def _stage_reason(mapping: ImportMapping, value: str) -> str | None:
    return next((reason for written, reason in mapping.reasons.items() if key(written) == key(value)), None)


# --- HubSpot -----------------------------------------------------------------


class HubspotContacts(Reader):
    def table(self) -> Mapping[str, tuple[str, ...]]:
        return {**hubspot.COLUMNS, **{f"became_{s.value}": names for s, names in hubspot.STAGE_DATES.items()}}

    def check(self) -> None:
        self.columns.require(
            "email", "record_id", what="a HubSpot contact export names each contact by Email or Record ID"
        )

    def read(self, row: Row) -> list[LeadRecord]:
        refs = [ref] if (ref := self.ref(row, "record_id", "hubspot")) else []
        marks = []
        for stage in hubspot.STAGE_DATES:
            at = self.when(row, f"became_{stage.value}")
            if at is not None:
                marks.append(StageMark(stage, at, self.columns.column(f"became_{stage.value}")))
        marks.sort(key=lambda m: m.at or datetime.min)
        lifecycle = self.text(row, "lifecycle_stage")
        if lifecycle is not None:
            column = self.columns.column("lifecycle_stage")
            try:
                current = hubspot.lifecycle_stage(lifecycle, self.mapping.stages)
            except ValueError as exc:
                raise CellError(column, str(exc)) from None
            if current is not None and (not marks or marks[-1].stage is not current):
                marks.append(StageMark(current, None, column, _stage_reason(self.mapping, lifecycle)))
        status = self.text(row, "lead_status")
        if status is not None:
            column = self.columns.column("lead_status")
            try:
                implied = hubspot.lead_status(status) if status not in self.mapping.stages else None
            except ValueError as exc:
                raise CellError(column, str(exc)) from None
            mapped = self.mapped_stage(row, "lead_status")
            if mapped is not None:
                marks.append(mapped)
            elif implied is not None:
                marks.append(StageMark(implied[0], None, column, implied[1]))
        return [
            LeadRecord(
                row.line,
                Identity(self.email(row), tuple(refs)),
                self.attributes(row),
                tuple(marks),
                owner=self.text(row, "owner"),
                owner_at=self.when(row, "owner_assigned_at"),
                created_at=self.when(row, "created_at"),
            )
        ]


DEAL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "record_id": ("hs_object_id", "Record ID", "レコードID", "Deal ID"),
    "name": ("dealname", "Deal Name", "取引名"),
    "deal_stage": ("dealstage", "Deal Stage", "取引ステージ"),
    "amount": ("amount", "Amount", "金額"),
    "close_date": ("closedate", "Close Date", "クローズ日", "完了予定日"),
    "created_at": ("createdate", "Create Date", "作成日"),
    "contacts": ("Associated Contact IDs", "associatedcontactids", "関連付けられたコンタクトのID", "関連コンタクトID"),
}

# The default sales pipeline's stages: every stage before closing is an open opportunity.
DEAL_STAGES: Mapping[str, tuple[tuple[str, ...], Stage | None]] = {
    "appointmentscheduled": (("Appointment Scheduled", "アポイント設定済み"), Stage.OPPORTUNITY),
    "qualifiedtobuy": (("Qualified To Buy", "購入見込みあり"), Stage.OPPORTUNITY),
    "presentationscheduled": (("Presentation Scheduled", "プレゼン予定済み"), Stage.OPPORTUNITY),
    "decisionmakerboughtin": (("Decision Maker Bought-In", "決裁者の賛同"), Stage.OPPORTUNITY),
    "contractsent": (("Contract Sent", "契約書送付済み"), Stage.OPPORTUNITY),
    "closedwon": (("Closed Won", "成約", "受注"), Stage.WON),
    "closedlost": (("Closed Lost", "失注", "不成立"), Stage.LOST),
}
_DEAL_STAGE = Vocabulary("deal stage", DEAL_STAGES, "the default pipeline's are")


class HubspotDeals(Reader):
    def table(self) -> Mapping[str, tuple[str, ...]]:
        return DEAL_COLUMNS

    def check(self) -> None:
        self.columns.require("deal_stage", what="a HubSpot deal export needs Deal Stage")
        self.columns.require("contacts", what="export deals with Associated Contact IDs, to know whose deal it is")

    def read(self, row: Row) -> list[LeadRecord]:
        value = self.text(row, "deal_stage")
        column = self.columns.column("deal_stage")
        if value is None:
            raise CellError(column, "empty: a deal needs its stage")
        try:
            stage = _DEAL_STAGE.meaning(value, self.mapping.stages)
        except ValueError as exc:
            raise CellError(column, str(exc)) from None
        contacts = [c.strip() for c in (self.text(row, "contacts") or "").replace(",", ";").split(";") if c.strip()]
        if not contacts:
            raise CellError(self.columns.column("contacts"), "empty: the deal has no associated contact")
        if stage is None:
            return []
        return _deal_records(
            row.line,
            [Identity(None, (("hubspot", c),)) for c in contacts],
            stage,
            opened=self.when(row, "created_at"),
            closed=self.when(row, "close_date"),
            columns=(self.columns.column("created_at"), column),
        )


def _deal_records(
    line: int,
    identities: Sequence[Identity],
    stage: Stage,
    opened: datetime | None,
    closed: datetime | None,
    columns: tuple[str, str],
) -> list[LeadRecord]:
    """A deal's leads entered opportunity when it opened and won or lost when it closed."""
    marks = [StageMark(Stage.OPPORTUNITY, opened, columns[0])]
    if stage is not Stage.OPPORTUNITY:
        marks.append(StageMark(stage, closed, columns[1]))
    return [LeadRecord(line, identity, marks=tuple(marks), creates=False) for identity in identities]


# --- Salesforce --------------------------------------------------------------


class SalesforceLeads(Reader):
    def table(self) -> Mapping[str, tuple[str, ...]]:
        return salesforce.LEAD_COLUMNS

    def check(self) -> None:
        self.columns.require("email", "record_id", what="a Salesforce lead export names each lead by Email or Id")

    def read(self, row: Row) -> list[LeadRecord]:
        refs = [
            ref
            for ref in (
                self.ref(row, "record_id", "salesforce"),
                self.ref(row, "converted_contact_id", "salesforce"),
                self.ref(row, "converted_opportunity_id", "salesforce_opportunity"),
            )
            if ref is not None
        ]
        status = self.text(row, "status")
        converted = self.meaning(row, "is_converted", parse_bool)
        column = self.columns.column("is_converted" if converted else "status")
        try:
            stage = salesforce.lead_stage(
                status,
                self.text(row, "is_converted"),
                self.text(row, "converted_opportunity_id"),
                overrides=self.mapping.stages,
            )
        except ValueError as exc:
            raise CellError(column, str(exc)) from None
        marks: list[StageMark] = []
        if stage is not None:
            at = self.when(row, "converted_at") if converted else None
            reason = _stage_reason(self.mapping, status) if status else None
            marks.append(StageMark(stage, at, column, reason))
        return [
            LeadRecord(
                row.line,
                Identity(self.email(row), tuple(refs)),
                self.attributes(row),
                tuple(marks),
                owner=self.text(row, "owner"),
                created_at=self.when(row, "created_at"),
            )
        ]


class SalesforceOpportunities(Reader):
    def table(self) -> Mapping[str, tuple[str, ...]]:
        return salesforce.OPPORTUNITY_COLUMNS

    def check(self) -> None:
        self.columns.require("record_id", what="a Salesforce opportunity export needs its Id")
        self.columns.require("is_closed", "is_won", what="export IsClosed and IsWon, which say how it ended")

    def read(self, row: Row) -> list[LeadRecord]:
        opportunity = self.text(row, "record_id")
        if opportunity is None:
            raise CellError(self.columns.column("record_id"), "empty: an opportunity needs its Id")
        try:
            stage = salesforce.opportunity_stage(
                self.columns.cell(row, "is_closed") or "", self.columns.cell(row, "is_won") or ""
            )
        except ValueError as exc:
            raise CellError(self.columns.column("is_closed"), str(exc)) from None
        refs: list[tuple[str, str]] = [("salesforce_opportunity", opportunity)]
        if contact := self.ref(row, "contact_id", "salesforce"):
            refs.append(contact)
        return _deal_records(
            row.line,
            [Identity(None, tuple(refs))],
            stage,
            opened=self.when(row, "created_at"),
            closed=self.when(row, "close_date"),
            columns=(self.columns.column("created_at"), self.columns.column("is_won")),
        )


# --- Marketo -----------------------------------------------------------------


class MarketoLeads(Reader):
    def table(self) -> Mapping[str, tuple[str, ...]]:
        return marketo.LEAD_COLUMNS

    def check(self) -> None:
        self.columns.require("email", "record_id", what="a Marketo lead export names each lead by email or id")

    def read(self, row: Row) -> list[LeadRecord]:
        refs = [ref] if (ref := self.ref(row, "record_id", "marketo")) else []
        attributes = self.attributes(row)
        score = self.meaning(row, "score", parse_int)
        if score is not None:
            attributes["marketo_score"] = score
        mark = self.mapped_stage(row, "status")
        return [
            LeadRecord(
                row.line,
                Identity(self.email(row), tuple(refs)),
                attributes,
                (mark,) if mark else (),
                created_at=self.when(row, "created_at"),
            )
        ]


class MarketoActivities(Reader):
    kind: Kind = "activities"
    source = "marketo"

    def table(self) -> Mapping[str, tuple[str, ...]]:
        return marketo.ACTIVITY_COLUMNS

    def check(self) -> None:
        self.columns.require("event_id", what="a Marketo activity extract needs marketoGUID (or id)")
        self.columns.require("lead_id", what="a Marketo activity extract needs leadId")
        self.columns.require("at", what="a Marketo activity extract needs activityDate")
        self.columns.require("type_id", "type", what="a Marketo activity extract needs activityTypeId")
        self.types = {key(k): v for k, v in self.mapping.activities.items()}
        p = self.columns.positions
        column = self.columns.found.get
        self._at = p[self.columns.found["at"]]
        self._id = p[self.columns.found["event_id"]]
        self._lead = p[self.columns.found["lead_id"]]
        self._type = p[c] if (c := column("type_id") or column("type")) else -1
        self._primary = p[c] if (c := column("primary")) else -1
        self._campaign = p[c] if (c := column("campaign_id")) else -1
        self._attributes = p[c] if (c := column("attributes")) else -1
        self._read = [
            i for i in (self._lead, self._at, self._type, self._primary, self._campaign, self._attributes) if i >= 0
        ]
        self._activity_cache: dict[tuple[str, str], str] = {}
        self._quoted: dict[str, str] = {}
        self._attributes_cache: dict[str, tuple[Any, str]] = {}

    def read(self, row: Row) -> ActivityRecord:
        # The hot path of a bulk import: cells by position, ISO dates parsed in C.
        values = row.values
        event_id, lead, type_value = values[self._id].strip(), values[self._lead].strip(), values[self._type].strip()
        if not event_id:
            raise CellError(self.columns.column("event_id"), "empty: an activity needs its id")
        if not lead:
            raise CellError(self.columns.column("lead_id"), "empty: an activity needs its lead")
        when = values[self._at]
        try:
            at = parse_datetime(when, self.zone)
        except ValueError as exc:
            raise CellError(self.columns.column("at"), str(exc)) from None
        primary = values[self._primary] if self._primary >= 0 else ""
        properties: dict[str, Any] = {}
        if primary:
            properties["primary"] = primary
        activity = self._activity(type_value, primary)
        if activity in ("page_view", "link_click") and primary:
            properties["url"] = primary
        if self._campaign >= 0 and values[self._campaign]:
            properties["campaign_id"] = values[self._campaign]
        if self._attributes >= 0 and len(values[self._attributes]) > 2:
            try:
                properties["attributes"] = json.loads(values[self._attributes])
            except ValueError as exc:
                raise CellError(self.columns.column("attributes"), f"not JSON: {exc}") from None
        return ActivityRecord(row.line, event_id, Identity(None, (("marketo", lead),)), activity, at, properties)

    def read_columns(self, rows: Sequence[Row], digests: Mapping[int, str]) -> tuple[ActivityColumns, Unread]:
        """The bulk path: a Bulk Activity Extract batch read straight into columns.

        What `read` does, without a record per row: cells by position, the activity of each
        distinct (type, primary) and the JSON text of each distinct cell worked out once per file,
        the JSON of the properties put together from those pieces rather than encoded row by row
        (the same text `json.dumps` writes). A row any of this does not fit is read by `read`, which
        says what is wrong with it.
        """
        columns, unread = ActivityColumns(system="marketo"), []
        lines, event_ids, refs, types = columns.lines, columns.event_ids, columns.refs, columns.types
        micros, properties, texts, row_digests = (
            columns.micros,
            columns.properties,
            columns.properties_json,
            columns.digests,
        )
        i_id, i_lead, i_at, i_type = self._id, self._lead, self._at, self._type
        i_primary, i_campaign, i_attributes = self._primary, self._campaign, self._attributes
        activity_of, quoted, attributes_of = self._activity_cache, self._quoted, self._attributes_cache
        fromisoformat = datetime.fromisoformat
        for row in rows:
            values = row.values
            event_id, lead = values[i_id].strip(), values[i_lead].strip()
            try:
                at = fromisoformat(values[i_at])
                if not event_id or not lead or at.tzinfo is None:
                    raise ValueError  # the careful path: an empty id, a local time or another notation
                type_value = values[i_type].strip()
                primary = values[i_primary] if i_primary >= 0 else ""
                activity = activity_of.get((type_value, primary))
                if activity is None:
                    activity = activity_of[(type_value, primary)] = self._activity(type_value, primary)
                found: dict[str, Any] = {}
                parts: list[str] = []
                if primary:
                    text = quoted.get(primary) or self._quote(primary)
                    found["primary"] = primary
                    parts.append('"primary":' + text)
                    if activity in ("page_view", "link_click"):
                        found["url"] = primary
                        parts.append('"url":' + text)
                if i_campaign >= 0 and (campaign := values[i_campaign]):
                    found["campaign_id"] = campaign
                    parts.append('"campaign_id":' + (quoted.get(campaign) or self._quote(campaign)))
                if i_attributes >= 0 and len(cell := values[i_attributes]) > 2:
                    parsed = attributes_of.get(cell) or self._attributes_json(cell)
                    found["attributes"] = parsed[0]
                    parts.append('"attributes":' + parsed[1])
            except ValueError:
                try:
                    record = self.read(row)
                except CellError as exc:
                    unread.append((row, exc))
                    continue
                found, at, activity = dict(record.properties), record.at, record.type
                parts = [json.dumps(found, ensure_ascii=False, separators=(",", ":"))[1:-1]] if found else []
            lines.append(row.line)
            event_ids.append(event_id)
            refs.append(lead)
            types.append(activity)
            micros.append((at - EPOCH) // MICROSECOND)
            properties.append(found)
            texts.append("{" + ",".join(parts) + "}")
            row_digests.append(digests[row.line])
        return columns, unread

    def _quote(self, text: str) -> str:
        """`text` as a JSON string, kept for the rows after (URLs and campaign ids repeat)."""
        if len(self._quoted) >= CACHED:
            self._quoted.clear()
        found = self._quoted[text] = json.dumps(text, ensure_ascii=False)
        return found

    def _attributes_json(self, cell: str) -> tuple[Any, str]:
        """The attributes cell parsed, and its compact JSON text; not JSON raises ValueError."""
        parsed = json.loads(cell)
        if len(self._attributes_cache) >= CACHED:
            self._attributes_cache.clear()
        found = self._attributes_cache[cell] = (parsed, json.dumps(parsed, ensure_ascii=False, separators=(",", ":")))
        return found

    def _activity(self, type_value: str, primary: str) -> str:
        """The leadpact activity of a Marketo type: the mapping (`2: …` or `2/form name: …`) first."""
        if self.types:
            found = self.types.get(key(f"{type_value}/{primary}")) or self.types.get(key(type_value))
            if found:
                return found
        known = marketo.ACTIVITY_TYPES.get(type_value)
        if known is not None:
            return known[1]
        by_name = marketo.ACTIVITY_NAMES.get(key(type_value))
        if by_name is not None:
            return by_name
        slug = "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in type_value.lower()).strip("_")
        return f"marketo_{slug or 'activity'}"


# --- generic -----------------------------------------------------------------

GENERIC_LEAD_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "record_id": ("record_id", "external_id", "id", "ID"),
    "email": ("email", "e-mail", "メールアドレス", "メール"),
    "first_name": ("first_name", "名"),
    "last_name": ("last_name", "姓"),
    "name": ("name", "氏名", "名前"),
    "company": ("company", "会社名"),
    "industry": ("industry", "業種"),
    "employees": ("employees", "従業員数"),
    "title": ("title", "役職"),
    "prefecture": ("prefecture", "都道府県"),
    "source": ("source", "流入元", "リードソース"),
    "campaign": ("campaign", "キャンペーン"),
    "segment": ("segment", "セグメント"),
    "region": ("region", "地域"),
    "size": ("size", "規模"),
    "is_competitor": ("is_competitor", "競合"),
    "stage": ("stage", "ステージ"),
    "stage_at": ("stage_changed_at", "stage_at", "ステージ変更日"),
    "reason": ("reason", "理由"),
    "owner": ("owner", "担当者"),
    "owner_at": ("owner_at", "assigned_at", "割り当て日"),
    "created_at": ("created_at", "作成日"),
}
GENERIC_ACTIVITY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "event_id": ("event_id", "id", "activity_id"),
    "email": ("email", "メールアドレス"),
    "record_id": ("record_id", "external_id", "lead_id"),
    "activity": ("activity", "type", "activity_type", "活動"),
    "at": ("at", "occurred_at", "日時"),
}
GENERIC_STAGES: Mapping[str, tuple[tuple[str, ...], Stage | None]] = {
    stage.value: (labels, stage)
    for stage, labels in {
        Stage.LEAD: ("リード",),
        Stage.MQL: ("マーケティング クオリファイド リード",),
        Stage.SAL: ("セールス アクセプテッド リード",),
        Stage.SQL: ("セールス クオリファイド リード",),
        Stage.OPPORTUNITY: ("商談", "商談化"),
        Stage.WON: ("受注", "成約"),
        Stage.LOST: ("失注",),
        Stage.RECYCLED: ("リサイクル", "ナーチャリング"),
        Stage.DISQUALIFIED: ("対象外", "不適格"),
    }.items()
}
_GENERIC_STAGE = Vocabulary("stage", GENERIC_STAGES, "leadpact's are")


def generic_kind(header: Sequence[str]) -> Kind:
    """A generic file holds activities when it has an activity column, else leads."""
    return "activities" if "activity" in find_columns(header, GENERIC_ACTIVITY_COLUMNS) else "leads"


class GenericLeads(Reader):
    def table(self) -> Mapping[str, tuple[str, ...]]:
        return GENERIC_LEAD_COLUMNS

    def check(self) -> None:
        self.columns.require("email", "record_id", what="name each lead by an email or record_id column")
        self.system = self.mapping.system or "generic"

    def read(self, row: Row) -> list[LeadRecord]:
        refs = [ref] if (ref := self.ref(row, "record_id", self.system)) else []
        attributes = self.attributes(row)
        if (name := self.text(row, "name")) is not None:
            attributes["name"] = name
        marks: list[StageMark] = []
        value = self.text(row, "stage")
        if value is not None:
            column = self.columns.column("stage")
            try:
                stage = _GENERIC_STAGE.meaning(value, self.mapping.stages)
            except ValueError as exc:
                raise CellError(column, str(exc)) from None
            if stage is not None:
                reason = self.text(row, "reason") or _stage_reason(self.mapping, value)
                marks.append(StageMark(stage, self.when(row, "stage_at"), column, reason))
        return [
            LeadRecord(
                row.line,
                Identity(self.email(row), tuple(refs)),
                attributes,
                tuple(marks),
                owner=self.text(row, "owner"),
                owner_at=self.when(row, "owner_at"),
                created_at=self.when(row, "created_at"),
            )
        ]


class GenericActivities(Reader):
    kind: Kind = "activities"

    def table(self) -> Mapping[str, tuple[str, ...]]:
        return GENERIC_ACTIVITY_COLUMNS

    def check(self) -> None:
        self.columns.require("event_id", what="each activity needs its id in the source system (event_id)")
        self.columns.require("email", "record_id", what="name each activity's lead by email or record_id")
        self.columns.require("at", what="each activity needs its time (at)")
        self.system = self.source = self.mapping.system or "generic"
        # Every other column is a property of the activity (url, form, campaign…).
        self.properties = [(name, i) for name, i in self.columns.positions.items() if name in self.columns.unread]
        self.columns.unread = []
        self.types = {key(k): v for k, v in self.mapping.activities.items()}
        positions = self.columns.positions
        self._id = positions[self.columns.found["event_id"]]
        self._read = sorted(i for name, i in positions.items() if i != self._id)

    def read(self, row: Row) -> ActivityRecord:
        event_id = self.text(row, "event_id")
        if event_id is None:
            raise CellError(self.columns.column("event_id"), "empty: an activity needs its id")
        activity = self.text(row, "activity")
        if activity is None:
            raise CellError(self.columns.column("activity"), "empty: an activity needs its type")
        activity = self.types.get(key(activity), activity)
        if not activity.isascii() or not activity.replace("_", "").isalnum() or not activity[0].isalpha():
            raise CellError(
                self.columns.column("activity"),
                f"{activity!r} is not an activity name (lower-case letters, digits, _; map others in --mapping)",
            )
        at = self.when(row, "at")
        if at is None:
            raise CellError(self.columns.column("at"), "empty: an activity needs its time")
        refs = ((self.system, ref),) if (ref := self.text(row, "record_id")) else ()
        identity = Identity(self.email(row), refs)
        if not identity:
            raise CellError(self.columns.column("email"), "empty: name the activity's lead by email or record_id")
        properties = {name: row.values[i] for name, i in self.properties if row.values[i]}
        return ActivityRecord(row.line, event_id, identity, activity.lower(), at, properties)


READERS: Mapping[str, type[Reader]] = {
    "hubspot-contacts": HubspotContacts,
    "hubspot-deals": HubspotDeals,
    "salesforce-leads": SalesforceLeads,
    "salesforce-opportunities": SalesforceOpportunities,
    "marketo-leads": MarketoLeads,
    "marketo-activities": MarketoActivities,
}


def reader_for(name: str, header: Sequence[str], context: Context) -> Reader:
    """The reader of format `name` for a file with this header; FormatError if it cannot read it."""
    if name == "generic":
        kind = generic_kind(header)
        return GenericActivities(header, context) if kind == "activities" else GenericLeads(header, context)
    found = READERS.get(name)
    if found is None:
        raise FormatError(f"unknown format {name!r}; one of {', '.join(FORMATS)}")
    return found(header, context)
