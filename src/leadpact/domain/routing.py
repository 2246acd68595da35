"""Routing: which inside sales rep gets each MQL waiting for one, by the pact's `routing`.

A lead goes to the pool of the first rule whose conditions it meets (else the routing
department's members). Within the pool, round robin: the active rep whose last assignment
is the oldest gets the lead, so manual assignments count as a rep's turn too. Reps never
given a lead tie; the tie is broken by a hash of the lead and the rep's name, which gives
every rep the same chance whatever their user id, seniority or place in a list. A rep at
the day's capacity is skipped; a lead whose whole pool is full or empty waits, with why.

Pure: the service reads the waiting leads, the users and their loads, and writes the plan.
Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from leadpact.domain.pact import Routing, RoutingRule
from leadpact.domain.scoring import AttributeValue, condition_holds


@dataclass(frozen=True, slots=True)
class Rep:
    name: str
    department: str
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class RepLoad:
    """A rep's assignments so far: the ledger sequence of the newest (-1: none) and today's count."""

    last: int = -1
    today: int = 0


@dataclass(frozen=True, slots=True)
class WaitingLead:
    """An MQL no inside sales rep holds yet."""

    lead_id: int
    attributes: Mapping[str, AttributeValue]
    since: datetime


class Held(StrEnum):
    """Why a waiting lead got no rep."""

    NO_REP = "no_rep"  # the pool has no active rep
    CAPACITY = "capacity"  # every active rep of the pool reached the day's capacity


@dataclass(frozen=True, slots=True)
class Route:
    lead_id: int
    rep: str
    rule: str | None  # None: the routing department's pool
    evidence: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Unrouted:
    lead_id: int
    rule: str | None
    reason: Held


def rule_for(routing: Routing, attributes: Mapping[str, AttributeValue]) -> RoutingRule | None:
    """The first rule whose conditions all hold for the lead; None sends it to the default pool."""
    for rule in routing.rules:
        if all(condition_holds(c, attributes) for c in rule.when):
            return rule
    return None


def pool(routing: Routing, rule: RoutingRule | None, reps: Sequence[Rep]) -> list[Rep]:
    """The active reps a lead under `rule` can go to."""
    if rule is not None and rule.reps:
        named = {r.name: r for r in reps}
        return [named[name] for name in rule.reps if name in named and named[name].is_active]
    department = (rule.department if rule is not None else None) or routing.department
    return [r for r in reps if r.department == department and r.is_active]


def capacity(routing: Routing, rule: RoutingRule | None) -> int | None:
    if rule is not None and rule.capacity_per_day is not None:
        return rule.capacity_per_day
    return routing.capacity_per_day


def tiebreak(lead_id: int, rep: str) -> bytes:
    """Orders reps with equal turns, differently for every lead and never by id or seniority."""
    return hashlib.blake2b(f"{lead_id}\x00{rep}".encode(), digest_size=8).digest()


def plan(
    routing: Routing, waiting: Sequence[WaitingLead], reps: Sequence[Rep], loads: Mapping[str, RepLoad]
) -> tuple[list[Route], list[Unrouted]]:
    """Route the waiting leads oldest first; each route counts as the rep's newest assignment."""
    current = dict(loads)
    turn = max((load.last for load in current.values()), default=-1)
    routes: list[Route] = []
    unrouted: list[Unrouted] = []
    for lead in sorted(waiting, key=lambda w: (w.since, w.lead_id)):
        rule = rule_for(routing, lead.attributes)
        rule_id = rule.id if rule is not None else None
        members = pool(routing, rule, reps)
        if not members:
            unrouted.append(Unrouted(lead.lead_id, rule_id, Held.NO_REP))
            continue
        limit = capacity(routing, rule)
        open_reps = [r for r in members if limit is None or current.get(r.name, RepLoad()).today < limit]
        if not open_reps:
            unrouted.append(Unrouted(lead.lead_id, rule_id, Held.CAPACITY))
            continue
        chosen = min(open_reps, key=lambda r: (current.get(r.name, RepLoad()).last, tiebreak(lead.lead_id, r.name)))
        turn += 1
        load = current.get(chosen.name, RepLoad())
        current[chosen.name] = replace(load, last=turn, today=load.today + 1)
        evidence: dict[str, object] = {
            "routing": rule_id or "default",
            "pool": [r.name for r in members],
            "skipped_at_capacity": sorted(r.name for r in members if r not in open_reps),
            "assigned_today": load.today + 1,
        }
        if limit is not None:
            evidence["capacity_per_day"] = limit
        routes.append(Route(lead.lead_id, chosen.name, rule_id, evidence))
    return routes, unrouted
