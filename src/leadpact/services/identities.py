"""Identity resolution: one person, one lead, whichever systems know them (docs/identity.md).

* `resolve_leads` turns a batch of records (an e-mail address and system ids each, e.g. the
  events of one ingest batch or the rows of one import chunk) into lead ids inside the
  caller's unit of work: it creates the leads first seen, links new addresses and ids, links
  each lead to its company, and merges leads the records show to be one person. A few
  statements per batch, whatever its size.
* `merge_leads` merges two leads by hand; `undo_merge` (managers only) separates them again;
  `list_merges` lists merges newest first; `change_policy` sets how addresses are normalised
  (plus-addressing) and re-normalises the stored ones in the same transaction, merging the
  leads whose addresses become one.

A merge keeps the older lead (the survivor) and moves the absorbed lead's system ids, other
addresses, activities, contacts and running clocks to it, recording each moved row so that
its undo moves exactly those back. History stays where it happened: the absorbed lead's
ledger entries, stopped clocks and breaches keep its id (a ledger entry's hash covers it).
Both leads get a MERGE ledger entry with the evidence; an undo adds UNMERGE entries.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from leadpact.adapters.db.identities import Companies, Identities, MergeRow
from leadpact.adapters.db.store import StaleLeads, Store, bant_from_json, bant_to_json
from leadpact.domain.errors import DomainError, NotFound
from leadpact.domain.identity import (
    EMAIL,
    EmailPolicy,
    Identifier,
    Plan,
    Record,
    company_domain,
    describe,
    is_plausible_email,
    merged_state,
    normalise_company_name,
    normalise_email,
    plan_identities,
    survivor_order,
)
from leadpact.domain.lead import Lead
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Stage
from leadpact.services.leads import require_lead
from leadpact.services.lifecycle import CONFLICTS, SYSTEM, Workbench, retrying
from leadpact.services.users import require_user

IDENTITY = f"{SYSTEM}:identity"
# Another writer merged, linked or created the same thing first (the partial unique index on absorbed
# leads, a company's name or domain, an address): start over on fresh state.
_CONFLICTS: tuple[type[Exception], ...] = (IntegrityError, *CONFLICTS)
MAX_EMAIL, MAX_SYSTEM, MAX_ID = 320, 64, 200  # the store's column widths (lead_refs, leads.email)


class Rule:
    """Why two leads were merged (identity_merges.rule)."""

    SAME_RECORD = "same_record"  # one event or import row named identifiers of both
    EMAIL_POLICY = "email_policy"  # their addresses became one under a new plus-addressing policy
    MANUAL = "manual"  # a person merged them


@dataclass(frozen=True, slots=True)
class IdentityRow:
    """One record to resolve: the identifiers it names, and what else it says about the person.

    `email` as found (it is normalised here under the store's policy; normalising twice changes
    nothing); `refs` the (system, id) pairs it names, e.g. ("salesforce", Lead Id) and
    ("salesforce", ConvertedContactId); `company` the company name it gives; `at` when it
    happened (a lead it creates is first seen then); `create` whether it may create a lead it
    does not find; `record` what to cite in a merge's evidence (file and line, event id).
    """

    at: datetime
    email: str | None = None
    refs: Sequence[tuple[str, str]] = ()
    company: str | None = None
    create: bool = True
    record: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A record's lead (None: refused, or unknown and not to be created) and its normalised address."""

    lead_id: int | None
    email: str | None = None
    refused: str | None = None
    created: bool = False


@dataclass
class Resolution:
    rows: list[Resolved]
    created: int = 0
    merges: list[int] = field(default_factory=list)  # the merges made, by id


@dataclass(frozen=True, slots=True)
class _Group:
    """Leads to merge into the first (the survivor), oldest first, and why; `renames` gives the
    survivor's address its new form (a policy change)."""

    leads: list[int]
    rule: str
    evidence: Mapping[str, Any]
    renames: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Actor:
    name: str
    department: str


# --- resolving a batch --------------------------------------------------------------------


