"""Moving leads through the lifecycle inside one unit of work, writing the ledger as it goes.

`Workbench` holds the working state of the leads one batch touches (lead, score state,
owner) plus what the batch will write (activities, contacts, ledger entries). Every
change goes through it, so a state change and its ledger entry are always written in
the same transaction, and a refused change touches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from leadpact.adapters.db.score_state import StateLayout
from leadpact.adapters.db.store import PactVersion, StaleLeads, Store, User, activity_from_row
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.clocks import advance, stopped_later
from leadpact.domain.errors import DomainError, InvalidTransition
from leadpact.domain.lead import Lead, scoring_attributes
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Actor, Stage, plan_move, responsible_department
from leadpact.domain.pact import BantItem
from leadpact.domain.qualification import Bant, CriteriaCheck, check_mql, check_sql
from leadpact.domain.scoring import Activity, AttributeValue, ScoreBreakdown, ScoreState, condition_holds, score

SYSTEM = "system"
NO_ACTIVE_PACT = "no active pact: propose one and have every approving department approve it"
RETRIES = 5
# Another writer got there first: a lock wait ran out, or a lead changed since it was read.
CONFLICTS: tuple[type[Exception], ...] = (OperationalError, StaleLeads)
T = TypeVar("T")


def retrying(
    engine: Engine,
    work: Callable[[Store], T],
    *,
    commit: bool = True,
    serialize: str | None = None,
    conflicts: tuple[type[Exception], ...] = CONFLICTS,
) -> T:
    """Run `work` in one unit of work (committed unless `commit` is false, holding `serialize`'s
    lock when named), starting over on fresh state when another writer got there first."""
    for attempt in range(RETRIES):
        try:
            with Store(engine) as store:
                if serialize is not None:
                    store.serialize(serialize)
                result = work(store)
                if commit:
                    store.commit()
                return result
        except conflicts:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def require_active_pact(store: Store) -> PactVersion:
    pact = store.pacts.active()
    if pact is None:
        raise DomainError(NO_ACTIVE_PACT)
    return pact


def actor_of(user: User) -> Actor:
    """A person acting for their own department."""
    return Actor(user.name, user.department, is_manager=user.is_manager)


@dataclass
class LeadWork:
    """One lead's state while a unit of work changes it."""

    lead: Lead
    owner_id: int | None
    state: ScoreState
    version: int  # the row version read; the write checks it is still the one stored
    activities: list[Activity] | None = None  # all known activities, loaded only when history is needed
    touched: bool = False  # the lead itself changed: its row is written back, its version bumped
    stale_score: bool = False  # no score stored under the active version: the score row is written
    _attributes: dict[str, AttributeValue] | None = None

    @property
    def attributes(self) -> dict[str, AttributeValue]:
        """The attributes scoring sees; cached because most events do not change them."""
        if self._attributes is None:
            self._attributes = scoring_attributes(self.lead.email, self.lead.attributes)
        return self._attributes

    def change(self, lead: Lead) -> None:
        self.lead = lead
        self._attributes = None
        self.touched = True


