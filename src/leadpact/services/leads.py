"""Reading one lead: its attributes, stage, owner, score and timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadpact.adapters.db.identities import Companies, Identities
from leadpact.adapters.db.store import Store, activity_from_row
from leadpact.domain.clocks import ClockRun
from leadpact.domain.errors import DomainError, NotFound
from leadpact.domain.lead import Lead, scoring_attributes
from leadpact.domain.ledger import LedgerEntry
from leadpact.domain.scoring import ScoreBreakdown, ScoreState, score


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str  # activity | transition | assignment | contact | bant | merge | unmerge | dispute | resolution
    text: str
    pact_version: int | None = None
    seq: int | None = None
    entry: LedgerEntry | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LeadView:
    lead: Lead
    refs: list[tuple[str, str]]
    score: ScoreBreakdown | None
    timeline: list[TimelineItem]
    timezone: str = "Asia/Tokyo"  # the active pact's calendar zone: how people there read times
    clocks: list[ClockRun] = field(default_factory=list)  # its handoff clocks, oldest first
    other_emails: list[str] = field(default_factory=list)  # addresses it is also known by (docs/identity.md)
    company: tuple[str | None, list[str]] | None = None  # the company it was found to work for, and its domains


def require_lead(store: Store, key: str) -> Lead:
    lead = store.leads.find(key)
    if lead is None:
        raise NotFound(f"no lead with id or e-mail {key!r}")
    return lead


def score_lead(store: Store, key: str, at: datetime) -> ScoreBreakdown:
    """The lead's score now under the active pact, recomputed from its activities."""
    with store:
        lead = require_lead(store, key)
        pact = store.pacts.active()
        if pact is None:
            raise DomainError("no active pact: scores are computed under an approved pact")
        return _score_now(store, lead, pact.version, pact.pact, at)


def _score_now(store: Store, lead: Lead, version: int, pact: Any, at: datetime) -> ScoreBreakdown:
    stored = store.scores.current([lead.id], version, pact).get(lead.id)
    if stored is not None:
        state = stored.state
    else:
        state = ScoreState().fold_all(pact, (activity_from_row(r) for r in store.activities.of_lead(lead.id)))
    return score(pact, version, state, scoring_attributes(lead.email, lead.attributes), at)


def show_lead(store: Store, key: str, at: datetime) -> LeadView:
    """Everything known about one lead, with a timeline of activities and ledger entries."""
    with store:
        lead = require_lead(store, key)
        pact = store.pacts.active()
        breakdown = _score_now(store, lead, pact.version, pact.pact, at) if pact else None
        timeline = [
            TimelineItem(row.occurred_at, "activity", row.type, properties=row.properties)
            for row in store.activities.of_lead(lead.id)
        ]
        for seq, entry in store.ledger.of_lead(lead.id):
            timeline.append(TimelineItem(entry.at, entry.kind.value, _describe(entry), entry.pact_version, seq, entry))
        timeline.sort(key=lambda item: (item.at, item.seq or 0))
        zone = pact.pact.calendar.timezone if pact else "Asia/Tokyo"
        others = [e for e in Identities(store.connection).other_emails(lead.id) if e != lead.email]
        return LeadView(
            lead,
            store.leads.refs_of(lead.id),
            breakdown,
            timeline,
            zone,
            store.clocks.of_lead(lead.id),
            others,
            Companies(store.connection).of_lead(lead.id),
        )


def _describe(entry: LedgerEntry) -> str:
    text = _what(entry)
    if entry.imported:
        where = entry.evidence
        text += f" [imported: {where.get('file')}:{where.get('line')} {where.get('column')}]"
    return text


def _what(entry: LedgerEntry) -> str:
    kind = entry.kind.value
    if kind == "transition":
        text = f"{entry.from_stage} → {entry.to_stage}"
        if entry.reason:
            text += f" ({entry.reason})"
        if entry.override:
            text += " [override]"
        return text + f" by {entry.actor} ({entry.department})"
    if kind == "assignment":
        return f"assigned to {entry.owner} by {entry.actor}"
    if kind == "contact":
        return f"contact by {entry.actor} ({entry.evidence.get('channel')})"
    if kind in ("merge", "unmerge"):
        return _describe_merge(entry)
    if kind == "dispute":
        return f"rejection #{entry.evidence.get('rejection')} disputed by {entry.actor} ({entry.department})"
    if kind == "resolution":
        e = entry.evidence
        text = f"dispute #{e.get('dispute')} {e.get('outcome')} by {entry.actor}"
        if e.get("reinstated"):
            text += f"; back to {e.get('reinstated')}" + (f" with {e.get('given_to')}" if e.get("given_to") else "")
        elif e.get("moved_on_to"):
            text += f"; not given back (the lead had moved on to {e.get('moved_on_to')})"
        return text
    bant = entry.evidence.get("bant", {})
    confirmed = [k for k, v in bant.items() if v] if isinstance(bant, dict) else []
    return f"BANT by {entry.actor}: {', '.join(confirmed) or 'none confirmed'}"


def _describe_merge(entry: LedgerEntry) -> str:
    """A merge or its undo as the lead's timeline tells it (the evidence names both leads)."""
    e = entry.evidence
    merge, survivor, absorbed = e.get("merge"), e.get("survivor"), e.get("absorbed")
    if entry.kind.value == "unmerge":
        return f"merge {merge} undone by {entry.actor}: leads {survivor} and {absorbed} are two again"
    if entry.lead_id == absorbed:
        return f"merged into lead {survivor} (merge {merge}, {e.get('rule')}) by {entry.actor}"
    moved = f"; now {entry.from_stage} → {entry.to_stage}" if entry.to_stage else ""
    return f"absorbed lead {absorbed} (merge {merge}, {e.get('rule')}) by {entry.actor}{moved}"