def resolve_leads(store: Store, rows: Sequence[IdentityRow], now: datetime) -> Resolution:
    """Each row's lead, creating, linking and merging as the rows say, in the caller's unit of work."""
    ids = Identities(store.connection)
    policy = ids.policy()
    records: list[Record] = []
    emails: list[str | None] = []
    refused: dict[int, str] = {}
    for index, row in enumerate(rows):
        email = normalise_email(row.email, policy) if row.email else None
        if email is not None and not is_plausible_email(email):
            refused[index] = f"{row.email!r} is not an e-mail address"
            email = None
        elif email is not None and len(email) > MAX_EMAIL:
            refused[index] = f"the e-mail address {email[:40]!r}… is longer than {MAX_EMAIL} characters"
            email = None
        elif bad := [f"{s}:{i}" for s, i in row.refs if not s or not i or len(s) > MAX_SYSTEM or len(i) > MAX_ID]:
            refused[index] = (
                f"the id {bad[0][:60]!r} is not a system and an id of 1–{MAX_SYSTEM} and 1–{MAX_ID} characters"
            )
        identifiers = ([(EMAIL, email)] if email else []) + list(dict.fromkeys((s, i) for s, i in row.refs))
        records.append(Record(tuple(identifiers) if index not in refused else (), row.create))
        emails.append(email)

    known = _known(ids, records)
    plan = plan_identities(records, known)
    joined = {lead for person in plan.persons if len(person.leads) > 1 for lead in person.leads}
    if joined and (apart := ids.apart(joined)):
        plan = plan_identities(records, known, apart)

    created = ids.create_leads(
        [(_first_email(person.new_identifiers), rows[person.created_by].at) for person in _new(plan)]
    )
    fresh = iter(created)
    lead_of: list[int] = []
    groups: list[_Group] = []
    ages = ids.created_at({lead for person in plan.persons if len(person.leads) > 1 for lead in person.leads})
    for person in plan.persons:
        if person.created_by is not None:
            lead_of.append(next(fresh))
            continue
        order = (
            survivor_order({lead: ages[lead] for lead in person.leads}) if len(person.leads) > 1 else list(person.leads)
        )
        lead_of.append(order[0])
        if len(order) > 1:
            proof = [_proof(rows[i], records[i], known) for i in person.bridges]
            groups.append(_Group(order, Rule.SAME_RECORD, {"records": proof}))
    merges = _merge(store, groups, now, _Actor(IDENTITY, _department(store)), note=None) if groups else []

    _link_identifiers(ids, plan, lead_of, set(created), now)
    outcomes: list[Resolved] = []
    for index, outcome in enumerate(plan.outcomes):
        if index in refused or outcome.refused is not None:
            outcomes.append(Resolved(None, emails[index], refused.get(index) or outcome.refused))
        elif outcome.person is None:
            outcomes.append(Resolved(None, emails[index]))
        else:
            person = plan.persons[outcome.person]
            is_new = person.created_by == index
            outcomes.append(Resolved(lead_of[outcome.person], emails[index], created=is_new))
    _link_companies(
        store,
        [(r.lead_id, emails[i], rows[i].company) for i, r in enumerate(outcomes) if r.lead_id is not None],
        now,
    )
    return Resolution(outcomes, created=len(created), merges=merges)


def _known(ids: Identities, records: Sequence[Record]) -> dict[Identifier, int]:
    addresses = {value for record in records for system, value in record.identifiers if system == EMAIL}
    refs = {identifier for record in records for identifier in record.identifiers if identifier[0] != EMAIL}
    known: dict[Identifier, int] = {(EMAIL, email): leads[0] for email, leads in ids.leads_by_email(addresses).items()}
    known.update(ids.leads_by_ref(refs))
    return known


def _new(plan: Plan) -> list[Any]:
    return [person for person in plan.persons if person.created_by is not None]


def _first_email(identifiers: Sequence[Identifier]) -> str | None:
    return next((value for system, value in identifiers if system == EMAIL), None)


