"""Disputes: marketing contesting a rejection, and a manager's verdict on it.

Marketing disputes a rejection (domain.rejection) when it holds that the lead met the pact:
the dispute records which MQL criteria held at the handoff, under which pact version. A
manager resolves it once:

* **upheld** — the rejection stands and counts against lead quality (marketing);
* **overturned** — the rejection was wrong and counts against sales acceptance (the
  department that rejected). The lead goes back to sales: to the stage it was rejected
  from, unless it has moved on since (`reinstatement`).

A rejection nobody disputed stands as well (it counts against lead quality); one disputed
and not yet resolved counts against nobody until it is. `rejection_verdicts` says this for
every rejection, for the reports that charge rejections to departments.

Both steps are ledger entries (EntryKind.DISPUTE, EntryKind.RESOLUTION); a dispute is
known by the sequence number of its entry. These rules refuse, with the reason:
a dispute of a lead never rejected, by someone outside marketing, of a rejection already
disputed (open or resolved: a verdict is final), without a note; a resolution by someone
who is not a manager, by a party to the dispute (who opened it or made the rejection), of a
dispute already resolved, without a note.

Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from leadpact.domain.errors import DomainError
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Actor, Stage
from leadpact.domain.pact import Pact, Role
from leadpact.domain.rejection import Rejection, in_ledger_order


class DisputeRefused(DomainError):
    """A dispute or a resolution the rules refuse; the message says why."""


class Outcome(StrEnum):
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class RejectionStatus(StrEnum):
    UNDISPUTED = "undisputed"
    PENDING = "pending"  # disputed, waiting for a manager
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class Charge(StrEnum):
    """What a rejection counts against."""

    LEAD_QUALITY = "lead_quality"  # marketing sent a lead sales could rightly reject
    SALES_ACCEPTANCE = "sales_acceptance"  # sales rejected a lead it should have worked


@dataclass(frozen=True, slots=True)
class Resolution:
    seq: int
    at: datetime
    by: str
    department: str
    outcome: Outcome
    note: str | None
    reinstated: Stage | None = None  # the stage an overturn gave the lead back, if it did
    given_to: str | None = None  # who an overturn gave the lead back to, if anyone
    moved_on_to: Stage | None = None  # where the lead had gone since, when an overturn could not give it back


@dataclass(frozen=True, slots=True)
class Dispute:
    """One dispute of one rejection, with its resolution once there is one."""

    id: int  # the sequence number of its ledger entry
    lead_id: int
    rejection: int  # the sequence number of the rejection's ledger entry
    at: datetime
    by: str
    department: str
    note: str | None
    evidence: Mapping[str, object] = field(default_factory=dict)
    resolution: Resolution | None = None

    @property
    def is_open(self) -> bool:
        return self.resolution is None

    @property
    def status(self) -> RejectionStatus:
        if self.resolution is None:
            return RejectionStatus.PENDING
        return RejectionStatus(self.resolution.outcome.value)


def disputes_from(entries: Iterable[tuple[int, LedgerEntry]]) -> list[Dispute]:
    """The disputes that dispute and resolution entries record, oldest first.

    A resolution attaches to the dispute its evidence names; the first one counts (the rules
    refuse a second, and a lead's entries are written one unit of work at a time).
    """
    found: dict[int, Dispute] = {}
    for seq, entry in in_ledger_order(entries):
        if entry.kind is EntryKind.DISPUTE:
            rejection = entry.evidence.get("rejection")
            if isinstance(rejection, int):
                found[seq] = Dispute(
                    id=seq,
                    lead_id=entry.lead_id,
                    rejection=rejection,
                    at=entry.at,
                    by=entry.actor,
                    department=entry.department,
                    note=entry.note,
                    evidence=entry.evidence,
                )
        elif entry.kind is EntryKind.RESOLUTION:
            disputed = found.get(_int(entry.evidence.get("dispute")))
            if disputed is None or disputed.resolution is not None:
                continue
            evidence = entry.evidence
            found[disputed.id] = replace(
                disputed,
                resolution=Resolution(
                    seq=seq,
                    at=entry.at,
                    by=entry.actor,
                    department=entry.department,
                    outcome=Outcome(str(entry.evidence.get("outcome"))),
                    note=entry.note,
                    reinstated=_stage(evidence.get("reinstated")),
                    given_to=_text(evidence.get("given_to")),
                    moved_on_to=_stage(evidence.get("moved_on_to")),
                ),
            )
    return sorted(found.values(), key=lambda d: d.id)


def _int(value: object) -> int:
    return value if isinstance(value, int) else -1


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _stage(value: object) -> Stage | None:
    return Stage(value) if isinstance(value, str) else None


def _day(at: datetime, pact: Pact) -> str:
    return f"{at.astimezone(ZoneInfo(pact.calendar.timezone)):%Y-%m-%d}"


def _state(dispute: Dispute, pact: Pact) -> str:
    r = dispute.resolution
    if r is None:
        return f"dispute #{dispute.id}, opened by {dispute.by} on {_day(dispute.at, pact)}, waits for a manager"
    return f"dispute #{dispute.id} was {r.outcome.value} by {r.by} on {_day(r.at, pact)}, and a resolution is final"


def check_open(
    lead_id: int, rejection: Rejection | None, existing: Sequence[Dispute], by: Actor, note: str, pact: Pact
) -> None:
    """Refuse a dispute the rules do not allow; `existing` are the lead's disputes so far."""
    if rejection is None:
        raise DisputeRefused(
            f"lead {lead_id} was never rejected by sales, so there is nothing to dispute "
            "(a rejection moves a handed-off lead from mql, sal or sql to recycled or disqualified)"
        )
    marketing = pact.departments_with(Role.MARKETING)
    if Role.MARKETING not in pact.roles_of(by.department):
        raise DisputeRefused(
            f"{by.name} ({by.department}) may not dispute a rejection: disputes are opened by marketing "
            f"({', '.join(marketing) or 'no department of the pact has the marketing role'})"
        )
    for dispute in existing:
        if dispute.rejection == rejection.seq:
            raise DisputeRefused(
                f"rejection #{rejection.seq} of lead {lead_id} is disputed already: {_state(dispute, pact)}"
            )
    if not note.strip():
        raise DisputeRefused("a dispute needs a note: say why the lead met the pact")


def check_resolve(dispute: Dispute, rejection: Rejection, by: Actor, note: str, pact: Pact) -> None:
    """Refuse a resolution the rules do not allow."""
    if not by.is_manager:
        raise DisputeRefused(f"only a manager may resolve a dispute; {by.name} is not one")
    r = dispute.resolution
    if r is not None:
        raise DisputeRefused(
            f"dispute #{dispute.id} was {r.outcome.value} by {r.by} on {_day(r.at, pact)} already; "
            "a resolution is final"
        )
    if by.name == dispute.by:
        raise DisputeRefused(f"{by.name} opened dispute #{dispute.id} and may not judge it; ask another manager")
    if by.name == rejection.actor:
        raise DisputeRefused(
            f"{by.name} made rejection #{rejection.seq} and may not judge its dispute; ask another manager"
        )
    if not note.strip():
        raise DisputeRefused("a resolution needs a note: say why")


def reinstatement(rejection: Rejection, current: Stage, transitions: Iterable[tuple[int, LedgerEntry]]) -> Stage | None:
    """The stage an overturn gives the lead back: the one it was rejected from, as long as the lead
    is still where the rejection put it and no stage move of it is recorded after the rejection.
    None when it has moved on (requalified, disqualified since, …): the verdict stands alone."""
    if current is not rejection.to_stage:
        return None
    for seq, entry in transitions:
        later = (entry.at, seq) > (rejection.at, rejection.seq)
        if entry.lead_id == rejection.lead_id and entry.kind is EntryKind.TRANSITION and later:
            return None
    return rejection.from_stage


@dataclass(frozen=True, slots=True)
class RejectionVerdict:
    """Where one rejection stands, and whom it counts against (None while disputed)."""

    rejection: Rejection
    status: RejectionStatus
    dispute: Dispute | None
    charge: Charge | None
    charged_to: str | None  # the department


def rejection_verdicts(
    rejections: Iterable[Rejection], disputes: Iterable[Dispute], marketing: str
) -> list[RejectionVerdict]:
    """Each rejection's status and charge: undisputed or upheld → lead quality, charged to
    `marketing` (the department responsible for the MQL definition); overturned → sales
    acceptance, charged to the department that rejected; pending → nobody yet."""
    by_rejection = {d.rejection: d for d in disputes}
    verdicts = []
    for rejection in rejections:
        dispute = by_rejection.get(rejection.seq)
        status = dispute.status if dispute is not None else RejectionStatus.UNDISPUTED
        if status is RejectionStatus.PENDING:
            charge, charged_to = None, None
        elif status is RejectionStatus.OVERTURNED:
            charge, charged_to = Charge.SALES_ACCEPTANCE, rejection.department
        else:
            charge, charged_to = Charge.LEAD_QUALITY, marketing
        verdicts.append(RejectionVerdict(rejection, status, dispute, charge, charged_to))
    return verdicts
