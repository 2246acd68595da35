"""The unit of work over the store, and the repositories that map rows to domain objects.

`Store` is the transaction boundary services use: it rolls back unless `commit()` is
called. Repositories never commit. Bulk methods take and return lists so that the
ingest path issues one statement per batch, never one per row.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by

from leadpact.adapters.db import driver
from leadpact.adapters.db import tables as t
from leadpact.adapters.db.history import HistoryColumns
from leadpact.adapters.db.imports import ImportedActivities, ImportRuns, Quarantine
from leadpact.adapters.db.score_state import StateLayout
from leadpact.adapters.db.tables import from_micros, to_micros
from leadpact.domain.clocks import ClockRun
from leadpact.domain.escalation import BreachNotice, Lang, NotificationStatus
from leadpact.domain.identity import EmailPolicy
from leadpact.domain.lead import Lead, company_of, normalise_email, scoring_attributes
from leadpact.domain.ledger import ChainBreak, EntryKind, LedgerEntry, chain_hash, first_break
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import AttributeCondition, BantItem, ClockEvent, Pact
from leadpact.domain.qualification import Bant
from leadpact.domain.scoring import Activity, ScoreState, condition_holds

IN_CHUNK = 500  # keys per IN (...) list: under SQLite's variable limit, small enough to plan well


class StaleLeads(Exception):
    """Another unit of work changed leads this one read; retry the unit of work on fresh state."""


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    department: str
    email: str | None
    is_manager: bool
    is_active: bool


@dataclass(frozen=True, slots=True)
class PactVersion:
    version: int
    content_hash: str
    source_text: str
    pact: Pact
    proposed_by: str
    proposed_at: datetime
    status: str
    activated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Approval:
    version: int
    user: str
    department: str
    approved_at: datetime


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, replacing the non-key columns of rows whose keys exist (SQLite and PostgreSQL)."""
    if not rows:
        return
    dialect = connection.dialect.name
    stmt: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    changed = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    connection.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changed), rows)


def absorbed_lead(lead_id: Any) -> Any:
    """True when the lead (a column or a value) is merged into another one now (see services.identities).

    Lists of live leads leave those out: everything the absorbed lead had is its survivor's.
    """
    m = t.identity_merges.c
    return exists().where(m.absorbed_id == lead_id, m.undone_at.is_(None))


class Users:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, name: str, department: str, email: str | None, is_manager: bool, at: datetime) -> User:
        result = self.c.execute(
            insert(t.users).values(
                name=name, department=department, email=email, is_manager=is_manager, is_active=True, created_at=at
            )
        )
        (user_id,) = result.inserted_primary_key or (0,)
        return User(user_id, name, department, email, is_manager, True)

    def by_name(self, name: str) -> User | None:
        row = self.c.execute(select(t.users).where(t.users.c.name == name)).first()
        return _user(row) if row else None

    def by_names(self, names: Iterable[str]) -> dict[str, User]:
        wanted = sorted(set(names))
        found: dict[str, User] = {}
        for part in chunks(wanted):
            for row in self.c.execute(select(t.users).where(t.users.c.name.in_(part))):
                found[row.name] = _user(row)
        return found

    def by_id(self, user_id: int) -> User | None:
        row = self.c.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return _user(row) if row else None

    def all(self) -> list[User]:
        return [_user(row) for row in self.c.execute(select(t.users).order_by(t.users.c.department, t.users.c.name))]

    def set_active(self, user_id: int, is_active: bool) -> None:
        self.c.execute(update(t.users).where(t.users.c.id == user_id).values(is_active=is_active))


def _user(row: Any) -> User:
    return User(row.id, row.name, row.department, row.email, row.is_manager, row.is_active)


class Pacts:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def next_version(self) -> int:
        return int(self.c.execute(select(func.coalesce(func.max(t.pact_versions.c.version), 0))).scalar_one()) + 1

    def add(self, version: int, content_hash: str, text: str, pact: Pact, by: User, at: datetime) -> None:
        self.c.execute(
            insert(t.pact_versions).values(
                version=version,
                content_hash=content_hash,
                source_text=text,
                document=pact.model_dump(mode="json", by_alias=True),
                proposed_by=by.id,
                proposed_at=at,
                status="draft",
            )
        )

    def _query(self) -> Any:
        return select(t.pact_versions, t.users.c.name.label("proposer")).join(
            t.users, t.users.c.id == t.pact_versions.c.proposed_by
        )

    def get(self, version: int) -> PactVersion | None:
        row = self.c.execute(self._query().where(t.pact_versions.c.version == version)).first()
        return _pact_version(row) if row else None

    def lock(self, version: int) -> None:
        """Hold the version row until commit, so concurrent approvals activate it exactly once."""
        self.c.execute(
            select(t.pact_versions.c.version).where(t.pact_versions.c.version == version).with_for_update()
        ).first()

    def by_hash(self, content_hash: str) -> int | None:
        row = self.c.execute(
            select(t.pact_versions.c.version).where(t.pact_versions.c.content_hash == content_hash)
        ).first()
        return int(row.version) if row else None

    def active(self) -> PactVersion | None:
        row = self.c.execute(self._query().where(t.pact_versions.c.status == "active")).first()
        return _pact_version(row) if row else None

    def latest(self) -> PactVersion | None:
        row = self.c.execute(self._query().order_by(t.pact_versions.c.version.desc()).limit(1)).first()
        return _pact_version(row) if row else None

    def all(self) -> list[PactVersion]:
        return [_pact_version(row) for row in self.c.execute(self._query().order_by(t.pact_versions.c.version))]

    def approvals(self, version: int | None = None) -> list[Approval]:
        query = (
            select(t.pact_approvals, t.users.c.name)
            .join(t.users, t.users.c.id == t.pact_approvals.c.user_id)
            .order_by(t.pact_approvals.c.approved_at, t.pact_approvals.c.id)
        )
        if version is not None:
            query = query.where(t.pact_approvals.c.version == version)
        return [Approval(r.version, r.name, r.department, r.approved_at) for r in self.c.execute(query)]

    def approve(self, version: int, user: User, at: datetime) -> None:
        self.c.execute(
            insert(t.pact_approvals).values(
                version=version, user_id=user.id, department=user.department, approved_at=at
            )
        )

    def activate(self, version: int, at: datetime) -> None:
        self.c.execute(update(t.pact_versions).where(t.pact_versions.c.status == "active").values(status="superseded"))
        self.c.execute(
            update(t.pact_versions).where(t.pact_versions.c.version == version).values(status="active", activated_at=at)
        )


