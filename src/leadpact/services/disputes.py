"""Disputes of rejections: marketing opens one, a manager resolves it, everyone can list them.

`open_dispute` records, with the dispute, which MQL criteria held when the lead was handed
off and under which pact version: the criteria the handoff's own ledger entry checked (an
automatic MQL), or, when it recorded none (an imported stage, a lead moved straight to sql),
a check made now with the pact version in force at the handoff over the activities known up
to it and the lead's attributes as they are now.

`resolve_dispute` records the verdict. An overturn gives the lead back to sales in the same
unit of work: a manager's override transition to the stage it was rejected from (the clocks
that stage starts start), then an assignment to the rep who held it, or to `--to`, which
starts the follow-up clock again. Nothing recorded before is changed.

Every step writes the lead's row with its version checked, so two people disputing or
resolving the same lead at once cannot both pass the checks: the second starts over and is
refused with the reason.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from leadpact.adapters.db.rejections import Rejections, Seq
from leadpact.adapters.db.store import PactVersion, Store, User, activity_from_row
from leadpact.domain.disputes import (
    Dispute,
    DisputeRefused,
    Outcome,
    check_open,
    check_resolve,
    disputes_from,
    reinstatement,
)
from leadpact.domain.errors import DomainError, NotFound
from leadpact.domain.lead import Lead, company_of, scoring_attributes
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import Pact, ReasonCode
from leadpact.domain.qualification import check_mql
from leadpact.domain.rejection import SALES_ROLES, Rejection, handoff_before, rejection_of, version_in_force
from leadpact.domain.scoring import ScoreState, score
from leadpact.services.leads import require_lead
from leadpact.services.lifecycle import Workbench, actor_of, require_active_pact, retrying
from leadpact.services.users import require_user


@dataclass(frozen=True, slots=True)
class DisputeView:
    """A dispute with the rejection it contests and the lead it is about."""

    dispute: Dispute
    rejection: Rejection
    email: str | None
    company: str | None
    stage: Stage  # the lead's stage now
    reason: ReasonCode | None  # the rejection's reason as the pact labels it
    zone: str  # the active pact calendar's time zone, for showing times


class Pacts:
    """Every pact version, to read each ledger entry under the version it was made under."""

    def __init__(self, store: Store, active: PactVersion) -> None:
        self.active = active
        self.versions = {v.version: v for v in store.pacts.all()}

    def of(self, entry: LedgerEntry) -> Pact:
        found = self.versions.get(entry.pact_version) if entry.pact_version is not None else None
        return (found or self.active).pact

    def rejection(self, seq: int, entry: LedgerEntry) -> Rejection | None:
        return rejection_of(seq, entry, self.of(entry))

    def reason(self, rejection: Rejection) -> ReasonCode | None:
        """The reason's label from the version the rejection was made under, else from the active one."""
        if rejection.reason is None:
            return None
        for version in (rejection.pact_version, self.active.version):
            found = self.versions.get(version) if version is not None else None
            code = found.pact.reason(rejection.kind, rejection.reason) if found else None
            if code is not None:
                return code
        return None

    def in_force(self, at: datetime) -> int | None:
        return version_in_force(((v, p.activated_at) for v, p in self.versions.items()), at)


def _local(at: datetime, pact: PactVersion) -> str:
    zone = pact.pact.calendar.timezone
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def _not_a_rejection(key: int, lead: Lead, entry: LedgerEntry | None) -> str:
    if entry is None:
        return f"there is no ledger entry #{key}"
    if entry.lead_id != lead.id:
        return f"ledger entry #{key} is about lead {entry.lead_id}, not lead {lead.id}"
    what = f"{entry.kind.value}"
    if entry.kind is EntryKind.TRANSITION:
        what += f" {entry.from_stage} → {entry.to_stage}"
    return (
        f"ledger entry #{key} of lead {lead.id} is not a rejection: it is a {what} by {entry.actor} "
        f"({entry.department}); a rejection is a move by sales from mql, sal or sql to recycled or disqualified"
    )


def _handoff(store: Store, pacts: Pacts, lead: Lead, entries: Sequence[Seq], rejection: Rejection) -> dict[str, object]:
    """Which MQL criteria held when the rejected lead was handed off, and under which pact version."""
    found = handoff_before(entries, rejection)
    if found is not None:
        seq, entry = found
        recorded = entry.evidence.get("criteria")
        shown: dict[str, object] = {
            "seq": seq,
            "at": entry.at.isoformat(),
            "from": entry.from_stage,
            "to": entry.to_stage,
            "by": entry.actor,
            "override": entry.override,
        }
        if entry.to_stage == Stage.MQL.value and isinstance(recorded, list) and recorded:
            total = entry.evidence.get("score")
            return {
                **shown,
                "pact_version": entry.pact_version,
                "checked": "recorded",
                "score": total.get("total") if isinstance(total, Mapping) else None,
                "criteria": recorded,
            }
        at = entry.at
    else:
        shown, at = {"seq": None, "at": None}, rejection.at
    version = pacts.in_force(at)
    if version is None:  # handed off before any pact took effect: the version the move was recorded under
        version = (found[1].pact_version if found else rejection.pact_version) or pacts.active.version
        shown["in_force"] = False
    pact = pacts.versions[version].pact
    activities = [activity_from_row(row) for row in store.activities.of_lead(lead.id)]
    state = ScoreState().fold_all(pact, (a for a in activities if a.at <= at))
    attributes = scoring_attributes(lead.email, lead.attributes)
    breakdown = score(pact, version, state, attributes, at)
    check = check_mql(pact.mql, score=breakdown.total, actions=state.actions, attributes=attributes)
    return {
        **shown,
        "pact_version": version,
        "checked": "rechecked" if found is not None else "rechecked_at_rejection",
        "checked_at": at.isoformat(),
        "score": breakdown.total,
        "criteria": check.as_evidence(),
    }


