"""Routing MQLs to inside sales: round robin, conditions, capacity, inactive reps, fair ties."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from leadpact.domain.pact import Routing, check_pact
from leadpact.domain.pact_diff import pact_changes
from leadpact.domain.routing import Held, Rep, RepLoad, WaitingLead, plan, rule_for
from tests.factories import example_document

T0 = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)
IS = [Rep("青木", "inside_sales"), Rep("井上", "inside_sales"), Rep("上田", "inside_sales")]


def routing(**fields: object) -> Routing:
    return Routing.model_validate({"department": "inside_sales", **fields})


def waiting(n: int, first: int = 1, **attributes: object) -> list[WaitingLead]:
    return [WaitingLead(first + i, dict(attributes), T0 + timedelta(minutes=i)) for i in range(n)]


def reps_of(routes: list) -> list[str]:  # type: ignore[type-arg]
    return [r.rep for r in routes]


def test_reps_take_turns_the_one_waiting_longest_first() -> None:
    # 井上 was given a lead last (seq 9), 上田 before (seq 5), 青木 longest ago (seq 2).
    loads = {"青木": RepLoad(last=2), "井上": RepLoad(last=9), "上田": RepLoad(last=5)}
    routes, unrouted = plan(routing(), waiting(6), IS, loads)
    assert reps_of(routes) == ["青木", "上田", "井上", "青木", "上田", "井上"]
    assert unrouted == []


def test_the_oldest_mql_is_routed_first() -> None:
    later = WaitingLead(1, {}, T0 + timedelta(hours=1))
    earlier = WaitingLead(2, {}, T0)
    routes, _ = plan(routing(), [later, earlier], IS[:1], {})
    assert [r.lead_id for r in routes] == [2, 1]


def test_inactive_reps_and_other_departments_are_skipped() -> None:
    reps = [Rep("青木", "inside_sales", is_active=False), Rep("井上", "inside_sales"), Rep("佐藤", "marketing")]
    routes, _ = plan(routing(), waiting(3), reps, {})
    assert reps_of(routes) == ["井上"] * 3


@pytest.mark.parametrize(
    ("capacity", "today", "expected", "held"),
    [
        (2, {"青木": 2}, {"井上": 2, "上田": 2}, 0),  # 青木 is full already
        (1, {}, {"青木": 1, "井上": 1, "上田": 1}, 1),  # one each, then the fourth lead waits
        (None, {"青木": 50}, {"青木": 2, "井上": 1, "上田": 1}, 0),  # no capacity: nobody is ever full
    ],
)
def test_a_rep_at_the_days_capacity_is_skipped(
    capacity: int | None, today: dict[str, int], expected: dict[str, int], held: int
) -> None:
    turns = {"青木": 0, "井上": 1, "上田": 2}
    loads = {name: RepLoad(last=turns[name], today=today.get(name, 0)) for name in turns}
    routes, unrouted = plan(routing(capacity_per_day=capacity), waiting(4), IS, loads)
    assert Counter(reps_of(routes)) == expected
    assert [u.reason for u in unrouted] == [Held.CAPACITY] * held


RULES = {
    "capacity_per_day": 5,
    "rules": [
        {
            "id": "enterprise",
            "when": [{"field": "employees", "op": "gte", "value": 1000}],
            "reps": ["上田"],
            "capacity_per_day": 1,
        },
        {"id": "west", "when": [{"field": "prefecture", "op": "in", "value": ["大阪府", "兵庫県"]}], "reps": ["井上"]},
    ],
}


@pytest.mark.parametrize(
    ("attributes", "rule", "rep"),
    [
        ({"employees": 3000, "prefecture": "大阪府"}, "enterprise", "上田"),  # the first matching rule wins
        ({"employees": 300, "prefecture": "大阪府"}, "west", "井上"),
        ({"employees": 300, "prefecture": "東京都"}, None, None),  # default pool: the department
        ({}, None, None),  # a missing attribute meets no condition
    ],
)
def test_the_first_matching_rule_picks_the_pool(
    attributes: dict[str, object], rule: str | None, rep: str | None
) -> None:
    found = rule_for(routing(**RULES), attributes)
    assert (found.id if found else None) == rule
    (route,), _ = plan(routing(**RULES), [WaitingLead(7, attributes, T0)], IS, {})
    assert route.rule == rule and (rep is None or route.rep == rep)
    assert route.evidence["routing"] == (rule or "default")


def test_a_rule_capacity_overrides_the_default_and_a_full_pool_waits_with_why() -> None:
    big = waiting(2, employees=5000)
    routes, unrouted = plan(routing(**RULES), big, IS, {})
    assert reps_of(routes) == ["上田"] and routes[0].evidence["capacity_per_day"] == 1
    assert [(u.lead_id, u.rule, u.reason) for u in unrouted] == [(2, "enterprise", Held.CAPACITY)]


def test_a_pool_with_no_active_rep_holds_the_lead() -> None:
    reps = [Rep("上田", "inside_sales", is_active=False), *IS[:2]]
    _, unrouted = plan(routing(**RULES), waiting(1, employees=5000), reps, {})
    assert [(u.rule, u.reason) for u in unrouted] == [("enterprise", Held.NO_REP)]


def test_ties_favour_nobody_by_list_order_or_name() -> None:
    """Reps never given a lead tie; over many leads each gets the first one about as often."""
    team = [Rep(name, "inside_sales") for name in ("青木", "井上", "上田", "江藤")]
    firsts = Counter(plan(routing(), [WaitingLead(i, {}, T0)], team, {})[0][0].rep for i in range(1, 4001))
    assert set(firsts) == {r.name for r in team}
    assert all(850 <= n <= 1150 for n in firsts.values()), firsts  # 1000 each, ± about 5 standard deviations
    for i in range(1, 50):  # the list order of reps never changes who gets a lead
        lead = [WaitingLead(i, {}, T0)]
        assert reps_of(plan(routing(), lead, team, {})[0]) == reps_of(plan(routing(), lead, team[::-1], {})[0])


def test_routing_problems_are_located() -> None:
    pact = example_document().pact
    bad = pact.model_copy(
        update={
            "routing": routing(
                department="field_sales",
                rules=[
                    {"id": "all", "reps": ["青木"]},
                    {"id": "all", "when": [{"field": "x", "op": "exists"}], "reps": ["井上", "井上"]},
                    {"id": "r3", "when": [{"field": "x", "op": "exists"}], "department": "sales"},
                ],
            )
        }
    )
    problems = {p.path: p.message for p in check_pact(bad)}
    assert "has not that role" in problems[("routing", "department")]
    assert "the rules after it would never match" in problems[("routing", "rules", 0, "when")]
    assert "used twice" in problems[("routing", "rules", 1, "id")]
    assert "listed twice" in problems[("routing", "rules", 1, "reps", 1)]
    assert "unknown department 'sales'" in problems[("routing", "rules", 2, "department")]


def test_a_routing_change_reads_as_one_line_each() -> None:
    pact = example_document().pact.model_copy(update={"routing": None})
    before = pact.model_copy(update={"routing": routing(capacity_per_day=20)})
    after = pact.model_copy(update={"routing": routing(capacity_per_day=15, rules=RULES["rules"])})
    assert pact_changes(pact, before) == ["+ routing of MQLs to inside_sales", "routing capacity per day none → 20"]
    changes = pact_changes(before, after)
    assert changes[0] == "routing capacity per day 20 → 15"
    assert "+ routing rule: enterprise: employees ≥ 1000 → 上田, at most 1 a day each" in changes