def _pact_version(row: Any) -> PactVersion:
    return PactVersion(
        version=row.version,
        content_hash=row.content_hash,
        source_text=row.source_text,
        pact=Pact.model_validate(row.document),
        proposed_by=row.proposer,
        proposed_at=row.proposed_at,
        status=row.status,
        activated_at=row.activated_at,
    )


def bant_to_json(bant: Bant) -> dict[str, Any]:
    return {"confirmed": sorted(i.value for i in bant.confirmed), "facts": dict(bant.facts or {})}


def bant_from_json(data: Mapping[str, Any]) -> Bant:
    return Bant(confirmed=frozenset(BantItem(v) for v in data.get("confirmed", [])), facts=dict(data.get("facts", {})))


class Leads:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def _query(self) -> Any:
        return select(t.leads, t.users.c.name.label("owner_name")).outerjoin(
            t.users, t.users.c.id == t.leads.c.owner_id
        )

    def get(self, lead_id: int) -> Lead | None:
        row = self.c.execute(self._query().where(t.leads.c.id == lead_id)).first()
        return _lead(row) if row else None

    def get_many(self, lead_ids: Iterable[int]) -> dict[int, Lead]:
        return {lead_id: lead for lead_id, (lead, _, _) in self.held(lead_ids).items()}

    def held(self, lead_ids: Iterable[int]) -> dict[int, tuple[Lead, int | None, int]]:
        """Each lead with its owner id and row version (what `save_states` checks before writing)."""
        # On the driver's connection, the ids as one parameter: every import batch reads its 5,000
        # leads here, and SQLAlchemy's expanded IN lists and per-column result processing took
        # 120 ms of a batch against 40 ms.
        wanted = sorted(set(lead_ids))
        if not wanted:
            return {}
        where, param = driver.in_list(self.c, wanted)
        rows = driver.fetch(
            self.c,
            "SELECT l.id, l.email, l.attributes, l.stage, l.stage_changed_at, u.name, l.bant, l.owner_id, l.version "
            f"FROM leads AS l LEFT JOIN users AS u ON u.id = l.owner_id WHERE l.id {where}",
            (param,),
        )
        return {
            int(lead_id): (
                Lead(
                    id=int(lead_id),
                    email=email,
                    attributes=driver.json_value(attributes),
                    stage=Stage(stage),
                    stage_changed_at=from_micros(int(changed)),
                    owner=owner,
                    bant=bant_from_json(driver.json_value(bant)),
                ),
                owner_id,
                int(version),
            )
            for lead_id, email, attributes, stage, changed, owner, bant, owner_id, version in rows
        }

    def waiting_for_mql(self, lead_ids: Sequence[int], conditions: Sequence[AttributeCondition]) -> list[int]:
        """The leads (of these) that could still become MQLs: at lead or recycled, meeting the attribute conditions."""
        if not lead_ids:
            return []
        where, param = driver.in_list(self.c, lead_ids)
        rows = driver.fetch(
            self.c,
            f"SELECT id, email, attributes FROM leads WHERE id {where} AND stage IN ('lead', 'recycled')",
            (param,),
        )
        found = []
        for lead_id, email, attributes in rows:
            if conditions:
                data = driver.json_value(attributes)
                seen = scoring_attributes(email, data or {})
                if not all(condition_holds(c, seen) for c in conditions):
                    continue
            found.append(int(lead_id))
        return sorted(found)

    def ids_by_email(self, emails: Iterable[str]) -> dict[str, int]:
        wanted = list(set(emails))
        if not wanted:
            return {}
        where, param = driver.in_list(self.c, wanted)
        return {
            email: int(i)
            for i, email in driver.fetch(self.c, f"SELECT id, email FROM leads WHERE email {where}", (param,))
        }

    def ids_by_ref(self, system: str, external_ids: Iterable[str]) -> dict[str, int]:
        """One statement for a batch's ids (driver-level: imports resolve thousands per batch)."""
        wanted = list(set(external_ids))
        if not wanted:
            return {}
        where, param = driver.in_list(self.c, wanted)
        m = driver.mark(self.c)
        query = f"SELECT external_id, lead_id FROM lead_refs WHERE system = {m} AND external_id {where}"
        return {ref: int(i) for ref, i in driver.fetch(self.c, query, (system, param))}

    def refs_moved(self) -> tuple[int, int]:
        """Where the identity merges stand: the last merge's id and the ledger seq of the last undo.

        Only a merge or its undo moves a system id from one lead to another, and each raises one
        of the two: ids found by `ids_by_ref` while this stood still are still right.
        """
        m = t.identity_merges.c
        # Two subqueries: each maximum alone is one step down its index; asked together, SQLite
        # reads every merge.
        last = select(func.max(m.id)).scalar_subquery()
        undone = select(func.max(m.unmerge_seq)).scalar_subquery()
        found_last, found_undone = self.c.execute(select(last, undone)).one()
        return int(found_last or 0), int(found_undone or 0)

    def refs_of(self, lead_id: int) -> list[tuple[str, str]]:
        query = select(t.lead_refs.c.system, t.lead_refs.c.external_id).where(t.lead_refs.c.lead_id == lead_id)
        return [(r.system, r.external_id) for r in self.c.execute(query.order_by(t.lead_refs.c.system))]

    def create(self, email: str | None, at: datetime) -> int:
        result = self.c.execute(
            insert(t.leads).values(
                email=email,
                attributes={},
                stage=Stage.LEAD.value,
                stage_changed_at=at,
                bant=bant_to_json(Bant()),
                created_at=at,
                updated_at=at,
                version=1,
            )
        )
        (lead_id,) = result.inserted_primary_key or (0,)
        return int(lead_id)

    def add_refs(self, refs: list[dict[str, Any]]) -> None:
        if refs:
            self.c.execute(insert(t.lead_refs), refs)

    def save_states(self, leads: Sequence[tuple[Lead, int | None, int]], at: datetime) -> None:
        """Write back leads' mutable state in one statement, each row only if its version is still the
        one read (the optimistic lock), bumping it. A lead another unit of work changed since it was
        read raises `StaleLeads`: the caller retries on fresh state instead of overwriting theirs."""
        if not leads:
            return
        # Plain tuples on the driver's connection, as `Ledger.append`: every import batch writes its
        # leads back here, and SQLAlchemy's per-row parameter processing cost more than the update.
        m = driver.mark(self.c)
        statement = (
            f"UPDATE leads SET email = {m}, attributes = {m}, stage = {m}, stage_changed_at = {m}, owner_id = {m}, "
            f"bant = {m}, updated_at = {m}, version = version + 1 WHERE id = {m} AND version = {m}"
        )
        updated = to_micros(at)
        rows = [
            (
                lead.email,
                json.dumps(dict(lead.attributes)),
                lead.stage.value,
                to_micros(lead.stage_changed_at),
                owner_id,
                json.dumps(bant_to_json(lead.bant)),
                updated,
                lead.id,
                version,
            )
            for lead, owner_id, version in leads
        ]
        written = driver.execute_many(self.c, statement, rows)
        if written != len(rows):
            raise StaleLeads(f"{len(rows) - written} of {len(rows)} leads were changed by another writer meanwhile")

    def ids_in_stages(self, stages: Sequence[Stage], after: int, limit: int) -> list[int]:
        """Lead ids in `stages`, in id order after `after` (keyset paging, never OFFSET); merged leads left out."""
        query = (
            select(t.leads.c.id)
            .where(t.leads.c.stage.in_([s.value for s in stages]), t.leads.c.id > after)
            .where(~absorbed_lead(t.leads.c.id))
            .order_by(t.leads.c.id)
            .limit(limit)
        )
        return [row.id for row in self.c.execute(query)]

    def stage_counts(self) -> dict[str, int]:
        query = select(t.leads.c.stage, func.count()).where(~absorbed_lead(t.leads.c.id)).group_by(t.leads.c.stage)
        return {row[0]: row[1] for row in self.c.execute(query)}

    def waiting_for_routing(self, departments: Sequence[str]) -> list[Any]:
        """MQLs no member of `departments` holds (no owner, or one of another department), oldest first."""
        c, owner = t.leads.c, t.users.alias("owner")
        query = (
            select(c.id, c.email, c.attributes, c.stage_changed_at)
            .outerjoin(owner, owner.c.id == c.owner_id)
            .where(text(t.MQL), ~absorbed_lead(c.id))  # the MQLs' partial index, named as it is
            .where(owner.c.id.is_(None) | owner.c.department.not_in(list(departments)))
            .order_by(c.stage_changed_at, c.id)
        )
        return list(self.c.execute(query))

    def page(self, after: int, limit: int) -> list[tuple[Lead, str | None, str | None]]:
        """Up to `limit` leads in id order after `after` (keyset paging), each with its owner's
        e-mail address and department."""
        query = (
            select(
                t.leads,
                t.users.c.name.label("owner_name"),
                t.users.c.email.label("owner_email"),
                t.users.c.department.label("owner_department"),
            )
            .outerjoin(t.users, t.users.c.id == t.leads.c.owner_id)
            .where(t.leads.c.id > after)
            .order_by(t.leads.c.id)
            .limit(limit)
        )
        return [(_lead(row), row.owner_email, row.owner_department) for row in self.c.execute(query)]

    def count(self) -> int:
        return int(self.c.execute(select(func.count()).select_from(t.leads)).scalar_one())

    def refs_of_many(self, lead_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
        """Each lead's (system, external id) pairs, in that order."""
        found: dict[int, list[tuple[str, str]]] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = (
                select(t.lead_refs.c.lead_id, t.lead_refs.c.system, t.lead_refs.c.external_id)
                .where(t.lead_refs.c.lead_id.in_(part))
                .order_by(t.lead_refs.c.lead_id, t.lead_refs.c.system, t.lead_refs.c.external_id)
            )
            for row in self.c.execute(query):
                found.setdefault(row.lead_id, []).append((row.system, row.external_id))
        return found

    def find(self, key: str) -> Lead | None:
        """A lead by its id or any of its e-mail addresses; the id of a lead merged into another finds that one."""
        if key.strip().isdigit():
            lead_id = int(key)
            m = t.identity_merges.c
            merged = select(m.survivor_id).where(m.absorbed_id == bindparam("b_id"), m.undone_at.is_(None))
            while (survivor := self.c.execute(merged, {"b_id": lead_id}).scalar()) is not None:
                lead_id = survivor
            return self.get(lead_id)
        policy = self.c.execute(select(t.identity_policy.c.plus_addressing)).scalar()
        email = normalise_email(key, EmailPolicy.parse(policy) if policy else EmailPolicy())
        first = select(t.leads.c.id).where(t.leads.c.email == email)
        other = select(t.lead_emails.c.lead_id).where(t.lead_emails.c.email == email)
        found = self.c.execute(first).scalar() or self.c.execute(other).scalar()
        return self.get(found) if found is not None else None


def _lead(row: Any) -> Lead:
    return Lead(
        id=row.id,
        email=row.email,
        attributes=row.attributes,
        stage=Stage(row.stage),
        stage_changed_at=row.stage_changed_at,
        owner=row.owner_name,
        bant=bant_from_json(row.bant),
    )


def activity_from_row(row: Any) -> Activity:
    """A stored activity (a result row, or a mapping such as an insert's parameters) as the domain sees it."""
    values: Mapping[str, Any] = row._mapping if hasattr(row, "_mapping") else row
    occurred = values["occurred_at"]
    at = occurred if isinstance(occurred, datetime) else from_micros(int(occurred))
    return Activity(type=values["type"], at=at, properties=values.get("properties") or {})


class Activities:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.c.execute(insert(t.activities), rows)

    def of_lead(self, lead_id: int) -> list[Any]:
        query = (
            select(t.activities)
            .where(t.activities.c.lead_id == lead_id)
            .order_by(t.activities.c.occurred_at, t.activities.c.id)
        )
        return list(self.c.execute(query))

    def of_leads(self, lead_ids: Iterable[int]) -> dict[int, list[Any]]:
        found: dict[int, list[Any]] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = (
                select(t.activities)
                .where(t.activities.c.lead_id.in_(part))
                .order_by(t.activities.c.lead_id, t.activities.c.occurred_at, t.activities.c.id)
            )
            for row in self.c.execute(query):
                found.setdefault(row.lead_id, []).append(row)
        return found

    def reach(self, lead_ids: Sequence[int], points: Mapping[str, float]) -> dict[int, float]:
        """Per lead, the sum over its stored activities of the points each type can add at most."""
        where, param = driver.in_list(self.c, lead_ids)
        rows = driver.fetch(
            self.c,
            f"SELECT lead_id, type, count(*) FROM activities WHERE lead_id {where} GROUP BY lead_id, type",
            (param,),
        )
        found: dict[int, float] = {}
        for lead_id, kind, count in rows:
            found[int(lead_id)] = found.get(int(lead_id), 0.0) + points.get(kind, 0.0) * int(count)
        return found

    def count(self) -> int:
        return int(self.c.execute(select(func.count()).select_from(t.activities)).scalar_one())


class Contacts:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.c.execute(insert(t.contacts), rows)

    def of_lead(self, lead_id: int) -> list[Any]:
        query = (
            select(t.contacts, t.users.c.name.label("user_name"))
            .join(t.users, t.users.c.id == t.contacts.c.user_id)
            .where(t.contacts.c.lead_id == lead_id)
            .order_by(t.contacts.c.occurred_at)
        )
        return list(self.c.execute(query))


class Inbox:
    """Applied canonical events; (source, event_id) is the idempotency key."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def known(self, source: str, event_ids: Iterable[str]) -> dict[str, str]:
        """The given event ids already applied from `source`, with their payload hashes.

        One statement for all the ids (an array, or a JSON array on SQLite), read through the driver:
        a re-import checks every row of a batch here.
        """
        wanted = list(set(event_ids))
        if not wanted:
            return {}
        where, param = driver.in_list(self.c, wanted)
        m = driver.mark(self.c)
        rows = driver.fetch(
            self.c,
            f"SELECT event_id, payload_hash FROM inbox WHERE source = {m} AND event_id {where}",
            (source, param),
        )
        return dict(rows)

    def all_same(
        self, source: str, event_ids: Sequence[str], hashes: Sequence[str], start: int | None = None
    ) -> int | None:
        """Whether every one of these events was applied from `source` before, each with its payload
        hash: the common batch of a file imported again, checked without a row coming back.

        Returns None when not, else the inbox id after the last of them, where the next batch of
        the file most likely starts (its rows were stored in file order): given back as `start`,
        the rows `start`… are read as one range of the table, a quarter of the time of looking
        each id up in the unique index, and each id is looked up only when they differ.

        The store joins each (id, hash) stored into one text, in the order asked (or in the
        range's); equal to the same text made of the arguments means each pair is stored (an id
        or hash holding a separator makes the counts differ, and is answered None: `known` then
        says which).
        """
        if not event_ids:
            return None  # nothing to compare, nor a place to start from
        expected = "\x1e".join(map("\x1f".join, zip(event_ids, hashes, strict=True)))
        if expected.count("\x1e") != len(event_ids) - 1 or expected.count("\x1f") != len(event_ids):
            return None
        m = driver.mark(self.c)
        postgres = driver.is_postgres(self.c)
        if start is not None:
            # The source is checked over the range's rows, not in the WHERE clause: there, both
            # engines would take the (source, event_id) index and filter every row of the source.
            if postgres:
                sql = (
                    "SELECT string_agg(event_id || chr(31) || payload_hash, chr(30) ORDER BY id), "
                    "bool_or(source <> %s) FROM inbox WHERE id BETWEEN %s AND %s"
                )
            else:  # a rowid range is read in rowid order
                sql = (
                    "SELECT group_concat(event_id || char(31) || payload_hash, char(30)), "
                    "max(source <> ?) FROM inbox WHERE id BETWEEN ? AND ?"
                )
            ((found, other),) = driver.fetch(self.c, sql, (source, start, start + len(event_ids) - 1))
            if found == expected and not other:
                return start + len(event_ids)
        if postgres:
            sql = (
                "SELECT string_agg(i.event_id || chr(31) || i.payload_hash, chr(30) ORDER BY j.n) "
                "FROM jsonb_array_elements_text(%s::jsonb) WITH ORDINALITY AS j(value, n) "
                "JOIN inbox AS i ON i.source = %s AND i.event_id = j.value"
            )
        else:  # SQLite runs a CROSS JOIN's left table as the outer loop: json_each, in the order asked
            sql = (
                "SELECT group_concat(i.event_id || char(31) || i.payload_hash, char(30)) "
                f"FROM json_each({m}) AS j CROSS JOIN inbox AS i WHERE i.source = {m} AND i.event_id = j.value"
            )
        ((found,),) = driver.fetch(self.c, sql, (json.dumps(list(event_ids)), source))
        if found != expected:
            return None
        ((last,),) = driver.fetch(
            self.c, f"SELECT id FROM inbox WHERE source = {m} AND event_id = {m}", (source, event_ids[-1])
        )
        return int(last) + 1

    def add(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Insert applied events; returns their inbox ids by (source, event_id)."""
        if not rows:
            return {}
        self.c.execute(insert(t.inbox), rows)
        ids: dict[tuple[str, str], int] = {}
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row["source"], []).append(row["event_id"])
        for source, event_ids in by_source.items():
            for part in chunks(event_ids):
                query = select(t.inbox.c.id, t.inbox.c.event_id).where(
                    t.inbox.c.source == source, t.inbox.c.event_id.in_(part)
                )
                for found in self.c.execute(query):
                    ids[(source, found.event_id)] = found.id
        return ids