def _lead_rejections(pacts: Pacts, entries: Sequence[Seq]) -> list[Rejection]:
    return [r for seq, entry in entries if (r := pacts.rejection(seq, entry)) is not None]


def open_dispute(engine: Engine, now: datetime, key: str, by: str, note: str, entry: int | None = None) -> DisputeView:
    """Marketing disputes lead `key`'s latest rejection (or the one ledger entry `entry` records)."""

    def work(store: Store) -> DisputeView:
        lead = require_lead(store, key)
        user = require_user(store, by)
        active = require_active_pact(store)
        bench = Workbench(store, active, now)
        bench.load([lead.id])  # reads the lead's row version before its ledger: the write checks it
        pacts = Pacts(store, active)
        entries = store.ledger.of_lead(lead.id)
        rejections = _lead_rejections(pacts, entries)
        if entry is not None:
            rejection = next((r for r in rejections if r.seq == entry), None)
            if rejection is None:
                raise DisputeRefused(_not_a_rejection(entry, lead, Rejections(store.connection).entry(entry)))
        else:
            rejection = rejections[-1] if rejections else None
        existing = disputes_from(Rejections(store.connection).disputes([lead.id]))
        check_open(lead.id, rejection, existing, actor_of(user), note, active.pact)
        assert rejection is not None
        if now < rejection.at:
            raise DisputeRefused(
                f"rejection #{rejection.seq} was made at {_local(rejection.at, active)}, after "
                f"{_local(now, active)}: a dispute cannot be dated before it"
            )
        evidence = {
            "rejection": rejection.seq,
            "rejected": {
                "at": rejection.at.isoformat(),
                "from": rejection.from_stage.value,
                "to": rejection.to_stage.value,
                "by": rejection.actor,
                "department": rejection.department,
                "pact_version": rejection.pact_version,
            },
            "handoff": _handoff(store, pacts, lead, entries, rejection),
        }
        bench.record(
            lead.id,
            EntryKind.DISPUTE,
            now,
            actor_of(user),
            evidence=evidence,
            reason=rejection.reason,
            note=note.strip(),
        )
        (seq,) = bench.flush()
        disputes = disputes_from(Rejections(store.connection).disputes([lead.id]))
        return _view(store, pacts, next(d for d in disputes if d.id == seq), rejection)

    return retrying(engine, work)


def _holder(store: Store, lead: Lead, owner_id: int | None, stage: Stage, to: str | None, pact: Pact) -> User | None:
    """Who takes an overturned lead back: `to`, else the rep holding it; nobody for an MQL nobody holds
    (routing gives it out again)."""
    user = require_user(store, to) if to is not None else None
    if user is None:
        user = store.users.by_id(owner_id) if owner_id is not None else None
        if user is None:
            if stage is Stage.MQL:
                return None
            raise DisputeRefused(f"lead {lead.id} is held by nobody: say who takes it back with --to")
        if not user.is_active:
            raise DisputeRefused(
                f"lead {lead.id} is held by {user.name}, who is inactive: say who takes it back with --to"
            )
    if not pact.roles_of(user.department) & SALES_ROLES:
        sales = [d for role in SALES_ROLES for d in pact.departments_with(role)]
        raise DisputeRefused(
            f"{user.name} ({user.department}) is not in sales and cannot take the lead back: "
            f"give it to someone in {', '.join(sorted(set(sales)))} with --to"
        )
    return user


