"""Pact versions and sign-off: propose a draft, approve it department by department.

A version becomes active when every approving department it names has approved it;
the previous active version is then superseded. History is never rewritten: ledger
entries keep the version they were made under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from leadpact.adapters.db.store import Approval, PactVersion, Store
from leadpact.adapters.pact_yaml import PactDocument
from leadpact.domain.clock import Clock
from leadpact.domain.errors import ApprovalRefused, DomainError, NotFound
from leadpact.domain.lifecycle import Stage
from leadpact.services.lifecycle import Workbench
from leadpact.services.rescore import rescore_all
from leadpact.services.users import require_user


def propose_pact(store: Store, clock: Clock, document: PactDocument, by: str) -> PactVersion:
    """Store a valid pact as the next draft version, with its content hash."""
    with store:
        user = require_user(store, by)
        same = store.pacts.by_hash(document.content_hash)
        if same is not None:
            raise DomainError(f"this document is identical to pact v{same} (sha256 {document.content_hash[:12]})")
        version = store.pacts.next_version()
        store.pacts.add(version, document.content_hash, document.text, document.pact, user, clock.now())
        proposed = store.pacts.get(version)
        store.commit()
    assert proposed is not None
    return proposed


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    version: int
    department: str
    activated: bool
    waiting_for: tuple[str, ...]
    approved_at: datetime
    new_mqls: int = 0


def approve_pact(store: Store, clock: Clock, version: int, by: str) -> ApprovalOutcome:
    """Record `by`'s approval for their department; activate the version when all have approved."""
    now = clock.now()
    with store:
        user = require_user(store, by)
        store.pacts.lock(version)
        draft = require_version(store, version)
        pact = draft.pact
        if draft.status != "draft":
            raise ApprovalRefused(f"pact v{version} is {draft.status}; only a draft can be approved")
        active = store.pacts.active()
        if active is not None and active.version > version:
            raise ApprovalRefused(
                f"pact v{version} is older than the active v{active.version}; propose it again to make it current"
            )
        if user.department not in pact.approvers:
            raise ApprovalRefused(
                f"{user.name} belongs to {user.department}, which is not an approving department of v{version} "
                f"(approvers: {', '.join(pact.approvers)})"
            )
        approvals = store.pacts.approvals(version)
        earlier = next((a for a in approvals if a.department == user.department), None)
        if earlier is not None:
            raise ApprovalRefused(
                f"{user.department} already approved v{version} ({earlier.user}, {earlier.approved_at:%Y-%m-%d}); "
                "each department approves once"
            )
        store.pacts.approve(version, user, now)
        done = {a.department for a in approvals} | {user.department}
        waiting = tuple(d for d in pact.approvers if d not in done)
        if not waiting:
            store.pacts.activate(version, now)
        store.commit()
    new_mqls = 0
    if not waiting:
        if _has_leads(store):
            # every lead's score under the new version in one vectorised pass, so the
            # MQL sweep below reads fresh states instead of replaying each lead's history
            rescore_all(store.engine, pact, version, now)
        new_mqls = apply_activated_pact(store.engine, now)
    return ApprovalOutcome(version, user.department, not waiting, waiting, now, new_mqls)


ACTIVATION_CHUNK = 2_000


def _has_leads(store: Store) -> bool:
    with store:
        return bool(store.leads.stage_counts())


def apply_activated_pact(engine: Engine, at: datetime) -> int:
    """A new pact applies from its activation: leads waiting in lead or recycled that meet its
    MQL criteria at `at` become MQLs then, with the activation as their trigger, a chunk of
    leads per transaction. A lead whose score is not yet under the new version has it rebuilt
    on load and written; the transitions made earlier keep the version they were made under."""
    made, after = 0, 0
    while True:
        with Store(engine) as store:
            active = store.pacts.active()
            ids = store.leads.ids_in_stages((Stage.LEAD, Stage.RECYCLED), after=after, limit=ACTIVATION_CHUNK)
            if active is None or not ids:
                return made
            bench = Workbench(store, active, at)
            bench.load(ids)
            for lead_id in ids:
                work = bench.work[lead_id]
                bench.qualify(work, at, trigger={"event": "pact_activated", "pact_version": active.version})
            made += bench.transitions
            bench.flush()
            store.commit()
            after = ids[-1]


def require_version(store: Store, version: int) -> PactVersion:
    found = store.pacts.get(version)
    if found is None:
        latest = store.pacts.latest()
        known = (
            f"versions 1–{latest.version}" if latest else "no versions yet; propose one with `leadpact pact propose`"
        )
        raise NotFound(f"unknown pact version {version} ({known})")
    return found


def get_pact(store: Store, version: int | None = None) -> PactVersion:
    """A version by number, or the active one (the newest draft when none is active)."""
    with store:
        if version is not None:
            return require_version(store, version)
        found = store.pacts.active() or store.pacts.latest()
        if found is None:
            raise NotFound("no pact yet; propose one with `leadpact pact propose FILE --by USER`")
        return found


@dataclass(frozen=True, slots=True)
class PactHistoryItem:
    version: PactVersion
    approvals: list[Approval]


def pact_history(store: Store) -> list[PactHistoryItem]:
    with store:
        approvals = store.pacts.approvals()
        return [PactHistoryItem(v, [a for a in approvals if a.version == v.version]) for v in store.pacts.all()]