@dataclass(frozen=True, slots=True)
class StoredScore:
    pact_version: int
    state: ScoreState
    behaviour: float
    attributes: float
    total: float
    scored_at: datetime


class Scores:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def current(self, lead_ids: Iterable[int], version: int, pact: Pact) -> dict[int, StoredScore]:
        """The stored scores of these leads that were computed under pact `version`.

        A score stored under another version is stale (its state is laid out for that version's
        rules) and is left out: the caller recomputes it from the lead's activities.
        """
        wanted = sorted(set(lead_ids))
        if not wanted:
            return {}
        layout = StateLayout.of(pact)
        where, param = driver.in_list(self.c, wanted)  # as `Leads.held`, beside which every batch reads them
        rows = driver.fetch(
            self.c,
            "SELECT lead_id, as_of, state, behaviour, attributes, total, scored_at FROM lead_scores "
            f"WHERE lead_id {where} AND pact_version = {driver.mark(self.c)}",
            (param, version),
        )
        return {
            int(lead_id): StoredScore(
                pact_version=version,
                state=layout.from_record(None if as_of is None else from_micros(int(as_of)), bytes(state)),
                behaviour=float(behaviour),
                attributes=float(attributes),
                total=float(total),
                scored_at=from_micros(int(scored_at)),
            )
            for lead_id, as_of, state, behaviour, attributes, total, scored_at in rows
        }

    def save(self, rows: list[dict[str, Any]]) -> None:
        upsert(self.c, t.lead_scores, rows, ["lead_id"])

    def attribute_points(self, lead_ids: Sequence[int], version: int) -> dict[int, float]:
        where, param = driver.in_list(self.c, lead_ids)
        m = driver.mark(self.c)
        rows = driver.fetch(
            self.c,
            f"SELECT lead_id, attributes FROM lead_scores WHERE lead_id {where} AND pact_version = {m}",
            (param, version),
        )
        return {int(lead_id): float(points) for lead_id, points in rows}