def _proof(row: IdentityRow, record: Record, known: Mapping[Identifier, int]) -> dict[str, Any]:
    return {
        **dict(row.record),
        "identifiers": [{"id": describe(i), "lead": known.get(i)} for i in record.identifiers],
    }


def _department(store: Store) -> str:
    """Who answers for an automatic merge: the department that owns lead data (the MQL's)."""
    pact = store.pacts.active()
    return pact.pact.mql.responsible if pact is not None else SYSTEM


def _link_identifiers(ids: Identities, plan: Plan, lead_of: Sequence[int], created: set[int], now: datetime) -> None:
    """Record the identifiers first seen in this batch for their lead: system ids, and addresses as the
    lead's first address when it has none, else as another one."""
    refs: list[tuple[str, str, int]] = []
    addresses: list[tuple[int, str]] = []
    for person, lead in zip(plan.persons, lead_of, strict=True):
        first = _first_email(person.new_identifiers) if lead in created else None
        for system, value in person.new_identifiers:
            if system != EMAIL:
                refs.append((system, value, lead))
            elif value != first:
                addresses.append((lead, value))
    ids.add_refs(refs)
    if not addresses:
        return
    firsts = ids.first_emails(lead for lead, _ in addresses)
    given: set[int] = set()
    first_rows: list[tuple[int, str]] = []
    other_rows: list[tuple[str, int, int | None]] = []
    for lead, email in addresses:
        if firsts.get(lead) is None and lead not in given:
            given.add(lead)
            first_rows.append((lead, email))
        else:
            other_rows.append((email, lead, None))
    ids.set_first_emails(first_rows, now)
    ids.add_emails(other_rows)


def _link_companies(store: Store, items: Sequence[tuple[int, str | None, str | None]], now: datetime) -> None:
    """Link each lead to the company its record names: by e-mail domain first (free-mail domains
    say nothing), then by normalised name; a company not known yet is created."""
    evidence: list[tuple[int, str | None, str | None, str | None]] = []
    for lead, email, name in items:
        domain = company_domain(email)
        key = normalise_company_name(name)
        if domain is None and key is None:
            continue
        display = name.strip()[:200] if name and key else None
        evidence.append((lead, domain[:255] if domain else None, key[:200] if key else None, display))
    if not evidence:
        return
    companies = Companies(store.connection)
    by_domain = companies.by_domains(d for _, d, _, _ in evidence if d)
    by_key = companies.by_name_keys(k for _, _, k, _ in evidence if k)
    named = companies.named(by_domain.values()) | set(by_key.values())
    pending: list[list[str | None]] = []  # [display, key] of companies to create; their ids are -1, -2, …
    domains: list[tuple[str, int]] = []
    names: dict[int, tuple[str, str]] = {}
    links: dict[int, int] = {}
    for lead, domain, key, display in evidence:
        company = by_domain.get(domain) if domain else None
        if company is None and key is not None:
            company = by_key.get(key)
        if company is None:
            pending.append([display, key])
            company = -len(pending)
        elif key is not None and key not in by_key and company not in named:
            named.add(company)
            if company < 0:
                pending[-company - 1] = [display, key]
            else:
                names[company] = (display or key, key)
        if domain is not None and domain not in by_domain:
            domains.append((domain, company))
            by_domain[domain] = company
        if key is not None:
            by_key.setdefault(key, company)
            named.add(company)
        links[lead] = company
    made = companies.create([(display, key) for display, key in pending], now)

    def real(company: int) -> int:
        return made[-company - 1] if company < 0 else company

    companies.name([(company, display, key) for company, (display, key) in names.items()])
    companies.add_domains([(domain, real(company)) for domain, company in domains])
    current = companies.of_leads(links)
    companies.link([(lead, real(c)) for lead, c in links.items() if current.get(lead) != real(c)])


# --- merging ----------------------------------------------------------------------------


