"""The feedback loop: sales' rejection reasons summed up for marketing, by what marketing controls.

Marketing chooses where leads come from and what it shows them, so the reasons sales gives
are grouped by:

* **source** — the lead's `source` attribute (web_form, seminar, ad, … as the MA or CRM
  calls it);
* **campaign** — the lead's `campaign` attribute;
* **content** — what made the lead an MQL: the activity at the instant of the handoff (the
  automatic MQL is dated at the activity that met the criteria; otherwise the latest
  activity before the handoff), named by its type and the first of its properties `asset`,
  `content`, `seminar`, `exhibition`, `form`, `url` (without query or fragment, so tagged
  links to one page count together) and `title`; the type alone when it has none of them.

Attributes are read as they are now (leadpact keeps no history of them). A lead without the
attribute, or without activity before its handoff, is grouped under "none" (`key` None).
Each group counts its rejections by reason, each reason's share of the group, the group's
share of all, how disputes of them stand, and the newest notes sales wrote.

Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from leadpact.domain.disputes import RejectionStatus, RejectionVerdict
from leadpact.domain.lifecycle import ReasonKind
from leadpact.domain.scoring import Activity

CONTENT_PROPERTIES: Final = ("asset", "content", "seminar", "exhibition", "form", "url", "title")
EXAMPLES: Final = 3


class GroupBy(StrEnum):
    SOURCE = "source"
    CAMPAIGN = "campaign"
    CONTENT = "content"


def tipping_activity(activities: Iterable[Activity], at: datetime, prefer: str | None = None) -> Activity | None:
    """The activity that made a lead an MQL at `at`: its latest at or before that instant; among
    several at that very instant, the last of type `prefer` (the MQL trigger's) if any."""
    before = [a for a in activities if a.at <= at]
    if not before:
        return None
    last = max(a.at for a in before)
    same = [a for a in before if a.at == last]
    preferred = [a for a in same if a.type == prefer]
    return (preferred or same)[-1]


def content_of(activity: Activity | None) -> str | None:
    """The content an activity stands for: `type: asset|seminar|…|page`, or the type alone."""
    if activity is None:
        return None
    for name in CONTENT_PROPERTIES:
        value = activity.properties.get(name)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if name == "url":
                text = text.split("#", 1)[0].split("?", 1)[0]
            return f"{activity.type}: {text}"
    return activity.type


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """One rejection with where it stands and what marketing knows of the lead."""

    verdict: RejectionVerdict
    source: str | None = None
    campaign: str | None = None
    content: str | None = None

    def key(self, by: GroupBy) -> str | None:
        return {GroupBy.SOURCE: self.source, GroupBy.CAMPAIGN: self.campaign, GroupBy.CONTENT: self.content}[by]


@dataclass(frozen=True, slots=True)
class Example:
    """A note sales wrote with a rejection."""

    lead_id: int
    seq: int
    at: datetime
    actor: str
    note: str


@dataclass(frozen=True, slots=True)
class ReasonLine:
    kind: ReasonKind
    code: str | None
    count: int
    share: float  # of the group's rejections
    statuses: Mapping[RejectionStatus, int]
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class GroupLine:
    key: str | None
    count: int
    share: float  # of all rejections in the report
    recycled: int
    disqualified: int
    statuses: Mapping[RejectionStatus, int]
    reasons: tuple[ReasonLine, ...]


def _statuses(items: Iterable[FeedbackItem]) -> dict[RejectionStatus, int]:
    counted = Counter(i.verdict.status for i in items)
    return {status: counted[status] for status in RejectionStatus}


def _examples(items: Sequence[FeedbackItem], limit: int) -> tuple[Example, ...]:
    noted = [i.verdict.rejection for i in items if (i.verdict.rejection.note or "").strip()]
    noted.sort(key=lambda r: (r.at, r.seq), reverse=True)
    return tuple(Example(r.lead_id, r.seq, r.at, r.actor, (r.note or "").strip()) for r in noted[:limit])


def summarise(items: Sequence[FeedbackItem], by: GroupBy, examples: int = EXAMPLES) -> tuple[GroupLine, ...]:
    """Rejections grouped by `by`, largest group first; in each, reasons by count (ties: recycle
    before disqualify, then by code), with up to `examples` of the newest notes per reason."""
    total = len(items)
    groups: dict[str | None, list[FeedbackItem]] = {}
    for item in items:
        groups.setdefault(item.key(by), []).append(item)
    lines = []
    for key, members in groups.items():
        reasons: dict[tuple[ReasonKind, str | None], list[FeedbackItem]] = {}
        for item in members:
            rejection = item.verdict.rejection
            reasons.setdefault((rejection.kind, rejection.reason), []).append(item)
        reason_lines = [
            ReasonLine(
                kind=kind,
                code=code,
                count=len(of),
                share=len(of) / len(members),
                statuses=_statuses(of),
                examples=_examples(of, examples),
            )
            for (kind, code), of in reasons.items()
        ]
        reason_lines.sort(key=lambda r: (-r.count, r.kind != "recycle", r.code or ""))
        recycled = sum(1 for i in members if i.verdict.rejection.kind == "recycle")
        lines.append(
            GroupLine(
                key=key,
                count=len(members),
                share=len(members) / total,
                recycled=recycled,
                disqualified=len(members) - recycled,
                statuses=_statuses(members),
                reasons=tuple(reason_lines),
            )
        )
    lines.sort(key=lambda g: (-g.count, g.key is None, g.key or ""))
    return tuple(lines)