@dataclass
class Workbench:
    """The leads a unit of work changes, and everything it will write for them."""

    store: Store
    pact: PactVersion | None
    now: datetime
    work: dict[int, LeadWork] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    transitions: int = 0

    def load(self, lead_ids: Iterable[int]) -> None:
        """Read the leads, their owners' ids and their score states in a few bulk queries."""
        wanted = [i for i in set(lead_ids) if i not in self.work]
        if not wanted:
            return
        held = self.store.leads.held(wanted)
        if self.pact is None:
            for lead_id, (lead, owner_id, version) in held.items():
                self.work[lead_id] = LeadWork(lead, owner_id, ScoreState(), version)
            return
        pact = self.pact.pact
        scores = self.store.scores.current(wanted, self.pact.version, pact)
        # No score under the active version (new lead, or scored under an older pact): replay.
        stale = [i for i in held if i not in scores]
        history = self.store.activities.of_leads(stale) if stale else {}
        for lead_id, (lead, owner_id, version) in held.items():
            stored = scores.get(lead_id)
            if stored is None:
                known = [activity_from_row(row) for row in history.get(lead_id, [])]
                work = LeadWork(lead, owner_id, ScoreState().fold_all(pact, known), version, activities=known)
                work.stale_score = True
            else:
                work = LeadWork(lead, owner_id, stored.state, version)
            self.work[lead_id] = work

    def load_history(self, lead_ids: Iterable[int]) -> None:
        """Read the stored activities of loaded leads in bulk (before replaying them, say)."""
        wanted = [i for i in set(lead_ids) if self.work[i].activities is None]
        for lead_id, rows in self.store.activities.of_leads(wanted).items():
            self.work[lead_id].activities = [activity_from_row(row) for row in rows]
        for lead_id in wanted:
            if self.work[lead_id].activities is None:
                self.work[lead_id].activities = []

    def history(self, work: LeadWork) -> list[Activity]:
        """Every activity of the lead, stored and pending, in time order (loaded on first need)."""
        if work.activities is None:
            work.activities = [activity_from_row(row) for row in self.store.activities.of_lead(work.lead.id)]
        return sorted(work.activities, key=lambda a: a.at)

    # --- changes -------------------------------------------------------------

    def upsert(self, lead_id: int, at: datetime, attributes: Mapping[str, object], email: str | None) -> None:
        work = self.work[lead_id]
        merged = dict(work.lead.attributes)
        for key, value in attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value  # type: ignore[assignment]
        work.change(replace(work.lead, attributes=merged, email=work.lead.email or email))
        in_order = work.state.as_of is None or at >= work.state.as_of
        self.qualify(work, at, trigger={"event": "lead_upsert"}, in_order=in_order)

    def add_activity(self, lead_id: int, activity: Activity, trigger: Mapping[str, object]) -> None:
        work = self.work[lead_id]
        in_order = work.state.as_of is None or activity.at >= work.state.as_of
        if not in_order:
            self.history(work)  # an out-of-order activity needs the stored ones to find the crossing
        if work.activities is not None:
            work.activities.append(activity)
        if self.pact is not None:
            work.state = work.state.fold(self.pact.pact, activity)
        work.touched = True
        self.qualify(work, activity.at, trigger=trigger, in_order=in_order)

    def qualify(self, work: LeadWork, at: datetime, trigger: Mapping[str, object], in_order: bool = True) -> None:
        """Make the lead an MQL if the active pact's criteria now hold, at the time they became true."""
        if self.pact is None or work.lead.stage not in (Stage.LEAD, Stage.RECYCLED):
            return
        pact, since = self.pact.pact, work.lead.stage_changed_at
        if in_order:
            crossing = self._check_at(work, work.state, at)
        else:
            crossing = self._first_crossing(work, max(at, since) if work.lead.stage is Stage.RECYCLED else at)
        if crossing is None:
            return
        when, breakdown, check = crossing
        if work.lead.stage is Stage.RECYCLED and when <= since:
            return
        move = plan_move(pact, work.lead.stage, Stage.MQL, actor=Actor(SYSTEM, pact.mql.responsible, is_system=True))
        self._transition(
            work,
            Stage.MQL,
            at=when,
            actor=SYSTEM,
            department=responsible_department(pact, move.move),
            evidence={
                "score": breakdown.as_evidence(),
                "criteria": check.as_evidence(),
                "trigger": dict(trigger),
            },
        )

    def _check_at(
        self, work: LeadWork, state: ScoreState, at: datetime
    ) -> tuple[datetime, ScoreBreakdown, CriteriaCheck] | None:
        assert self.pact is not None
        mql, attributes = self.pact.pact.mql, work.attributes
        # The cheap conditions first: most activities leave a lead short of them.
        if mql.required_actions and state.actions.isdisjoint(mql.required_actions):
            return None
        if not all(condition_holds(c, attributes) for c in mql.attributes):
            return None
        breakdown = score(self.pact.pact, self.pact.version, state, attributes, at)
        check = check_mql(mql, score=breakdown.total, actions=state.actions, attributes=attributes)
        return (at, breakdown, check) if check.holds else None

    def _first_crossing(self, work: LeadWork, since: datetime) -> tuple[datetime, ScoreBreakdown, CriteriaCheck] | None:
        """Replay the lead's activities in time order; the first instant at or after `since` the criteria hold."""
        assert self.pact is not None
        state = ScoreState()
        for activity in self.history(work):
            state = state.fold(self.pact.pact, activity)
            if activity.at >= since and (found := self._check_at(work, state, activity.at)) is not None:
                return found
        return None

    def move(
        self,
        lead_id: int,
        to: Stage,
        at: datetime,
        actor: Actor,
        reason: str | None = None,
        note: str | None = None,
        override: bool = False,
        evidence: Mapping[str, object] | None = None,
    ) -> None:
        """A stage change asked for by a person or a source system; refused moves raise."""
        pact = self._require_pact()
        work = self.work[lead_id]
        planned = plan_move(pact.pact, work.lead.stage, to, actor=actor, reason=reason)
        proof: dict[str, object] = dict(evidence or {})
        gate = planned.move.gate
        if gate is not None:
            check = self._gate(work, gate, at)
            proof["criteria"] = check.as_evidence()
            if gate == "mql":
                attributes = work.attributes
                proof["score"] = score(pact.pact, pact.version, self.state_at(work, at), attributes, at).as_evidence()
            if not check.holds:
                if not override:
                    raise InvalidTransition(
                        f"the {gate.upper()} criteria of pact v{pact.version} do not hold: {'; '.join(check.unmet)}"
                        + ("" if actor.is_system else "; a manager may override with a reason")
                    )
                if not actor.is_manager:
                    raise InvalidTransition(f"only a manager may override the {gate.upper()} criteria")
                if not (note or reason):
                    raise InvalidTransition("an override needs a reason: say why in the note")
        if gate == "sql" or to is Stage.SQL:
            proof.setdefault("bant", work.lead.bant.as_evidence())
        self._transition(
            work,
            to,
            at=at,
            actor=actor.name,
            department=actor.department,
            evidence=proof,
            reason=reason,
            note=note,
            override=override and gate is not None,
        )

    def reinstate(
        self, lead_id: int, to: Stage, at: datetime, actor: Actor, note: str, evidence: Mapping[str, object]
    ) -> None:
        """Give a lead back the stage a rejection took from it, by a manager's verdict on a dispute.

        Not a move of the allowed-transitions table (nobody may move recycled → sal), so it is
        recorded as a manager override, with the dispute as its evidence; the clocks the new
        stage starts run as after any move.
        """
        if not actor.is_manager:
            raise InvalidTransition(f"only a manager may give a lead its stage back; {actor.name} is not one")
        work = self.work[lead_id]
        self._transition(
            work, to, at=at, actor=actor.name, department=actor.department, evidence=evidence, note=note, override=True
        )

    def _gate(self, work: LeadWork, gate: str, at: datetime) -> CriteriaCheck:
        pact = self._require_pact()
        state = self.state_at(work, at)
        if gate == "sql":
            return check_sql(pact.pact.sql, bant=work.lead.bant, actions=state.actions)
        attributes = work.attributes
        total = score(pact.pact, pact.version, state, attributes, at).total
        return check_mql(pact.pact.mql, score=total, actions=state.actions, attributes=attributes)

    def state_at(self, work: LeadWork, at: datetime) -> ScoreState:
        """The lead's score state as it was at `at`: activities recorded later do not count for a move
        dated earlier (a backfilled stage change is judged on what had happened by then)."""
        if work.state.as_of is None or at >= work.state.as_of:
            return work.state
        assert self.pact is not None
        return ScoreState().fold_all(self.pact.pact, (a for a in self.history(work) if a.at <= at))

    def assign(
        self,
        lead_id: int,
        to: User,
        at: datetime,
        actor: Actor,
        note: str | None = None,
        evidence: Mapping[str, object] | None = None,
    ) -> None:
        pact = self._require_pact()
        if not to.is_active:
            raise DomainError(f"{to.name} is inactive and cannot be given leads")
        if pact.pact.department(to.department) is None:
            raise DomainError(f"{to.name}'s department {to.department!r} is not in pact v{pact.version}")
        work = self.work[lead_id]
        work.owner_id = to.id
        work.lead = replace(work.lead, owner=to.name)
        work.touched = True
        self._record(
            work, EntryKind.ASSIGNMENT, at, actor.name, actor.department, owner=to.name, evidence=evidence, note=note
        )

    def log_contact(
        self, lead_id: int, by: User, at: datetime, channel: str, note: str | None, event_key: tuple[str, str]
    ) -> None:
        """`event_key` is the (source, id) of the event that logged it; `flush` links the stored contact to it."""
        work = self.work[lead_id]
        self.contacts.append(
            {
                "lead_id": lead_id,
                "user_id": by.id,
                "channel": channel,
                "occurred_at": at,
                "note": note,
                "event_key": event_key,
            }
        )
        self._record(work, EntryKind.CONTACT, at, by.name, by.department, evidence={"channel": channel}, note=note)

    def update_bant(
        self,
        lead_id: int,
        at: datetime,
        actor: Actor,
        answers: Mapping[BantItem, bool | None],
        facts: Mapping[str, bool],
        note: str | None,
    ) -> None:
        work = self.work[lead_id]
        confirmed = set(work.lead.bant.confirmed)
        for item, value in answers.items():
            if value is True:
                confirmed.add(item)
            elif value is False:
                confirmed.discard(item)
        merged_facts = {**(work.lead.bant.facts or {}), **facts}
        bant = Bant(confirmed=frozenset(confirmed), facts=merged_facts)
        work.lead = replace(work.lead, bant=bant)
        work.touched = True
        self._record(work, EntryKind.BANT, at, actor.name, actor.department, evidence=bant.as_evidence(), note=note)

    def record(
        self,
        lead_id: int,
        kind: EntryKind,
        at: datetime,
        actor: Actor,
        *,
        evidence: Mapping[str, object],
        reason: str | None = None,
        note: str | None = None,
    ) -> None:
        """Record a fact about a lead that changes none of its state (a dispute, its resolution).

        The lead's row is still written back with its version moved on, so two units of work
        that each checked the lead's ledger before adding to it cannot both commit.
        """
        self._record(
            self.work[lead_id], kind, at, actor.name, actor.department, evidence=evidence, reason=reason, note=note
        )

    # --- recording -----------------------------------------------------------

    def _require_pact(self) -> PactVersion:
        if self.pact is None:
            raise DomainError(NO_ACTIVE_PACT)
        return self.pact

    def _transition(
        self,
        work: LeadWork,
        to: Stage,
        *,
        at: datetime,
        actor: str,
        department: str,
        evidence: Mapping[str, object],
        reason: str | None = None,
        note: str | None = None,
        override: bool = False,
    ) -> None:
        frm = work.lead.stage
        work.lead = replace(work.lead, stage=to, stage_changed_at=at)
        work.touched = True
        self.transitions += 1
        self._record(
            work,
            EntryKind.TRANSITION,
            at,
            actor,
            department,
            from_stage=frm.value,
            to_stage=to.value,
            evidence=evidence,
            reason=reason,
            note=note,
            override=override,
        )

    def _record(
        self,
        work: LeadWork,
        kind: EntryKind,
        at: datetime,
        actor: str,
        department: str,
        *,
        from_stage: str | None = None,
        to_stage: str | None = None,
        owner: str | None = None,
        evidence: Mapping[str, object] | None = None,
        reason: str | None = None,
        note: str | None = None,
        override: bool = False,
        imported: bool = False,
    ) -> None:
        work.touched = True
        self.ledger.append(
            LedgerEntry(
                lead_id=work.lead.id,
                kind=kind,
                at=at,
                recorded_at=self.now,
                actor=actor,
                department=department,
                pact_version=self.pact.version if self.pact else None,
                from_stage=from_stage,
                to_stage=to_stage,
                owner=owner,
                evidence=dict(evidence or {}),
                reason=reason,
                note=note,
                override=override,
                imported=imported,
            )
        )

    def record_imported(
        self,
        lead_id: int,
        kind: EntryKind,
        at: datetime,
        actor: str,
        department: str,
        *,
        to: Stage | None = None,
        frm: Stage | None = None,
        owner: User | None = None,
        current: bool = False,
        evidence: Mapping[str, object],
        reason: str | None = None,
    ) -> None:
        """Record what another system says happened (a stage it gave the lead, an owner), marked imported.

        It is history, never leadpact's decision: no criteria are checked. `frm` is the stage the
        other system's history had the lead in before (default: its present one). With `current`
        the lead takes that stage (or owner) as its present one.
        """
        work = self.work[lead_id]
        before = (frm or work.lead.stage).value
        if current and to is not None:
            work.lead = replace(work.lead, stage=to, stage_changed_at=at)
            self.transitions += 1
        if current and owner is not None:
            work.owner_id = owner.id
            work.lead = replace(work.lead, owner=owner.name)
        self._record(
            work,
            kind,
            at,
            actor,
            department,
            from_stage=before if to is not None else None,
            to_stage=to.value if to is not None else None,
            owner=owner.name if owner is not None else None,
            evidence=evidence,
            reason=reason,
            imported=True,
        )

    def _run_clocks(self, entries: list[LedgerEntry]) -> None:
        """Start and stop the handoff clocks the new ledger entries bring, in the same transaction.

        Entries apply in time order, so a batch that holds an assignment and the first contact
        after it starts the contact clock and stops it. A clock started by a backfilled entry
        also stops at an entry recorded earlier but dated after it.
        """
        if not entries:
            return
        ordered = sorted(entries, key=lambda e: e.at)  # stable: entries of one instant keep their order
        running = self.store.clocks.running({e.lead_id for e in entries})
        pact = self.pact
        calendar = BusinessCalendar.of(pact.pact.calendar) if pact is not None else None
        version = pact.version if pact is not None else 0
        # Each lead's stage before these entries: where its first transition here started, else
        # where it is now (no transition: the batch did not move it).
        stages = {e.lead_id: self.work[e.lead_id].lead.stage.value for e in entries}
        for entry in reversed(ordered):
            if entry.kind is EntryKind.TRANSITION and entry.from_stage is not None:
                stages[entry.lead_id] = entry.from_stage
        started, stopped = advance(pact.pact if pact else None, version, calendar, running, ordered, stages)
        if started:
            since = min(run.started_at for run in started)
            recorded = self.store.ledger.entries_of({run.lead_id for run in started}, since)
            late = {run.key: run for run in stopped_later(started, recorded)}
            started = [late.get(run.key, run) for run in started]
        self.store.clocks.start(started)
        self.store.clocks.stop(stopped)

    def _governed(self, entry: LedgerEntry) -> bool:
        """Whether an entry runs the pact's clocks: leadpact's own always; an imported one only if it
        happened after the active pact took effect (before it, nobody had agreed to a deadline)."""
        if not entry.imported:
            return True
        activated = self.pact.activated_at if self.pact is not None else None
        return activated is not None and entry.at >= activated

    def flush(self) -> list[int]:
        """Write every touched lead, its score state, contacts and ledger entries (no commit);
        returns the sequence numbers the ledger gave the new entries, in order."""
        touched = [w for w in self.work.values() if w.touched]
        self.store.leads.save_states([(w.lead, w.owner_id, w.version) for w in touched], self.now)
        if self.pact is not None:
            # Every touched lead's score row is rewritten, so the stored attribute points always
            # follow the lead's attributes (the incremental rescore reuses them).
            layout = StateLayout.of(self.pact.pact)
            rows = []
            for work in self.work.values():
                if not (work.touched or work.stale_score):
                    continue
                attributes = work.attributes
                at = work.state.as_of or self.now
                breakdown = score(self.pact.pact, self.pact.version, work.state, attributes, at)
                rows.append(
                    {
                        "lead_id": work.lead.id,
                        "pact_version": self.pact.version,
                        "as_of": work.state.as_of,
                        "state": layout.to_record(work.state),
                        "behaviour": breakdown.behaviour,
                        "attributes": breakdown.attributes,
                        "total": breakdown.total,
                        "scored_at": self.now,
                    }
                )
            self.store.scores.save(rows)
        self.store.contacts.add(self.contacts)
        self._run_clocks([e for e in self.ledger if self._governed(e)])
        appended = self.store.ledger.append(self.ledger)
        self.contacts, self.ledger = [], []
        for work in self.work.values():
            if work.touched:
                work.version += 1
            work.touched = work.stale_score = False
        return appended