def _snapshot(lead: Lead, owner_id: int | None) -> dict[str, Any]:
    """A lead's state as a merge records it (JSON), to restore it on undo."""
    return {
        "email": lead.email,
        "attributes": dict(lead.attributes),
        "stage": lead.stage.value,
        "stage_changed_at": lead.stage_changed_at.isoformat(),
        "owner_id": owner_id,
        "owner": lead.owner,
        "bant": bant_to_json(lead.bant),
    }


def _restored(lead: Lead, state: Mapping[str, Any]) -> Lead:
    return replace(
        lead,
        email=state["email"],
        attributes=state["attributes"],
        stage=Stage(state["stage"]),
        stage_changed_at=datetime.fromisoformat(state["stage_changed_at"]),
        owner=state["owner"],
        bant=bant_from_json(state["bant"]),
    )


def _merge(store: Store, groups: Sequence[_Group], now: datetime, actor: _Actor, note: str | None) -> list[int]:
    """Merge each group's leads into its first, one merge per absorbed lead (oldest first); returns their ids.

    Every group's rows move in the same few statements. The lifecycle state the survivor keeps
    is `merged_state`'s; running clocks of the state kept run on, the others stop at `now` (they
    timed a handoff the other record had made). Scores are folded afresh from the moved activities.
    """
    ids, companies = Identities(store.connection), Companies(store.connection)
    everyone = [lead for group in groups for lead in group.leads]
    held = store.leads.held(everyone)
    if ids.absorbed(everyone):
        # found by a lookup that another writer's merge has made stale meanwhile: start over
        raise StaleLeads("a lead of this merge was merged into another one meanwhile")
    linked = companies.of_leads(everyone)
    clocks: dict[int, list[Any]] = {}
    for row in ids.open_clocks(everyone):
        clocks.setdefault(row.lead_id, []).append(row)
    pact = store.pacts.active()

    rows: list[dict[str, Any]] = []
    steps: list[tuple[int, int, Lead, int | None, Lead, int | None, MergedView]] = []  # one per merge
    final: dict[int, tuple[Lead, int | None]] = {}
    for group in groups:
        survivor_id, *absorbed_ids = group.leads
        current, current_owner = held[survivor_id][0], held[survivor_id][1]
        for absorbed_id in absorbed_ids:
            absorbed, absorbed_owner = held[absorbed_id][0], held[absorbed_id][1]
            state = merged_state([current, absorbed])
            if state.lead.email is not None and state.lead.email in group.renames:
                state = replace(state, lead=replace(state.lead, email=group.renames[state.lead.email]))
            owner_id = {survivor_id: current_owner, absorbed_id: absorbed_owner}.get(state.owner_of or 0)
            view = MergedView(state.lead, owner_id, state.state_of)
            rows.append(
                {
                    "survivor_id": survivor_id,
                    "absorbed_id": absorbed_id,
                    "rule": group.rule,
                    "evidence": dict(group.evidence),
                    "before": {
                        "survivor": _snapshot(current, current_owner),
                        "absorbed": _snapshot(absorbed, absorbed_owner),
                    },
                    "after": _snapshot(state.lead, owner_id),
                    "merged_at": now,
                    "merged_by": actor.name,
                    "note": note,
                }
            )
            steps.append((survivor_id, absorbed_id, current, current_owner, absorbed, absorbed_owner, view))
            current, current_owner = state.lead, owner_id
        final[survivor_id] = (current, current_owner)
    merge_ids = ids.add_merges(rows)

    ids.move([(m, s, a) for m, (s, a, *_) in zip(merge_ids, steps, strict=True)])
    moved: list[tuple[int, int, int]] = []
    stopped: list[tuple[int, int]] = []
    aliases: list[tuple[str, int, int | None]] = []
    links: list[tuple[int, int]] = []
    companies_taken: list[tuple[int, int]] = []
    entries: list[LedgerEntry] = []
    winners = [(s, a) for s, a, *_, view in steps if view.state_of == a and clocks.get(a)]
    taken = ids.clock_keys(s for s, _ in winners) if winners else set()
    for merge_id, (survivor_id, absorbed_id, before, _, absorbed, _, view) in zip(merge_ids, steps, strict=True):
        # clocks: those of the state kept run on (on the survivor), the others stop now; a run the
        # survivor already has (same clock, same start) stops too
        if view.state_of == absorbed_id:
            stopped.extend((merge_id, row.id) for row in clocks.get(survivor_id, []))
            runs = clocks.pop(absorbed_id, [])
            kept = [row for row in runs if (survivor_id, row.clock_id, row.started_at) not in taken]
            stopped.extend((merge_id, row.id) for row in runs if row not in kept)
            moved.extend((merge_id, row.id, survivor_id) for row in kept)
            taken.update((survivor_id, row.clock_id, row.started_at) for row in kept)
            clocks[survivor_id] = kept
        else:
            stopped.extend((merge_id, row.id) for row in clocks.pop(absorbed_id, []))
        if absorbed.email is not None and absorbed.email != view.lead.email:
            aliases.append((absorbed.email, survivor_id, merge_id))
        if survivor_id not in linked and absorbed_id in linked:
            linked[survivor_id] = linked[absorbed_id]
            links.append((survivor_id, linked[absorbed_id]))
            companies_taken.append((merge_id, linked[absorbed_id]))
        entries.extend(
            _merge_entries(merge_id, survivor_id, absorbed_id, before, absorbed, view, rows, now, actor, pact)
        )
    companies.link(links)
    ids.record_companies(companies_taken)
    ids.move_clocks(moved)
    ids.stop_clocks(stopped, now)
    # the absorbed leads first: one may hand its address to its survivor in the same statement
    absorbed_rows = [(replace(held[a][0], email=None), held[a][1], held[a][2]) for _, a, *_ in steps]
    survivor_rows = [(lead, owner, held[s][2]) for s, (lead, owner) in final.items()]
    store.leads.save_states([*absorbed_rows, *survivor_rows], now)
    ids.add_emails(aliases)
    seqs = store.ledger.append(entries)
    ids.set_merge_seqs(dict(zip(merge_ids, seqs[::2], strict=True)))
    ids.drop_scores(everyone)
    _rescore(store, final, now)
    return merge_ids


