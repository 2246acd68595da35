"""Routing MQLs to inside sales reps, and assigning a lead by hand.

`route` assigns every MQL waiting for inside sales by the active pact's `routing`
(`domain.routing` decides who): one transaction, every assignment a ledger entry whose
evidence says which rule and pool chose the rep, which reps were full, and the rep's count
for the day. Two routing runs never interleave (`Store.serialize`), so a day's capacity
holds; and every lead write checks the row version it read, so a lead assigned meanwhile
by anyone else makes the run start over on fresh state instead of giving it to a second rep.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from leadpact.adapters.db.store import PactVersion, Store, User
from leadpact.domain.errors import DomainError
from leadpact.domain.lead import Lead, company_of
from leadpact.domain.lifecycle import Actor
from leadpact.domain.pact import Role, Routing
from leadpact.domain.routing import Rep, RepLoad, Route, Unrouted, WaitingLead, plan
from leadpact.services.leads import require_lead
from leadpact.services.lifecycle import Workbench, actor_of, require_active_pact, retrying
from leadpact.services.users import require_user

ROUTER = "routing"


@dataclass(frozen=True, slots=True)
class LeadRef:
    lead_id: int
    email: str | None
    company: str | None


@dataclass(frozen=True, slots=True)
class RouteReport:
    now: datetime
    routed: list[tuple[LeadRef, Route]]
    waiting: list[tuple[LeadRef, Unrouted]]
    unknown_reps: list[tuple[str, str]] = field(default_factory=list)  # (rule id, name) no user has
    dry_run: bool = False


def route(engine: Engine, now: datetime, *, dry_run: bool = False) -> RouteReport:
    """Assign every MQL waiting for inside sales; with `dry_run`, only say who would get what."""
    return retrying(engine, lambda store: _route(store, now, dry_run), commit=not dry_run, serialize=ROUTER)


def _route(store: Store, now: datetime, dry_run: bool) -> RouteReport:
    pact = require_active_pact(store)
    routing = pact.pact.routing
    if routing is None:
        raise DomainError(
            f"pact v{pact.version} has no routing section: add one (docs/routing.md) "
            "or assign leads by hand with `leadpact lead assign`"
        )
    rows = store.leads.waiting_for_routing(pact.pact.departments_with(Role.INSIDE_SALES))
    refs = {row.id: _ref(row) for row in rows}
    waiting = [WaitingLead(row.id, row.attributes or {}, row.stage_changed_at) for row in rows]
    users = store.users.all()
    reps = [Rep(u.name, u.department, u.is_active) for u in users]
    start, end = _day(pact, now)
    counted = store.ledger.assignment_loads([u.name for u in users], start, end)
    loads = {name: RepLoad(last, today) for name, (last, today) in counted.items()}
    routes, unrouted = plan(routing, waiting, reps, loads)
    if not dry_run and routes:
        by_name = {u.name: u for u in users}
        bench = Workbench(store, pact, now)
        bench.load(r.lead_id for r in routes)
        actor = Actor(ROUTER, pact.pact.mql.responsible, is_system=True)
        for found in routes:
            bench.assign(found.lead_id, by_name[found.rep], now, actor, evidence=found.evidence)
        bench.flush()
    return RouteReport(
        now=now,
        routed=[(refs[r.lead_id], r) for r in routes],
        waiting=[(refs[u.lead_id], u) for u in unrouted],
        unknown_reps=_unknown_reps(routing, users),
        dry_run=dry_run,
    )


def assign_lead(engine: Engine, now: datetime, key: str, to: str, by: str, note: str | None = None) -> Lead:
    """Give one lead to `to` by hand, as `by`; a ledger entry like any other assignment, and
    serialized with routing because it counts in the rep's daily capacity."""

    def work(store: Store) -> Lead:
        lead = require_lead(store, key)
        rep, actor = require_user(store, to), require_user(store, by)
        if lead.owner == rep.name:
            raise DomainError(f"lead {lead.id} is already held by {rep.name}")
        bench = Workbench(store, require_active_pact(store), now)
        bench.load([lead.id])
        bench.assign(lead.id, rep, now, actor_of(actor), note=note)
        bench.flush()
        return bench.work[lead.id].lead

    return retrying(engine, work, serialize=ROUTER)


def set_active(engine: Engine, name: str, is_active: bool) -> User:
    """Mark a user active or inactive; routing skips inactive reps and nobody can assign to them."""
    with Store(engine) as store:
        user = require_user(store, name)
        store.users.set_active(user.id, is_active)
        store.commit()
        return replace(user, is_active=is_active)


def _day(pact: PactVersion, now: datetime) -> tuple[datetime, datetime]:
    """The local calendar day of `now` in the pact's time zone, as [start, end) instants."""
    zone = ZoneInfo(pact.pact.calendar.timezone)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


def _ref(row: Any) -> LeadRef:
    return LeadRef(row.id, row.email, company_of(row.attributes))


def _unknown_reps(routing: Routing, users: list[User]) -> list[tuple[str, str]]:
    names = {u.name for u in users}
    return [(rule.id, rep) for rule in routing.rules for rep in rule.reps if rep not in names]