class Ledger:
    """The append-only, hash-chained ledger. Appends lock the head row so the chain stays linear."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def append(self, entries: Sequence[LedgerEntry]) -> list[int]:
        if not entries:
            return []
        head = self.c.execute(
            select(t.ledger_head.c.seq, t.ledger_head.c.hash).where(t.ledger_head.c.id == 1).with_for_update()
        ).one()
        first = seq = int(head.seq)
        previous = str(head.hash)
        rows = []
        for entry in entries:
            seq += 1
            digest = chain_hash(previous, entry)
            rows.append((*_entry_values(entry), seq, previous, digest))
            previous = digest
        # Plain tuples on the driver's connection: an import batch appends thousands of entries, and
        # SQLAlchemy's per-row parameter processing took half the time of the append.
        driver.execute_many(self.c, driver.insert_sql(self.c, "ledger_entries", _ENTRY_COLUMNS), rows)
        self.c.execute(update(t.ledger_head).where(t.ledger_head.c.id == 1).values(seq=seq, hash=previous))
        return list(range(first + 1, seq + 1))

    def of_lead(self, lead_id: int) -> list[tuple[int, LedgerEntry]]:
        query = (
            select(t.ledger_entries)
            .where(t.ledger_entries.c.lead_id == lead_id)
            .order_by(t.ledger_entries.c.at, t.ledger_entries.c.seq)
        )
        return [(row.seq, _entry(row)) for row in self.c.execute(query)]

    def entries_of(
        self, lead_ids: Iterable[int], since: datetime | None = None, kind: EntryKind | None = None
    ) -> list[LedgerEntry]:
        """The stored entries of these leads (dated at or after `since`, of `kind`), oldest first."""
        found: list[LedgerEntry] = []
        for part in chunks(sorted(set(lead_ids))):
            query = select(t.ledger_entries).where(t.ledger_entries.c.lead_id.in_(part))
            if since is not None:
                query = query.where(t.ledger_entries.c.at >= since)
            if kind is not None:
                query = query.where(t.ledger_entries.c.kind == kind.value)
            query = query.order_by(t.ledger_entries.c.at, t.ledger_entries.c.seq)
            found.extend(_entry(row) for row in self.c.execute(query))
        return sorted(found, key=lambda e: e.at)

    def transitions_of(self, lead_ids: Iterable[int]) -> set[tuple[int, str | None, datetime]]:
        """(lead, stage entered, when) of every recorded transition of these leads: what an import
        checks a file's stage history against, without reading whole entries (evidence and all)."""
        e = t.ledger_entries.c
        found: set[tuple[int, str | None, datetime]] = set()
        for part in chunks(sorted(set(lead_ids))):
            query = select(e.lead_id, e.to_stage, e.at).where(e.lead_id.in_(part), e.kind == EntryKind.TRANSITION.value)
            found.update((int(lead_id), to_stage, at) for lead_id, to_stage, at in self.c.execute(query))
        return found

    def assignment_loads(
        self, owners: Iterable[str], day_start: datetime, day_end: datetime
    ) -> dict[str, tuple[int, int]]:
        """Per owner: the sequence of their newest assignment and how many are dated in [day_start, day_end)."""
        e = t.ledger_entries.c
        today = func.count().filter((e.at >= day_start) & (e.at < day_end))
        found: dict[str, tuple[int, int]] = {}
        for part in chunks(sorted(set(owners))):
            query = (
                select(e.owner, func.max(e.seq), today)
                .where(e.kind == EntryKind.ASSIGNMENT.value, e.owner.in_(part))
                .group_by(e.owner)
            )
            for owner, last, count in self.c.execute(query):
                found[owner] = (int(last), int(count))
        return found

    def verify(self, page: int = 5_000) -> tuple[int, ChainBreak | None]:
        """Check every entry in order, a page at a time; returns (entries checked, first break)."""
        checked, previous, last_seq = 0, "0" * 64, 0
        while True:
            rows = list(
                self.c.execute(
                    select(t.ledger_entries)
                    .where(t.ledger_entries.c.seq > last_seq)
                    .order_by(t.ledger_entries.c.seq)
                    .limit(page)
                )
            )
            if not rows:
                break
            found = first_break(((r.seq, r.prev_hash, r.hash, _entry(r)) for r in rows), previous)
            if found is not None:
                return checked + sum(1 for r in rows if r.seq < found.seq), found
            checked += len(rows)
            previous, last_seq = rows[-1].hash, rows[-1].seq
        head = self.c.execute(select(t.ledger_head.c.seq, t.ledger_head.c.hash)).one()
        if (head.seq, head.hash) != (last_seq, previous):
            # entries were deleted from the end: the head still names the newest one
            return checked, ChainBreak(seq=int(head.seq), expected=str(head.hash), stored=previous, broken_link=True)
        return checked, None

    def transitions_into(self, stage: str) -> list[Any]:
        query = (
            select(t.ledger_entries.c.lead_id, t.ledger_entries.c.at, t.ledger_entries.c.seq)
            .where(t.ledger_entries.c.to_stage == stage, t.ledger_entries.c.kind == EntryKind.TRANSITION.value)
            .order_by(t.ledger_entries.c.at, t.ledger_entries.c.seq)
        )
        return list(self.c.execute(query))