@dataclass(frozen=True, slots=True)
class MergedView:
    lead: Lead
    owner_id: int | None
    state_of: int


def _merge_entries(
    merge_id: int,
    survivor_id: int,
    absorbed_id: int,
    before: Lead,
    absorbed: Lead,
    view: MergedView,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    actor: _Actor,
    pact: Any,
) -> list[LedgerEntry]:
    """The survivor's entry (with the stage and owner it takes, when they change) and the absorbed lead's."""
    row = next(r for r in rows if r["absorbed_id"] == absorbed_id)
    evidence = {
        "merge": merge_id,
        "rule": row["rule"],
        "survivor": survivor_id,
        "absorbed": absorbed_id,
        "state_of": view.state_of,
        "absorbed_state": {"stage": absorbed.stage.value, "owner": absorbed.owner, "email": absorbed.email},
        "survivor_state": {"stage": before.stage.value, "owner": before.owner, "email": before.email},
        **dict(row["evidence"]),
    }
    version = pact.version if pact is not None else None
    changed = view.lead.stage is not before.stage
    return [
        _entry(
            survivor_id,
            EntryKind.MERGE,
            now,
            actor,
            version,
            evidence,
            from_stage=before.stage.value if changed else None,
            to_stage=view.lead.stage.value if changed else None,
            owner=view.lead.owner if view.lead.owner != before.owner else None,
            note=row["note"],
        ),
        _entry(absorbed_id, EntryKind.MERGE, now, actor, version, evidence, note=row["note"]),
    ]


