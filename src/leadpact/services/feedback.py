"""`leadpact feedback`: the reasons sales gave in a period, summed up for marketing.

The rejections (domain.rejection) dated in the period, read in the active pact calendar's
time zone, with where their disputes stand now, grouped by the lead's source, campaign or
content (domain.feedback). Reason labels come from the pact version each rejection was made
under, else from the active one.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from leadpact.adapters.db.rejections import Rejections, Seq
from leadpact.adapters.db.store import Store, activity_from_row
from leadpact.domain.disputes import RejectionStatus, RejectionVerdict, disputes_from, rejection_verdicts
from leadpact.domain.errors import DomainError
from leadpact.domain.feedback import FeedbackItem, GroupBy, GroupLine, content_of, summarise, tipping_activity
from leadpact.domain.lifecycle import ReasonKind
from leadpact.domain.pact import ReasonCode
from leadpact.domain.period import Period, parse_period
from leadpact.domain.rejection import Rejection, handoff_before
from leadpact.services.disputes import Pacts
from leadpact.services.lifecycle import require_active_pact


class UnknownGrouping(DomainError):
    """A `--by` that is none of the groupings."""


def parse_grouping(text: str) -> GroupBy:
    try:
        return GroupBy(text.strip().lower())
    except ValueError:
        raise UnknownGrouping(
            f"cannot group feedback by {text!r}; group it by one of: {', '.join(g.value for g in GroupBy)}"
        ) from None


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    period: Period
    by: GroupBy
    total: int
    statuses: Mapping[RejectionStatus, int]
    groups: tuple[GroupLine, ...]
    labels: Mapping[tuple[ReasonKind, str], ReasonCode]  # the reason codes the groups name


def feedback_report(store: Store, period: str, by: GroupBy) -> FeedbackReport:
    """The rejections dated in `period`, grouped by `by`, with their reasons, disputes and notes."""
    with store:
        active = require_active_pact(store)
        calendar = active.pact.calendar
        found = parse_period(period, calendar.timezone, calendar.fiscal_year_start)
        pacts = Pacts(store, active)
        repo = Rejections(store.connection)
        verdicts = verdicts_between(store, pacts, found.start, found.end)
        rejections = [v.rejection for v in verdicts]
        leads = repo.leads({r.lead_id for r in rejections})
        contents = _contents(store, repo, rejections) if by is GroupBy.CONTENT else {}
        items = []
        for verdict in verdicts:
            rejection = verdict.rejection
            attributes = leads.get(rejection.lead_id, (None, {}))[1]
            items.append(
                FeedbackItem(
                    verdict,
                    source=_text(attributes.get("source")),
                    campaign=_text(attributes.get("campaign")),
                    content=contents.get(rejection.seq),
                )
            )
        labels = {}
        for rejection in rejections:
            code = pacts.reason(rejection)
            if code is not None and rejection.reason is not None:
                labels[(rejection.kind, rejection.reason)] = code
        statuses = {s: sum(1 for v in verdicts if v.status is s) for s in RejectionStatus}
        return FeedbackReport(found, by, len(items), statuses, summarise(items, by), labels)


def verdicts_between(store: Store, pacts: Pacts, start: datetime, end: datetime) -> list[RejectionVerdict]:
    """Every rejection dated in [start, end), in ledger order, with where its dispute stands now and
    whom it counts against (domain.disputes.rejection_verdicts), inside the caller's unit of work."""
    repo = Rejections(store.connection)
    rejections = [r for seq, e in repo.between(start, end) if (r := pacts.rejection(seq, e))]
    lead_ids = {r.lead_id for r in rejections}
    disputes = disputes_from(repo.disputes(lead_ids)) if lead_ids else []
    return rejection_verdicts(rejections, disputes, pacts.active.pact.mql.responsible)


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _contents(store: Store, repo: Rejections, rejections: Sequence[Rejection]) -> dict[int, str | None]:
    """Each rejection's content: the activity at its lead's handoff (domain.feedback)."""
    lead_ids = {r.lead_id for r in rejections}
    transitions: dict[int, list[Seq]] = {}
    for seq, entry in repo.transitions(lead_ids):
        transitions.setdefault(entry.lead_id, []).append((seq, entry))
    activities = {
        lead_id: [activity_from_row(row) for row in rows]
        for lead_id, rows in store.activities.of_leads(lead_ids).items()
    }
    found: dict[int, str | None] = {}
    for rejection in rejections:
        handoff = handoff_before(transitions.get(rejection.lead_id, []), rejection)
        if handoff is None:
            found[rejection.seq] = None
            continue
        trigger = handoff[1].evidence.get("trigger")
        prefer = trigger.get("activity") if isinstance(trigger, Mapping) else None
        tipped = tipping_activity(activities.get(rejection.lead_id, []), handoff[1].at, _text(prefer))
        found[rejection.seq] = content_of(tipped)
    return found