_ENTRY_COLUMNS = (
    "lead_id",
    "kind",
    "from_stage",
    "to_stage",
    "owner",
    "at",
    "recorded_at",
    "actor",
    "department",
    "pact_version",
    "evidence",
    "reason",
    "note",
    "override",
    "imported",
    "seq",
    "prev_hash",
    "hash",
)


def _entry_values(entry: LedgerEntry) -> tuple[Any, ...]:
    """An entry's columns as `Ledger.append` writes them (the first 15 of `_ENTRY_COLUMNS`): instants
    in µs, evidence as SQLAlchemy's JSON type writes it (`json.dumps`)."""
    return (
        entry.lead_id,
        entry.kind.value,
        entry.from_stage,
        entry.to_stage,
        entry.owner,
        to_micros(entry.at),
        to_micros(entry.recorded_at),
        entry.actor,
        entry.department,
        entry.pact_version,
        json.dumps(dict(entry.evidence)),
        entry.reason,
        entry.note,
        entry.override,
        entry.imported,
    )


def entry_from_row(row: Any) -> LedgerEntry:
    """A stored ledger row as the domain sees it (for the repositories that read the ledger)."""
    return _entry(row)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        lead_id=row.lead_id,
        kind=EntryKind(row.kind),
        at=row.at,
        recorded_at=row.recorded_at,
        actor=row.actor,
        department=row.department,
        pact_version=row.pact_version,
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        owner=row.owner,
        evidence=row.evidence,
        reason=row.reason,
        note=row.note,
        override=row.override,
        imported=row.imported,
    )