def _entry(
    lead_id: int,
    kind: EntryKind,
    now: datetime,
    actor: _Actor,
    version: int | None,
    evidence: Mapping[str, object],
    *,
    from_stage: str | None = None,
    to_stage: str | None = None,
    owner: str | None = None,
    note: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        lead_id=lead_id,
        kind=kind,
        at=now,
        recorded_at=now,
        actor=actor.name,
        department=actor.department,
        pact_version=version,
        from_stage=from_stage,
        to_stage=to_stage,
        owner=owner,
        evidence=evidence,
        note=note,
    )


def _rescore(store: Store, leads: Mapping[int, Any], now: datetime) -> None:
    """Fold the scores of these leads afresh from their activities under the active pact (none: later)."""
    pact = store.pacts.active()
    if pact is None or not leads:
        return
    bench = Workbench(store, pact, now)
    bench.load(leads)
    bench.flush()


# --- by hand: merge, undo, list ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergeView:
    """A merge as listed: who survived, who was absorbed, why, and its undo."""

    merge: MergeRow
    survivor_email: str | None
    absorbed_email: str | None


def merge_leads(engine: Engine, now: datetime, a: str, b: str, by: str, note: str | None = None) -> MergeView:
    """Merge two leads (ids or addresses) by hand: the older survives, whatever the order given."""

    def work(store: Store) -> MergeView:
        user = require_user(store, by)
        if not user.is_active:
            raise DomainError(f"{by} is inactive and cannot merge leads")
        first, second = require_lead(store, a), require_lead(store, b)
        if first.id == second.id:
            raise DomainError(f"{a} and {b} are one lead already (lead {first.id})")
        ids = Identities(store.connection)
        ages = ids.created_at([first.id, second.id])
        order = survivor_order(ages)
        evidence: dict[str, Any] = {"asked": [a, b]}
        apart = ids.apart(order).get(frozenset(order))
        if apart is not None:
            evidence["kept_apart_by"] = apart  # separated by that undo; merged again by a person
        (merge_id,) = _merge(
            store, [_Group(order, Rule.MANUAL, evidence)], now, _Actor(user.name, user.department), note
        )
        return _view(store, merge_id)

    return retrying(engine, work, conflicts=_CONFLICTS)


def undo_merge(engine: Engine, now: datetime, merge_id: int, by: str) -> MergeView:
    """Separate the two leads of a merge again (a manager only), recording an UNMERGE in the ledger."""
    return retrying(engine, lambda store: _undo(store, now, merge_id, by), conflicts=_CONFLICTS)


# Survivor fields an undo puts back when they still hold what the merge gave them; a field
# changed since (a stage move, a new owner) keeps its newer value.
_FIELDS = {"stage": ("stage", "stage_changed_at"), "owner": ("owner_id", "owner"), "bant": ("bant",)}
_FIELDS.update({"attributes": ("attributes",), "email": ("email",)})


