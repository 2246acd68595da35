"""Repositories for identity resolution: who an e-mail address or a system id is, companies, merges.

Every lookup takes a batch of keys and every write a list of rows, so resolving a batch of
events or import rows costs a few statements whatever its size. A merge moves the absorbed
lead's rows to the survivor with one INSERT … SELECT (recording what moves) and one UPDATE
per table, for all the merges of a batch at once; its undo moves exactly those rows back.
Repositories never commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from leadpact.adapters.db import driver
from leadpact.adapters.db import tables as t
from leadpact.adapters.db.store import absorbed_lead, chunks, upsert
from leadpact.adapters.db.tables import to_micros
from leadpact.domain.identity import EmailPolicy
from leadpact.domain.lifecycle import Stage
from leadpact.domain.qualification import Bant

POLICY_ROW = 1


__all__ = ["Companies", "Identities", "MergeRow", "absorbed_lead"]


@dataclass(frozen=True, slots=True)
class MergeRow:
    id: int
    survivor_id: int
    absorbed_id: int
    rule: str
    evidence: Mapping[str, Any]
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    merged_at: datetime
    merged_by: str
    note: str | None
    merge_seq: int | None
    undone_at: datetime | None
    undone_by: str | None
    undo: Mapping[str, Any] | None
    unmerge_seq: int | None


def _merge(row: Any) -> MergeRow:
    return MergeRow(
        id=row.id,
        survivor_id=row.survivor_id,
        absorbed_id=row.absorbed_id,
        rule=row.rule,
        evidence=row.evidence,
        before=row.before,
        after=row.after,
        merged_at=row.merged_at,
        merged_by=row.merged_by,
        note=row.note,
        merge_seq=row.merge_seq,
        undone_at=row.undone_at,
        undone_by=row.undone_by,
        undo=row.undo,
        unmerge_seq=row.unmerge_seq,
    )


# Tables whose rows belong to a lead by a plain lead_id and move with it as a whole.
_BY_ID = {"activity": t.activities, "contact": t.contacts}


class Identities:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    # --- the e-mail policy -------------------------------------------------------------

    def policy(self) -> EmailPolicy:
        """The policy the stored addresses are normalised under (stores before 0010: keep)."""
        text = self.c.execute(
            select(t.identity_policy.c.plus_addressing).where(t.identity_policy.c.id == POLICY_ROW)
        ).scalar()
        return EmailPolicy() if text is None else EmailPolicy.parse(text)

    def set_policy(self, policy: EmailPolicy, at: datetime, by: str) -> None:
        row = {"id": POLICY_ROW, "plus_addressing": str(policy), "changed_at": at, "changed_by": by}
        upsert(self.c, t.identity_policy, [row], ["id"])

    def addresses_with(self, fragment: str) -> list[tuple[int, str, bool]]:
        """(lead, address, is its first address) of every stored address containing `fragment`."""
        like = f"%{fragment}%"
        first = select(t.leads.c.id, t.leads.c.email).where(t.leads.c.email.like(like))
        others = select(t.lead_emails.c.lead_id, t.lead_emails.c.email).where(t.lead_emails.c.email.like(like))
        found = [(row[0], row[1], True) for row in self.c.execute(first)]
        return found + [(row[0], row[1], False) for row in self.c.execute(others)]

    # --- who is who --------------------------------------------------------------------

    def leads_by_email(self, emails: Iterable[str]) -> dict[str, list[int]]:
        """The leads each address names, as first address or as another one (normally one lead)."""
        found: dict[str, list[int]] = {}
        for part in chunks(sorted(set(emails))):
            first = select(t.leads.c.email, t.leads.c.id).where(t.leads.c.email.in_(part))
            others = select(t.lead_emails.c.email, t.lead_emails.c.lead_id).where(t.lead_emails.c.email.in_(part))
            for email, lead_id in [*self.c.execute(first), *self.c.execute(others)]:
                found.setdefault(email, []).append(lead_id)
        return found

    def leads_by_ref(self, refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        by_system: dict[str, set[str]] = {}
        for system, external_id in refs:
            by_system.setdefault(system, set()).add(external_id)
        found: dict[tuple[str, str], int] = {}
        r = t.lead_refs.c
        for system, ids in by_system.items():
            for part in chunks(sorted(ids)):
                query = select(r.external_id, r.lead_id).where(r.system == system, r.external_id.in_(part))
                for external_id, lead_id in self.c.execute(query):
                    found[(system, external_id)] = lead_id
        return found

    def created_at(self, lead_ids: Iterable[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = select(t.leads.c.id, t.leads.c.created_at).where(t.leads.c.id.in_(part))
            found.update((row.id, row.created_at) for row in self.c.execute(query))
        return found

    def first_emails(self, lead_ids: Iterable[int]) -> dict[int, str | None]:
        found: dict[int, str | None] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = select(t.leads.c.id, t.leads.c.email).where(t.leads.c.id.in_(part))
            found.update((row.id, row.email) for row in self.c.execute(query))
        return found

    def other_emails(self, lead_id: int) -> list[str]:
        query = select(t.lead_emails.c.email).where(t.lead_emails.c.lead_id == lead_id).order_by(t.lead_emails.c.email)
        return list(self.c.execute(query).scalars())

    def apart(self, lead_ids: Iterable[int]) -> dict[frozenset[int], int]:
        """Pairs among these leads that an admin separated (an undone merge), with that merge's id."""
        m = t.identity_merges.c
        found: dict[frozenset[int], int] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = select(m.id, m.survivor_id, m.absorbed_id).where(
                m.undone_at.is_not(None), or_(m.survivor_id.in_(part), m.absorbed_id.in_(part))
            )
            for merge_id, a, b in self.c.execute(query):
                found[frozenset((a, b))] = max(merge_id, found.get(frozenset((a, b)), 0))
        return found

    def absorbed(self, lead_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Of these leads, those merged into another one now: lead -> (survivor, merge id)."""
        m = t.identity_merges.c
        found: dict[int, tuple[int, int]] = {}
        for part in chunks(sorted(set(lead_ids))):
            query = select(m.absorbed_id, m.survivor_id, m.id).where(m.absorbed_id.in_(part), m.undone_at.is_(None))
            found.update((row[0], (row[1], row[2])) for row in self.c.execute(query))
        return found

    # --- new leads and their identifiers --------------------------------------------------

    def create_leads(self, rows: Sequence[tuple[str | None, datetime]]) -> list[int]:
        """New leads (first address, first seen at), in stage `lead`; their ids in the order given."""
        if not rows:
            return []
        # Ids reserved first and plain tuples on the driver's connection: an import batch creates
        # thousands, and SQLAlchemy's RETURNING of each id in order cost more than the insert.
        ids = driver.reserve_ids(self.c, "leads", len(rows))
        bant = json.dumps({"confirmed": [], "facts": dict(Bant().facts or {})})
        m = driver.mark(self.c)
        driver.execute_many(
            self.c,
            "INSERT INTO leads (id, email, attributes, stage, stage_changed_at, bant, created_at, updated_at, version) "
            f"VALUES ({m}, {m}, '{{}}', '{Stage.LEAD.value}', {m}, {m}, {m}, {m}, 1)",
            [
                (i, email, micros, bant, micros, micros)
                for i, (email, at) in zip(ids, rows, strict=True)
                for micros in (to_micros(at),)
            ],
        )
        return ids

    def add_refs(self, rows: Sequence[tuple[str, str, int]]) -> None:
        if rows:
            self.c.execute(insert(t.lead_refs), [{"system": s, "external_id": e, "lead_id": i} for s, e, i in rows])

    def add_emails(self, rows: Sequence[tuple[str, int, int | None]]) -> None:
        """Other addresses: (address, lead, the merge that adds it or None)."""
        if rows:
            self.c.execute(insert(t.lead_emails), [{"email": e, "lead_id": i, "merge_id": m} for e, i, m in rows])

    def set_first_emails(self, rows: Sequence[tuple[int, str]], at: datetime) -> int:
        """Give leads without an address their first one; bumps their row version (a Workbench that read
        them before would otherwise write the old, empty address back). Returns how many were set."""
        if not rows:
            return 0
        statement = (
            update(t.leads)
            .where(t.leads.c.id == bindparam("b_id"), t.leads.c.email.is_(None))
            .values(
                email=bindparam("b_email"),
                updated_at=bindparam("b_at", type_=t.Instant()),
                version=t.leads.c.version + 1,
            )
        )
        params = [{"b_id": lead_id, "b_email": email, "b_at": at} for lead_id, email in rows]
        return int(self.c.execute(statement, params).rowcount)

    def rename_emails(self, rows: Sequence[tuple[str, str]]) -> None:
        """Rewrite other addresses (old, new) under a new policy."""
        if rows:
            e = t.lead_emails.c
            self.c.execute(
                update(t.lead_emails).where(e.email == bindparam("b_old")).values(email=bindparam("b_new")),
                [{"b_old": old, "b_new": new} for old, new in rows],
            )

    def drop_emails(self, emails: Sequence[str]) -> None:
        for part in chunks(list(emails)):
            self.c.execute(delete(t.lead_emails).where(t.lead_emails.c.email.in_(part)))

    # --- merges ------------------------------------------------------------------------

    def add_merges(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        if not rows:
            return []
        statement = insert(t.identity_merges).returning(t.identity_merges.c.id, sort_by_parameter_order=True)
        return [int(row[0]) for row in self.c.execute(statement, list(rows))]

    def set_merge_seqs(self, seqs: Mapping[int, int]) -> None:
        if seqs:
            m = t.identity_merges.c
            self.c.execute(
                update(t.identity_merges).where(m.id == bindparam("b_id")).values(merge_seq=bindparam("b_seq")),
                [{"b_id": merge_id, "b_seq": seq} for merge_id, seq in seqs.items()],
            )

    def move(self, merges: Sequence[tuple[int, int, int]]) -> None:
        """(merge id, survivor, absorbed): record then move the absorbed lead's system ids, other
        addresses, activities and contacts to the survivor, each table in one statement for all."""
        if not merges:
            return
        params = [{"b_merge": m, "b_to": s, "b_from": a} for m, s, a in merges]
        merge_id, to, frm = (bindparam(n, type_=Integer()) for n in ("b_merge", "b_to", "b_from"))
        moves = t.identity_moves
        r, e = t.lead_refs.c, t.lead_emails.c
        record = [
            (
                ("system", "key"),
                select(merge_id, literal("ref", String()), r.system, r.external_id).where(r.lead_id == frm),
            ),
            (("key",), select(merge_id, literal("email", String()), e.email).where(e.lead_id == frm)),
        ]
        for item, table in _BY_ID.items():
            record.append(
                (("row_id",), select(merge_id, literal(item, String()), table.c.id).where(table.c.lead_id == frm))
            )
        for columns, query in record:
            self.c.execute(insert(moves).from_select(["merge_id", "item", *columns], query), params)
        for table in (t.lead_refs, t.lead_emails, *_BY_ID.values()):
            self.c.execute(update(table).where(table.c.lead_id == frm).values(lead_id=to), params)

    def open_clocks(self, lead_ids: Iterable[int]) -> list[Any]:
        found: list[Any] = []
        c = t.clocks.c
        for part in chunks(sorted(set(lead_ids))):
            query = select(c.id, c.lead_id, c.clock_id, c.started_at).where(c.lead_id.in_(part), c.stopped_at.is_(None))
            found.extend(self.c.execute(query))
        return found

    def move_clocks(self, rows: Sequence[tuple[int, int, int]]) -> None:
        """(merge id, clock, survivor): a running clock of the absorbed lead runs on for the survivor."""
        if rows:
            self._record([(m, "clock", clock) for m, clock, _ in rows])
            self.c.execute(
                update(t.clocks).where(t.clocks.c.id == bindparam("b_id")).values(lead_id=bindparam("b_lead")),
                [{"b_id": clock, "b_lead": lead} for _, clock, lead in rows],
            )

    def stop_clocks(self, rows: Sequence[tuple[int, int]], at: datetime) -> None:
        """(merge id, clock): a running clock made moot by the merge stops at `at`, stopped by no event."""
        if rows:
            self._record([(m, "clock_stop", clock) for m, clock in rows])
            c = t.clocks.c
            self.c.execute(
                update(t.clocks).where(c.id == bindparam("b_id"), c.stopped_at.is_(None)).values(stopped_at=at),
                [{"b_id": clock} for _, clock in rows],
            )

    def _record(self, rows: Sequence[tuple[int, str, int]]) -> None:
        self.c.execute(
            insert(t.identity_moves), [{"merge_id": m, "item": item, "row_id": row_id} for m, item, row_id in rows]
        )

    def record_companies(self, rows: Sequence[tuple[int, int]]) -> None:
        """(merge id, company): the survivor, which had no company, took over the absorbed lead's."""
        if rows:
            self._record([(merge_id, "company", company) for merge_id, company in rows])

    def clock_keys(self, lead_ids: Iterable[int]) -> set[tuple[int, str, datetime]]:
        """(lead, clock, start) of every clock of these leads, running or stopped (the unique key)."""
        c = t.clocks.c
        found: set[tuple[int, str, datetime]] = set()
        for part in chunks(sorted(set(lead_ids))):
            query = select(c.lead_id, c.clock_id, c.started_at).where(c.lead_id.in_(part))
            found.update((row.lead_id, row.clock_id, row.started_at) for row in self.c.execute(query))
        return found

    def moved(self, merge_id: int, item: str) -> list[Any]:
        mv = t.identity_moves.c
        query = select(mv.row_id, mv.system, mv.key).where(mv.merge_id == merge_id, mv.item == item).order_by(mv.id)
        return list(self.c.execute(query))

    def move_back(self, merge_id: int, absorbed: int) -> None:
        """Undo `move` and `move_clocks`: exactly the rows the merge recorded go back to the absorbed lead."""
        mv = t.identity_moves.c
        recorded = and_(mv.merge_id == merge_id)
        r, e = t.lead_refs.c, t.lead_emails.c
        # The keys the merge recorded, looked up in each table's primary key (asked as "a recorded
        # move exists for this row", the statement read every system id and address of every lead).
        refs = select(mv.system, mv.key).where(recorded, mv.item == "ref")
        self.c.execute(update(t.lead_refs).where(tuple_(r.system, r.external_id).in_(refs)).values(lead_id=absorbed))
        emails = select(mv.key).where(recorded, mv.item == "email")
        self.c.execute(update(t.lead_emails).where(e.email.in_(emails)).values(lead_id=absorbed))
        for item, table in [*_BY_ID.items(), ("clock", t.clocks)]:
            ids = select(mv.row_id).where(recorded, mv.item == item)
            self.c.execute(update(table).where(table.c.id.in_(ids)).values(lead_id=absorbed))

    def reopen_clocks(self, merge_id: int, lead_id: int, stopped_at: datetime) -> int:
        """Run again the lead's clocks this merge stopped, if nothing else has stopped them since."""
        mv, c = t.identity_moves.c, t.clocks.c
        ids = select(mv.row_id).where(mv.merge_id == merge_id, mv.item == "clock_stop")
        statement = (
            update(t.clocks)
            .where(c.id.in_(ids), c.lead_id == lead_id, c.stopped_at == stopped_at, c.stopped_by.is_(None))
            .values(stopped_at=None)
        )
        return int(self.c.execute(statement).rowcount)

    def drop_merge_emails(self, merge_id: int) -> list[str]:
        """Remove the addresses a merge added to its survivor; returns them."""
        e = t.lead_emails.c
        added = list(self.c.execute(select(e.email).where(e.merge_id == merge_id)).scalars())
        self.c.execute(delete(t.lead_emails).where(e.merge_id == merge_id))
        return added

    def merge(self, merge_id: int, lock: bool = False) -> MergeRow | None:
        query = select(t.identity_merges).where(t.identity_merges.c.id == merge_id)
        row = self.c.execute(query.with_for_update() if lock else query).first()
        return _merge(row) if row else None

    def merges(self, limit: int | None = None, lead_id: int | None = None) -> list[MergeRow]:
        """Merges, newest first (of one lead, as survivor or absorbed)."""
        m = t.identity_merges.c
        query = select(t.identity_merges).order_by(m.id.desc())
        if lead_id is not None:
            query = query.where(or_(m.survivor_id == lead_id, m.absorbed_id == lead_id))
        if limit is not None:
            query = query.limit(limit)
        return [_merge(row) for row in self.c.execute(query)]

    def later_merges(self, merge_id: int, lead_ids: Sequence[int]) -> list[MergeRow]:
        """Merges made after `merge_id`, not undone, that involve any of these leads."""
        m = t.identity_merges.c
        query = (
            select(t.identity_merges)
            .where(m.id > merge_id, m.undone_at.is_(None))
            .where(or_(m.survivor_id.in_(lead_ids), m.absorbed_id.in_(lead_ids)))
            .order_by(m.id.desc())
        )
        return [_merge(row) for row in self.c.execute(query)]

    def mark_undone(self, merge_id: int, at: datetime, by: str, undo: Mapping[str, Any], seq: int) -> None:
        self.c.execute(
            update(t.identity_merges)
            .where(t.identity_merges.c.id == merge_id)
            .values(undone_at=at, undone_by=by, undo=dict(undo), unmerge_seq=seq)
        )

    def drop_scores(self, lead_ids: Iterable[int]) -> None:
        """Forget stored scores: the next unit of work that loads these leads folds them afresh."""
        for part in chunks(sorted(set(lead_ids))):
            self.c.execute(delete(t.lead_scores).where(t.lead_scores.c.lead_id.in_(part)))


class Companies:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def by_domains(self, domains: Iterable[str]) -> dict[str, int]:
        d = t.company_domains.c
        found: dict[str, int] = {}
        for part in chunks(sorted(set(domains))):
            found.update(
                (row.domain, row.company_id)
                for row in self.c.execute(select(d.domain, d.company_id).where(d.domain.in_(part)))
            )
        return found

    def by_name_keys(self, keys: Iterable[str]) -> dict[str, int]:
        c = t.companies.c
        found: dict[str, int] = {}
        for part in chunks(sorted(set(keys))):
            found.update(
                (row.name_key, row.id) for row in self.c.execute(select(c.name_key, c.id).where(c.name_key.in_(part)))
            )
        return found

    def of_lead(self, lead_id: int) -> tuple[str | None, list[str]] | None:
        """The company the lead was found to work for: its name as first seen and its domains."""
        lc, c, d = t.lead_companies.c, t.companies.c, t.company_domains.c
        found = self.c.execute(
            select(c.id, c.name).join(t.lead_companies, lc.company_id == c.id).where(lc.lead_id == lead_id)
        ).first()
        if found is None:
            return None
        domains = self.c.execute(select(d.domain).where(d.company_id == found.id).order_by(d.domain)).scalars()
        return found.name, list(domains)

    def named(self, company_ids: Iterable[int]) -> set[int]:
        """Of these companies, those that have a name key already."""
        c = t.companies.c
        found: set[int] = set()
        for part in chunks(sorted(set(company_ids))):
            found.update(self.c.execute(select(c.id).where(c.id.in_(part), c.name_key.is_not(None))).scalars())
        return found

    def create(self, rows: Sequence[tuple[str | None, str | None]], at: datetime) -> list[int]:
        """New companies (display name, name key); their ids in the order given."""
        if not rows:
            return []
        statement = insert(t.companies).returning(t.companies.c.id, sort_by_parameter_order=True)
        values = [{"name": name, "name_key": key, "created_at": at} for name, key in rows]
        return [int(row[0]) for row in self.c.execute(statement, values)]

    def name(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """(company, display name, key): name a company known so far only by its domain."""
        if rows:
            c = t.companies.c
            self.c.execute(
                update(t.companies)
                .where(c.id == bindparam("b_id"), c.name_key.is_(None))
                .values(name=bindparam("b_name"), name_key=bindparam("b_key")),
                [{"b_id": i, "b_name": n, "b_key": k} for i, n, k in rows],
            )

    def add_domains(self, rows: Sequence[tuple[str, int]]) -> None:
        if rows:
            self.c.execute(insert(t.company_domains), [{"domain": d, "company_id": i} for d, i in rows])

    def of_leads(self, lead_ids: Iterable[int]) -> dict[int, int]:
        lc = t.lead_companies.c
        found: dict[int, int] = {}
        for part in chunks(sorted(set(lead_ids))):
            found.update(
                (row.lead_id, row.company_id)
                for row in self.c.execute(select(lc.lead_id, lc.company_id).where(lc.lead_id.in_(part)))
            )
        return found

    def link(self, rows: Sequence[tuple[int, int]]) -> None:
        """(lead, company): the lead works there now (replacing an earlier link)."""
        upsert(
            self.c, t.lead_companies, [{"lead_id": lead, "company_id": company} for lead, company in rows], ["lead_id"]
        )

    def unlink(self, lead_id: int, company_id: int) -> None:
        lc = t.lead_companies.c
        self.c.execute(delete(t.lead_companies).where(lc.lead_id == lead_id, lc.company_id == company_id))

    def describe(self, company_ids: Iterable[int]) -> dict[int, tuple[str | None, list[str]]]:
        """Each company's display name and domains."""
        c, d = t.companies.c, t.company_domains.c
        found: dict[int, tuple[str | None, list[str]]] = {}
        for part in chunks(sorted(set(company_ids))):
            for row in self.c.execute(select(c.id, c.name).where(c.id.in_(part))):
                found[row.id] = (row.name, [])
            for row in self.c.execute(select(d.company_id, d.domain).where(d.company_id.in_(part)).order_by(d.domain)):
                found[row.company_id][1].append(row.domain)
        return found