class Clocks:
    """Handoff clocks started for leads (see leadpact.domain.clocks)."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def running(self, lead_ids: Iterable[int]) -> list[ClockRun]:
        """The clocks still running for these leads."""
        found: list[ClockRun] = []
        for part in chunks(sorted(set(lead_ids))):
            query = select(t.clocks).where(t.clocks.c.lead_id.in_(part), t.clocks.c.stopped_at.is_(None))
            found.extend(_clock(row) for row in self.c.execute(query))
        return found

    def of_lead(self, lead_id: int) -> list[ClockRun]:
        query = select(t.clocks).where(t.clocks.c.lead_id == lead_id).order_by(t.clocks.c.started_at, t.clocks.c.id)
        return [_clock(row) for row in self.c.execute(query)]

    def newest_of(self, lead_ids: Iterable[int]) -> dict[int, ClockRun]:
        """Each lead's clock started last (the higher id between two started at once), running or not."""
        found: dict[int, ClockRun] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = (
                select(t.clocks)
                .where(t.clocks.c.lead_id.in_(part))
                .order_by(t.clocks.c.lead_id, t.clocks.c.started_at, t.clocks.c.id)
            )
            last = {row.lead_id: row for row in self.c.execute(query)}  # a lead has a few: the last read wins
            found.update((lead_id, _clock(row)) for lead_id, row in last.items())
        return found

    def late(self, now: datetime) -> list[HeldClock]:
        """Clocks past their due time by `now`: running ones, and ones stopped late not yet recorded."""
        owner = t.users.alias("owner")
        c = t.clocks.c
        unrecorded = ~select(t.clock_breaches.c.id).where(t.clock_breaches.c.clock_run == c.id).exists()
        held = (
            select(t.clocks, t.leads.c.email, t.leads.c.attributes, owner.c.name, owner.c.department)
            .join(t.leads, t.leads.c.id == c.lead_id)
            .outerjoin(owner, owner.c.id == t.leads.c.owner_id)
            .where(c.due_at < now)
            .order_by(c.due_at, c.id)
        )
        # Two statements, each read from its partial index: asked with an OR in one, every clock
        # ever run was read at every sweep.
        running = list(self.c.execute(held.where(c.stopped_at.is_(None))))
        stopped_late = list(self.c.execute(held.where(text(t.LATE_STOP), unrecorded)))
        return [_held(row) for row in heapq.merge(running, stopped_late, key=attrgetter("due_at", "id"))]

    def open_columns(
        self, expected: Sequence[tuple[int, float]] = (), department: str | None = None, owner: str | None = None
    ) -> OpenClockColumns:
        """Every running clock (of `department`, of leads `owner` holds) as columns.

        Moving a million rows out of SQLite as Python tuples costs about two seconds; each column
        comes out here as one text (`group_concat`, `string_agg`) that NumPy parses in C (docs/
        benchmarks.md, W7), read from the open clocks' covering index. One scan feeds every
        aggregate the same rows in the same order (in SQLite each row steps every aggregate of
        the query in turn; in PostgreSQL each aggregate orders by id).

        A clock's pact version and due-soon share come out as one small code into `terms`: the
        caller names the (version, share) pairs it expects (its pacts' clocks) and a CASE codes
        them in the query, because writing a REAL as text for every row cost as much as three
        integer columns. A pair nobody expected is looked up exactly and the read runs again.
        """
        c = t.clocks.c
        terms = list(dict.fromkeys(expected))
        while True:
            pairs = [(and_(c.pact_version == v, c.due_soon == s), i) for i, (v, s) in enumerate(terms)]
            coded = case(*pairs, else_=-1) if pairs else literal(-1)
            count, *texts = self.c.execute(
                self._open(
                    select(func.count(), *map(self._joined, (c.id, c.started_at, c.due_at, coded))), department, owner
                )
            ).one()
            if not count:
                return OpenClockColumns.empty()
            ids, started, due, codes = (np.fromstring(text, dtype=np.int64, sep=",") for text in texts)
            if any(len(a) != count for a in (ids, started, due, codes)):
                raise RuntimeError("the open clocks' columns came out of step")  # never seen; guards the premise
            if codes.min() >= 0:
                break
            others = self._open(select(c.pact_version, c.due_soon).where(coded == -1).distinct(), department, owner)
            terms.extend((int(v), float(s)) for v, s in self.c.execute(others))
        return OpenClockColumns(
            id=ids,
            started_at=started.view("datetime64[us]"),
            due_at=due.view("datetime64[us]"),
            terms=codes,
            versions=np.array([v for v, _ in terms], dtype=np.int64),
            shares=np.array([s for _, s in terms], dtype=np.float64),
        )

    def _joined(self, column: Any) -> Any:
        if self.c.dialect.name == "postgresql":
            return func.string_agg(cast(column, Text), aggregate_order_by(literal(","), t.clocks.c.id))
        return func.group_concat(column)

    def _open(self, query: Any, department: str | None, owner: str | None) -> Any:
        c = t.clocks.c
        query = query.select_from(t.clocks).where(c.stopped_at.is_(None))
        if department is not None:
            query = query.where(c.responsible == department)
        if owner is not None:
            held = select(t.leads.c.id).join(t.users, t.users.c.id == t.leads.c.owner_id).where(t.users.c.name == owner)
            query = query.where(c.lead_id.in_(held))
        return query

    def held(self, ids: Sequence[int]) -> list[HeldClock]:
        """These clocks with their leads and holders, in the order given (ids not found are left out)."""
        owner = t.users.alias("owner")
        found: dict[int, HeldClock] = {}
        for part in chunks(list(ids)):
            query = (
                select(t.clocks, t.leads.c.email, t.leads.c.attributes, owner.c.name, owner.c.department)
                .join(t.leads, t.leads.c.id == t.clocks.c.lead_id)
                .outerjoin(owner, owner.c.id == t.leads.c.owner_id)
                .where(t.clocks.c.id.in_(part))
            )
            for row in self.c.execute(query):
                found[row.id] = _held(row)
        return [found[i] for i in ids if i in found]

    def running_counts(self, now: datetime) -> tuple[int, int]:
        """(running clocks, of them due soon at `now`), counted in the database: the sweep never
        loads every open clock. Instants are integer microseconds, so the arithmetic is exact."""
        c, at = t.clocks.c, literal(to_micros(now), BigInteger())
        due_soon = (c.due_at >= now) & ((c.due_at - at) <= (c.due_at - c.started_at) * c.due_soon)
        query = select(func.count(), func.count().filter(due_soon)).where(c.stopped_at.is_(None))
        running, soon = self.c.execute(query).one()
        return int(running), int(soon)

    def newest_open(self) -> ClockRun | None:
        """The running clock started last."""
        # The latest start first, from the open clocks' index alone; then its row.
        c = t.clocks.c
        latest = self.c.execute(select(func.max(type_coerce(c.started_at, BigInteger()))).where(c.stopped_at.is_(None)))
        micros = latest.scalar_one()
        if micros is None:
            return None
        at = type_coerce(c.started_at, BigInteger()) == int(micros)
        # Ordered by id + 0: in the table's own order SQLite walked every clock ever stopped.
        row = self.c.execute(select(t.clocks).where(c.stopped_at.is_(None), at).order_by(c.id + 0).limit(1)).first()
        return _clock(row) if row is not None else None

    def start(self, runs: Sequence[ClockRun]) -> None:
        """Store clocks just started (as plain tuples: an import batch starts thousands)."""
        if runs:
            statement = driver.insert_sql(self.c, "clocks", _CLOCK_COLUMNS)
            driver.execute_many(self.c, statement, [_clock_values(run) for run in runs])

    def stop(self, runs: Sequence[ClockRun]) -> None:
        """Record the stop of stored running clocks (a clock already stopped stays as it was)."""
        if runs:
            self.c.execute(
                update(t.clocks)
                .where(t.clocks.c.id == bindparam("run_id"), t.clocks.c.stopped_at.is_(None))
                .values(stopped_at=bindparam("at"), stopped_by=bindparam("by")),
                [{"run_id": run.id, "at": run.stopped_at, "by": run.stopped_by} for run in runs],
            )