def _undo(store: Store, now: datetime, merge_id: int, by: str) -> MergeView:
    user = require_user(store, by)
    if not user.is_manager:
        raise DomainError(f"only a manager may undo a merge; {by} is not one")
    if not user.is_active:
        raise DomainError(f"{by} is inactive and cannot undo merges")
    ids, companies = Identities(store.connection), Companies(store.connection)
    merge = ids.merge(merge_id, lock=True)
    if merge is None:
        raise NotFound(f"no merge {merge_id}; `leadpact identities` lists them")
    if merge.undone_at is not None:
        raise DomainError(
            f"merge {merge_id} was undone already, by {merge.undone_by} at {merge.undone_at:%Y-%m-%d %H:%M} UTC"
        )
    s, a = merge.survivor_id, merge.absorbed_id
    later = ids.later_merges(merge_id, [s, a])
    if later:
        raise DomainError(
            f"undo merge {later[-1].id} first: it merged lead {later[-1].absorbed_id} into lead "
            f"{later[-1].survivor_id} after this one"
        )
    held = store.leads.held([s, a])
    survivor, survivor_owner, survivor_version = held[s]
    absorbed, _, absorbed_version = held[a]
    now_state = _snapshot(survivor, survivor_owner)
    before_s, before_a, after = merge.before["survivor"], merge.before["absorbed"], merge.after
    target = dict(now_state)
    restored, kept = [], []
    for name, columns in _FIELDS.items():
        if all(now_state[c] == after[c] for c in columns):
            target.update({c: before_s[c] for c in columns})
            restored.append(name)
        else:
            kept.append(name)

    ids.drop_merge_emails(merge_id)
    ids.move_back(merge_id, a)
    for row in ids.moved(merge_id, "company"):
        companies.unlink(s, row.row_id)
    reopened = ids.reopen_clocks(merge_id, a, merge.merged_at)
    if "stage" in restored:
        reopened += ids.reopen_clocks(merge_id, s, merge.merged_at)
    address = before_a["email"]
    if address is not None:
        holders = set(ids.leads_by_email([address]).get(address, []))
        if now_state["email"] == address and target["email"] != address:
            holders.discard(s)
        if holders:
            kept.append(f"address {address} (lead {min(holders)} holds it)")
            before_a = {**before_a, "email": None}
    survivor_back = _restored(survivor, target)
    store.leads.save_states(
        [
            (survivor_back, target["owner_id"], survivor_version),
            (_restored(absorbed, before_a), before_a["owner_id"], absorbed_version),
        ],
        now,
    )
    undo = {"merge": merge_id, "restored": restored, "kept": kept, "clocks_reopened": reopened}
    pact = store.pacts.active()
    version = pact.version if pact is not None else None
    changed = survivor_back.stage is not survivor.stage
    who = _Actor(user.name, user.department)
    evidence = {**undo, "survivor": s, "absorbed": a}
    seqs = store.ledger.append(
        [
            _entry(
                s,
                EntryKind.UNMERGE,
                now,
                who,
                version,
                evidence,
                from_stage=survivor.stage.value if changed else None,
                to_stage=survivor_back.stage.value if changed else None,
                owner=survivor_back.owner if survivor_back.owner != survivor.owner else None,
            ),
            _entry(a, EntryKind.UNMERGE, now, who, version, evidence),
        ]
    )
    ids.mark_undone(merge_id, now, user.name, undo, seqs[0])
    ids.drop_scores([s, a])
    _rescore(store, {s: None, a: None}, now)
    return _view(store, merge_id)


def _view(store: Store, merge_id: int) -> MergeView:
    merge = Identities(store.connection).merge(merge_id)
    assert merge is not None
    emails = Identities(store.connection).first_emails([merge.survivor_id, merge.absorbed_id])
    return MergeView(merge, emails.get(merge.survivor_id), merge.before["absorbed"]["email"])


def display_zone(store: Store) -> str:
    """The time zone people read times in: the active pact's calendar's (Asia/Tokyo without one)."""
    with store:
        pact = store.pacts.active()
        return pact.pact.calendar.timezone if pact is not None else "Asia/Tokyo"


def list_merges(store: Store, limit: int | None = None, lead: str | None = None) -> list[MergeView]:
    """Merges newest first, each with its evidence and undo (of one lead when `lead` is given)."""
    with store:
        lead_id = require_lead(store, lead).id if lead is not None else None
        ids = Identities(store.connection)
        merges = ids.merges(limit, lead_id)
        emails = ids.first_emails(m.survivor_id for m in merges)
        return [MergeView(m, emails.get(m.survivor_id), m.before["absorbed"]["email"]) for m in merges]


# --- the e-mail policy --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyChange:
    before: EmailPolicy
    after: EmailPolicy
    renamed: list[tuple[int, str, str]]  # (lead, old address, new address): every address rewritten
    merges: list[int]
    kept_apart: list[str]  # addresses left as they were, each with why
    dry_run: bool = False


def current_policy(store: Store) -> EmailPolicy:
    with store:
        return Identities(store.connection).policy()