def resolve_dispute(
    engine: Engine, now: datetime, dispute_id: int, outcome: Outcome, by: str, note: str, to: str | None = None
) -> DisputeView:
    """A manager upholds or overturns dispute `dispute_id`; an overturn gives the lead back to sales."""
    if to is not None and outcome is not Outcome.OVERTURNED:
        raise DomainError(
            "--to names who takes an overturned lead back; an upheld rejection leaves the lead where it is"
        )

    def work(store: Store) -> DisputeView:
        user = require_user(store, by)
        active = require_active_pact(store)
        rejections = Rejections(store.connection)
        head = rejections.entry(dispute_id)
        if head is None or head.kind is not EntryKind.DISPUTE:
            raise NotFound(f"there is no dispute #{dispute_id}; `leadpact dispute list` shows them")
        bench = Workbench(store, active, now)
        bench.load([head.lead_id])
        pacts = Pacts(store, active)
        dispute = next(d for d in disputes_from(rejections.disputes([head.lead_id])) if d.id == dispute_id)
        entries = store.ledger.of_lead(head.lead_id)
        rejection = next(r for r in _lead_rejections(pacts, entries) if r.seq == dispute.rejection)
        actor = actor_of(user)
        check_resolve(dispute, rejection, actor, note, active.pact)
        if now < dispute.at:
            raise DisputeRefused(
                f"dispute #{dispute.id} was opened at {_local(dispute.at, active)}, after "
                f"{_local(now, active)}: a resolution cannot be dated before it"
            )
        work = bench.work[head.lead_id]
        evidence: dict[str, object] = {"dispute": dispute.id, "rejection": rejection.seq, "outcome": outcome.value}
        stage, holder = None, None
        if outcome is Outcome.OVERTURNED:
            stage = reinstatement(rejection, work.lead.stage, entries)
            if stage is None:
                if to is not None:
                    raise DisputeRefused(
                        f"lead {work.lead.id} has moved on to {work.lead.stage.value} since the rejection, so the "
                        "overturn does not give it back: leave out --to"
                    )
                evidence["moved_on_to"] = work.lead.stage.value
            else:
                holder = _holder(store, work.lead, work.owner_id, stage, to, active.pact)
                evidence["reinstated"] = stage.value
                evidence["given_to"] = holder.name if holder else None
        bench.record(
            head.lead_id,
            EntryKind.RESOLUTION,
            now,
            actor,
            evidence=evidence,
            reason=rejection.reason,
            note=note.strip(),
        )
        if stage is not None:
            because = {"overturn": {"dispute": dispute.id, "rejection": rejection.seq}}
            bench.reinstate(head.lead_id, stage, now, actor, note.strip(), because)
            if holder is not None:
                bench.assign(
                    head.lead_id, holder, now, actor, note=f"dispute #{dispute.id} overturned", evidence=because
                )
        bench.flush()
        resolved = next(d for d in disputes_from(rejections.disputes([head.lead_id])) if d.id == dispute_id)
        return _view(store, pacts, resolved, rejection)

    return retrying(engine, work)


def _view(store: Store, pacts: Pacts, dispute: Dispute, rejection: Rejection) -> DisputeView:
    leads = Rejections(store.connection).leads([dispute.lead_id])
    email, attributes = leads.get(dispute.lead_id, (None, {}))
    lead = store.leads.get(dispute.lead_id)
    return DisputeView(
        dispute=dispute,
        rejection=rejection,
        email=email,
        company=company_of(attributes),
        stage=lead.stage if lead is not None else rejection.to_stage,
        reason=pacts.reason(rejection),
        zone=pacts.active.pact.calendar.timezone,
    )


def list_disputes(store: Store, open_only: bool = False) -> list[DisputeView]:
    """Every dispute, newest first (only those waiting for a manager with `open_only`)."""
    with store:
        active = require_active_pact(store)
        pacts = Pacts(store, active)
        rejections = Rejections(store.connection)
        disputes = [d for d in disputes_from(rejections.disputes()) if d.is_open or not open_only]
        entries = rejections.entries(d.rejection for d in disputes)
        leads = rejections.leads(d.lead_id for d in disputes)
        stages = store.leads.get_many(d.lead_id for d in disputes)
        views = []
        for dispute in reversed(disputes):
            entry = entries.get(dispute.rejection)
            rejection = pacts.rejection(dispute.rejection, entry) if entry is not None else None
            if rejection is None:  # a dispute is only ever opened on a rejection (open_dispute checks it)
                raise RuntimeError(f"dispute #{dispute.id} names ledger entry #{dispute.rejection}, not a rejection")
            email, attributes = leads.get(dispute.lead_id, (None, {}))
            lead = stages.get(dispute.lead_id)
            views.append(
                DisputeView(
                    dispute=dispute,
                    rejection=rejection,
                    email=email,
                    company=company_of(attributes),
                    stage=lead.stage if lead is not None else rejection.to_stage,
                    reason=pacts.reason(rejection),
                    zone=active.pact.calendar.timezone,
                )
            )
        return views


def show_dispute(store: Store, dispute_id: int) -> DisputeView:
    """One dispute with its rejection, the MQL criteria at handoff and its resolution."""
    with store:
        active = require_active_pact(store)
        rejections = Rejections(store.connection)
        head = rejections.entry(dispute_id)
        if head is None or head.kind is not EntryKind.DISPUTE:
            raise NotFound(f"there is no dispute #{dispute_id}; `leadpact dispute list` shows them")
        pacts = Pacts(store, active)
        dispute = next(d for d in disputes_from(rejections.disputes([head.lead_id])) if d.id == dispute_id)
        entry = rejections.entry(dispute.rejection)
        rejection = pacts.rejection(dispute.rejection, entry) if entry is not None else None
        assert rejection is not None
        return _view(store, pacts, dispute, rejection)