@dataclass(frozen=True, slots=True)
class OpenClockColumns:
    """Running clocks as columns: instants are datetime64[us] (UTC); `terms` codes each clock's
    pact version and due-soon share, as positions into `versions` and `shares`."""

    id: npt.NDArray[np.int64]
    started_at: npt.NDArray[np.datetime64]
    due_at: npt.NDArray[np.datetime64]
    terms: npt.NDArray[np.int64]
    versions: npt.NDArray[np.int64]
    shares: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.id)

    @property
    def pact_version(self) -> npt.NDArray[np.int64]:
        return self.versions[self.terms]

    @property
    def due_soon(self) -> npt.NDArray[np.float64]:
        return self.shares[self.terms]

    @classmethod
    def empty(cls) -> OpenClockColumns:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.view("datetime64[us]"), none.view("datetime64[us]"), none, none, np.zeros(0))


@dataclass(frozen=True, slots=True)
class HeldClock:
    """A clock with its lead and whoever holds the lead now."""

    run: ClockRun
    email: str | None
    company: str | None
    owner: str | None
    owner_department: str | None


class Breaches:
    """Late clocks, each recorded once (see tables.clock_breaches)."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def record(self, found: Sequence[HeldClock], detected_at: datetime) -> dict[int, int]:
        """Record these late clocks; returns {clock id: breach id} of those recorded now (not by an earlier sweep)."""
        if not found:
            return {}
        rows = [
            {
                "clock_run": held.run.id,
                "lead_id": held.run.lead_id,
                "clock_id": held.run.clock_id,
                "pact_version": held.run.pact_version,
                "responsible": held.run.responsible,
                "owner": held.owner,
                "owner_department": held.owner_department,
                "due_at": held.run.due_at,
                "detected_at": detected_at,
            }
            for held in found
        ]
        dialect: Any = postgresql if self.c.dialect.name == "postgresql" else sqlite
        recorded: dict[int, int] = {}
        returning = (t.clock_breaches.c.clock_run, t.clock_breaches.c.id)
        for part in chunks(rows, 5_000):
            stmt = dialect.insert(t.clock_breaches).on_conflict_do_nothing(index_elements=["clock_run"])
            recorded.update((run, breach) for run, breach in self.c.execute(stmt.returning(*returning), part))
        return recorded

    def known(self, clock_runs: Iterable[int]) -> dict[int, datetime]:
        """When each of these clocks' breach was first recorded."""
        found: dict[int, datetime] = {}
        for part in chunks(sorted(set(clock_runs))):
            query = select(t.clock_breaches.c.clock_run, t.clock_breaches.c.detected_at).where(
                t.clock_breaches.c.clock_run.in_(part)
            )
            for run, at in self.c.execute(query):
                found[run] = at
        return found


@dataclass(frozen=True, slots=True)
class Notification:
    """One row of the escalation outbox."""

    id: int
    breach_id: int
    channel: str
    recipient: str
    lang: Lang
    notice: BreachNotice
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime


class Notifications:
    """The escalation outbox (see tables.notifications)."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def enqueue(self, rows: Sequence[tuple[BreachNotice, str, str, Lang]], at: datetime) -> int:
        """Queue (notice, channel, recipient, lang) rows, due at once; returns how many."""
        if rows:
            self.c.execute(
                insert(t.notifications),
                [
                    {
                        "breach_id": notice.breach_id,
                        "channel": channel,
                        "recipient": recipient,
                        "lang": lang,
                        "notice": notice.to_json(),
                        "status": NotificationStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": at,
                        "created_at": at,
                    }
                    for notice, channel, recipient, lang in rows
                ],
            )
        return len(rows)

    def _due(self, now: datetime, channels: Sequence[str]) -> Any:
        n = t.notifications.c
        return (
            text(t.PENDING)  # the pending rows' partial index, named as it is (not for a bound status)
            & (n.next_attempt_at <= now)
            & (n.claimed_until.is_(None) | (n.claimed_until <= now))
            & n.channel.in_(channels)
        )

    def claim(
        self, now: datetime, until: datetime, token: str, channels: Sequence[str], limit: int
    ) -> list[Notification]:
        """Claim up to `limit` due rows of these channels until `until`, oldest first. PostgreSQL skips
        rows another claimer has locked; SQLite's BEGIN IMMEDIATE lets one claimer in at a time."""
        n = t.notifications.c
        if not channels:
            return []
        query = (
            select(n.id)
            .where(self._due(now, channels))
            .order_by(n.id + 0)  # not the table's own order, which SQLite would read whole to skip a sort
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(self.c.execute(query).scalars())
        if not ids:
            return []
        self.c.execute(update(t.notifications).where(n.id.in_(ids)).values(claimed_by=token, claimed_until=until))
        return self.find(ids=ids)

    def count_due(self, now: datetime, channels: Sequence[str]) -> int:
        return int(self.c.execute(select(func.count()).where(self._due(now, channels))).scalar_one())

    def pending(self, channels: Sequence[str]) -> tuple[int, datetime | None]:
        """Pending rows of these channels, and the earliest time one of them is due."""
        n = t.notifications.c
        query = select(func.count(), func.min(n.next_attempt_at)).where(
            n.status == NotificationStatus.PENDING.value, n.channel.in_(channels)
        )
        count, first = self.c.execute(query).one()
        return int(count), first

    def waiting_elsewhere(self, channels: Sequence[str]) -> dict[str, int]:
        """Pending rows of channels that are not configured now, by channel."""
        n = t.notifications.c
        query = (
            select(n.channel, func.count())
            .where(n.status == NotificationStatus.PENDING.value, n.channel.not_in(channels))
            .group_by(n.channel)
        )
        return {channel: int(count) for channel, count in self.c.execute(query)}

    def sent(self, notification_id: int, token: str, at: datetime) -> None:
        self._finish(
            notification_id,
            token,
            status=NotificationStatus.SENT.value,
            attempts=t.notifications.c.attempts + 1,
            sent_at=at,
            last_error=None,
        )

    def failed(self, notification_id: int, token: str, error: str, retry_at: datetime | None) -> None:
        """A failed attempt: due again at `retry_at`, or given up when that is None."""
        values: dict[str, Any] = {"attempts": t.notifications.c.attempts + 1, "last_error": error[:2000]}
        if retry_at is None:
            values["status"] = NotificationStatus.GAVE_UP.value
        else:
            values["next_attempt_at"] = retry_at
        self._finish(notification_id, token, **values)

    def postpone(self, notification_ids: Sequence[int], token: str, until: datetime, note: str) -> None:
        """Release claimed rows untried, due again at `until` (their channel failed in this run)."""
        n = t.notifications.c
        for part in chunks(list(notification_ids)):
            self.c.execute(
                update(t.notifications)
                .where(n.id.in_(part), n.claimed_by == token)
                .values(claimed_by=None, claimed_until=None, next_attempt_at=until, last_error=note[:2000])
            )

    def _finish(self, notification_id: int, token: str, **values: Any) -> None:
        n = t.notifications.c
        self.c.execute(
            update(t.notifications)
            .where(n.id == notification_id, n.claimed_by == token)
            .values(claimed_by=None, claimed_until=None, **values)
        )

    def find(self, *, ids: Sequence[int] | None = None, status: NotificationStatus | None = None) -> list[Notification]:
        n = t.notifications.c
        query = select(t.notifications).order_by(n.id)
        if ids is not None:
            query = query.where(n.id.in_(ids))
        if status is not None:
            query = query.where(n.status == status.value)
        return [_notification(row) for row in self.c.execute(query)]


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id,
        breach_id=row.breach_id,
        channel=row.channel,
        recipient=row.recipient,
        lang="en" if row.lang == "en" else "ja",
        notice=BreachNotice.from_json(row.notice),
        status=NotificationStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        sent_at=row.sent_at,
        created_at=row.created_at,
    )


_CLOCK_COLUMNS = (
    "lead_id",
    "clock_id",
    "pact_version",
    "started_at",
    "due_at",
    "responsible",
    "stops",
    "due_soon",
    "stopped_at",
    "stopped_by",
)


def _clock_values(run: ClockRun) -> tuple[Any, ...]:
    """A clock's `_CLOCK_COLUMNS` as `Clocks.start` writes them: instants in µs, its stops as JSON
    (`json.dumps`, as SQLAlchemy's JSON type writes it)."""
    return (
        run.lead_id,
        run.clock_id,
        run.pact_version,
        to_micros(run.started_at),
        to_micros(run.due_at),
        run.responsible,
        json.dumps([event.value for event in run.stops]),
        run.due_soon,
        None if run.stopped_at is None else to_micros(run.stopped_at),
        run.stopped_by.value if run.stopped_by is not None else None,
    )


def _held(row: Any) -> HeldClock:
    return HeldClock(_clock(row), row.email, company_of(row.attributes), row.name, row.department)


def _clock(row: Any) -> ClockRun:
    return ClockRun(
        id=row.id,
        lead_id=row.lead_id,
        clock_id=row.clock_id,
        pact_version=row.pact_version,
        started_at=row.started_at,
        due_at=row.due_at,
        responsible=row.responsible,
        stops=tuple(ClockEvent(e) for e in row.stops),
        due_soon=row.due_soon,
        stopped_at=row.stopped_at,
        stopped_by=ClockEvent(row.stopped_by) if row.stopped_by is not None else None,
    )


class Store:
    """One unit of work: a connection in a transaction, rolled back unless committed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Store:
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        c = self.connection
        self.users, self.pacts, self.leads = Users(c), Pacts(c), Leads(c)
        self.activities, self.contacts, self.inbox = Activities(c), Contacts(c), Inbox(c)
        self.scores, self.ledger, self.clocks, self.breaches = Scores(c), Ledger(c), Clocks(c), Breaches(c)
        self.notifications = Notifications(c)
        self.import_runs, self.quarantine = ImportRuns(c), Quarantine(c)
        self.imported_activities = ImportedActivities(c)
        self.history = HistoryColumns(c)
        return self

    def commit(self) -> None:
        self.transaction.commit()

    def serialize(self, job: str) -> None:
        """Hold `job`'s lock until this unit of work ends, so two runs of it never interleave.

        SQLite needs nothing: every writing transaction starts with BEGIN IMMEDIATE, one at a time.
        PostgreSQL takes a transaction-level advisory lock keyed by the job's name.
        """
        if self.connection.dialect.name == "postgresql":
            self.connection.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"leadpact:{job}"))))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()
        self.connection.close()