def change_policy(
    engine: Engine, now: datetime, policy: EmailPolicy, by: str, *, dry_run: bool = False
) -> PolicyChange:
    """Set the plus-addressing policy and re-normalise every stored address under it, in one
    transaction: leads whose addresses become one are merged (rule email_policy). A manager only."""
    return retrying(
        engine, lambda store: _change_policy(store, now, policy, by, dry_run), commit=not dry_run, conflicts=_CONFLICTS
    )


def _change_policy(store: Store, now: datetime, policy: EmailPolicy, by: str, dry_run: bool) -> PolicyChange:
    user = require_user(store, by)
    if not user.is_manager:
        raise DomainError(f"only a manager may change how e-mail addresses are compared; {by} is not one")
    ids = Identities(store.connection)
    before = ids.policy()
    stored = ids.addresses_with("+")  # only a +tag can change: every other rule applied when it was stored
    changes = [(lead, old, new) for lead, old, _ in stored if (new := normalise_email(old, policy)) != old]
    holders = ids.leads_by_email({new for *_, new in changes})
    # Each changed address is a record naming its lead and its new form; the leads already holding
    # that form are known by it. Leads sharing a form are one person, unless an admin kept them apart.
    known: dict[Identifier, int] = {(EMAIL, new): leads[0] for new, leads in holders.items()}
    leads_named = {lead for lead, *_ in changes} | {lead for leads in holders.values() for lead in leads}
    known.update((("#lead", str(lead)), lead) for lead in leads_named)
    records = [Record(((EMAIL, new), ("#lead", str(lead))), create=False) for lead, _, new in changes]
    records += [
        Record(((EMAIL, new), ("#lead", str(lead))), create=False)
        for new, leads in holders.items()
        for lead in leads[1:]
    ]
    plan = plan_identities(records, known)
    joined = {lead for person in plan.persons if len(person.leads) > 1 for lead in person.leads}
    if joined and (apart := ids.apart(joined)):
        plan = plan_identities(records, known, apart)
    refused = {i: o.refused for i, o in enumerate(plan.outcomes[: len(changes)]) if o.refused}
    kept_apart = [f"{changes[i][1]} of lead {changes[i][0]} stays as it is: {why}" for i, why in refused.items()]
    keep = {changes[i][1] for i in refused}
    renames = {old: new for i, (_, old, new) in enumerate(changes) if i not in refused}

    groups: list[_Group] = []
    persons = [person for person in plan.persons if len(person.leads) > 1]
    ages = ids.created_at(lead for person in persons for lead in person.leads)
    for person in persons:
        order = survivor_order({lead: ages[lead] for lead in person.leads})
        shared = sorted({new for lead, _, new in changes if lead in person.leads})
        evidence = {"from": str(before), "to": str(policy), "addresses": shared}
        groups.append(_Group(order, Rule.EMAIL_POLICY, evidence, renames))
    merges = _merge(store, groups, now, _Actor(user.name, user.department), note=None) if groups else []

    # After the merges every address is with its survivor: rewrite the rest in the new form.
    survivor = {lead: group.leads[0] for group in groups for lead in group.leads}
    leads = {survivor.get(lead, lead) for i, (lead, *_) in enumerate(changes) if i not in refused}
    held = store.leads.held(leads)
    renamed = [(lead, old, new) for i, (lead, old, new) in enumerate(changes) if i not in refused]
    first_rows: list[tuple[Lead, int | None, int]] = []
    drop: list[str] = []
    rename: list[tuple[str, str]] = []
    for lead in sorted(leads):
        current, owner, version = held[lead]
        first = current.email
        new_first = renames.get(first, first) if first else first
        if new_first != first:
            first_rows.append((replace(current, email=new_first), owner, version))
        seen = {new_first}
        for address in ids.other_emails(lead):
            new = address if address in keep else renames.get(address, address)
            if new in seen:
                drop.append(address)
            elif new != address:
                rename.append((address, new))
            seen.add(new)
    ids.drop_emails(drop)
    ids.rename_emails(rename)
    store.leads.save_states(first_rows, now)
    ids.set_policy(policy, now, user.name)
    return PolicyChange(before, policy, renamed, merges, kept_apart, dry_run)
