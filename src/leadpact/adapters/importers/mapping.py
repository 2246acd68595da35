"""The import mapping file (`leadpact import --mapping MAP.yaml`): what an export's own names mean.

Every org customises its CRM: a custom field holds the segment, a custom status means
"nurturing", a Marketo form is a document download. The mapping names those, and only
those; everything the vendor ships by default is read without one. Example:

    columns:                 # leadpact field or attribute: the file's header
      segment: Segment__c
      email: メールアドレス
    stages:                  # a stage or status value in the file: a leadpact stage, or none
      Nurturing: recycled
      "12345678": mql        # a HubSpot custom lifecycle stage id
    reasons:                 # the reason code recorded with a value mapped to recycled/disqualified
      Nurturing: bad_timing
    activities:              # a Marketo activity type (id or name) or generic activity value
      "2": document_download
    owners:                  # the file's owner value: a leadpact user
      "0055g00000AbCdE": 中村 優子
    system: kintone          # generic files: the system whose record ids the file carries
    timezone: Asia/Tokyo     # times without an offset (default: the pact calendar's zone)

Problems are reported all at once, each with the file, line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadpact.adapters.located_yaml import (
    DocumentInvalid,
    LocatedProblem,
    load_mapping,
    locate_validation,
    located,
    plain,
    read_text,
)
from leadpact.domain.lifecycle import Stage

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
NONE_WORDS = ("none", "null", "ignore", "")


class MappingInvalid(DocumentInvalid):
    """The mapping file has problems; the import did not start."""


@dataclass(frozen=True, slots=True)
class ImportMapping:
    columns: Mapping[str, str] = field(default_factory=dict)
    stages: Mapping[str, Stage | None] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    activities: Mapping[str, str] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)
    system: str | None = None
    timezone: str | None = None

    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)], str] = {}
    stages: dict[str, str | None] = {}
    reasons: dict[str, Slug] = {}
    activities: dict[str, Slug] = {}
    owners: dict[str, str] = {}
    system: Slug | None = None
    timezone: str | None = None


def load_import_mapping(path: Path | None) -> ImportMapping:
    if path is None:
        return ImportMapping()
    return parse_import_mapping(read_text(path, MappingInvalid), str(path))


def parse_import_mapping(text: str, filename: str) -> ImportMapping:
    data = load_mapping(text, filename, MappingInvalid, "columns:, stages:, activities:, owners: …")
    # YAML reads `2: document_download` with an integer key; the file's values are text.
    document: dict[str, Any] = plain(data)
    for section in ("stages", "reasons", "activities", "owners"):
        if isinstance(document.get(section), dict):
            document[section] = {str(k): v for k, v in document[section].items()}
    try:
        parsed = _Document.model_validate(document)
    except ValidationError as exc:
        raise MappingInvalid(list(locate_validation(exc, data, filename))) from None
    problems: list[LocatedProblem] = []
    stages: dict[str, Stage | None] = {}
    for value, stage in parsed.stages.items():
        name = (stage or "").strip().lower()
        if name in NONE_WORDS:
            stages[value] = None
        elif name in Stage._value2member_map_:
            stages[value] = Stage(name)
        else:
            known = ", ".join(s.value for s in Stage)
            problems.append(located(data, filename, ("stages", value), f"unknown stage {stage!r} (one of {known})"))
    if parsed.timezone:
        try:
            ZoneInfo(parsed.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(located(data, filename, ("timezone",), f"unknown time zone {parsed.timezone!r}"))
    for value in parsed.reasons:
        if value not in parsed.stages:
            problems.append(located(data, filename, ("reasons", value), "a reason needs the value under stages: too"))
    if problems:
        raise MappingInvalid(problems)
    return ImportMapping(
        columns=parsed.columns,
        stages=stages,
        reasons=parsed.reasons,
        activities=parsed.activities,
        owners=parsed.owners,
        system=parsed.system,
        timezone=parsed.timezone,
    )
