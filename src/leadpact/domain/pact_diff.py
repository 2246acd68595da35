"""What changed between two pact versions, said in business terms.

"MQL threshold 80 → 70", "+ rule: seminar attended 30 pts", "clock is_first_contact:
deadline 3 business days → 2 business days". Each change is one line a head of
department can sign off on.

Must not import: anything doing IO.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from leadpact.domain.agreement import describe_condition
from leadpact.domain.pact import (
    AttributeCondition,
    AttributeRule,
    BehaviourRule,
    HandoffClock,
    Pact,
    Routing,
    RoutingRule,
)


def _pts(points: float) -> str:
    return f"{points:+g} pts" if points < 0 else f"{points:g} pts"


def describe_rule(rule: BehaviourRule | AttributeRule) -> str:
    label = rule.label or rule.id
    if isinstance(rule, BehaviourRule):
        parts = [f"{label} {_pts(rule.points)} per {rule.activity}"]
        if rule.match:
            parts.append(f"where {rule.match.property} matches {rule.match.glob}")
        if rule.cap is not None:
            parts.append(f"cap {rule.cap:g}")
        if rule.half_life_days is not None:
            parts.append(f"half-life {rule.half_life_days:g} days")
        return ", ".join(parts)
    return f"{label} {_pts(rule.points)} when {describe_condition(rule)}"


def describe_clock(clock: HandoffClock) -> str:
    stops = "/".join(s.value for s in clock.stop)
    deadline = clock.deadline.describe()
    return f"{clock.label or clock.id}: {clock.start.value} → {stops} within {deadline}, {clock.responsible}"


def describe_routing_rule(rule: RoutingRule) -> str:
    when = " and ".join(describe_condition(c) for c in rule.when) or "every other lead"
    to = ", ".join(rule.reps) if rule.reps else (rule.department or "the routing department")
    cap = f", at most {rule.capacity_per_day} a day each" if rule.capacity_per_day else ""
    return f"{rule.label or rule.id}: {when} → {to}{cap}"


def _routing(old: Routing | None, new: Routing | None) -> Iterator[str]:
    if old == new:
        return
    if old is None or new is None:
        kept = new or old
        assert kept is not None
        yield f"{'+' if old is None else '-'} routing of MQLs to {kept.department}"
        empty = Routing(department=kept.department)  # the rules below then read as added or removed
        old, new = old or empty, new or empty
    if old.department != new.department:
        yield f"routing department {old.department} → {new.department}"
    if old.capacity_per_day != new.capacity_per_day:
        yield f"routing capacity per day {old.capacity_per_day or 'none'} → {new.capacity_per_day or 'none'}"
    yield from _keyed("routing rule", old.rules, new.rules, "id", describe_routing_rule)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, AttributeCondition):
        return describe_condition(value)
    if isinstance(value, BaseModel):
        return describe_clock(value) if isinstance(value, HandoffClock) else str(value.model_dump(mode="json"))
    return str(value.value if hasattr(value, "value") else value)


def _fields(prefix: str, old: BaseModel, new: BaseModel, skip: Sequence[str] = ()) -> Iterator[str]:
    for name in type(old).model_fields:
        if name in skip:
            continue
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            yield f"{prefix} {name.replace('_', ' ')} {_value(a)} → {_value(b)}"


def _keyed(kind: str, old: Sequence[Any], new: Sequence[Any], key: str, describe: Any) -> Iterator[str]:
    before = {getattr(x, key): x for x in old}
    after = {getattr(x, key): x for x in new}
    for k, item in after.items():
        if k not in before:
            yield f"+ {kind}: {describe(item)}"
    for k, item in before.items():
        if k not in after:
            yield f"- {kind}: {describe(item)}"
        elif after[k] != item:
            yield f"~ {kind} {k}: {describe(item)} → {describe(after[k])}"


def pact_changes(old: Pact, new: Pact) -> list[str]:
    """Every difference between `old` and `new`, one business-language line each."""
    lines: list[str] = []
    lines += _fields("MQL", old.mql, new.mql)
    lines = [line.replace("MQL score threshold", "MQL threshold") for line in lines]
    lines += _fields("SQL", old.sql, new.sql)
    lines = [line.replace("SQL bant min", "SQL BANT minimum") for line in lines]
    lines += _keyed("rule", old.scoring.behaviour, new.scoring.behaviour, "id", describe_rule)
    lines += _keyed("attribute rule", old.scoring.attributes, new.scoring.attributes, "id", describe_rule)
    lines += _keyed("clock", old.clocks, new.clocks, "id", describe_clock)
    lines += _routing(old.routing, new.routing)
    lines += _keyed("department", old.departments, new.departments, "id", lambda d: f"{d.id} ({d.name})")
    if old.approvers != new.approvers:
        lines.append(f"approvers {_value(old.approvers)} → {_value(new.approvers)}")
    lines += _fields("calendar", old.calendar, new.calendar)
    for kind in ("recycle", "disqualify"):
        lines += _keyed(
            f"{kind} reason",
            getattr(old.reason_codes, kind),
            getattr(new.reason_codes, kind),
            "code",
            lambda r: f"{r.code} ({r.label})",
        )
    if old.review_cycle != new.review_cycle:
        lines.append(f"review cycle {old.review_cycle.value} → {new.review_cycle.value}")
    lines += _keyed(
        "KPI target",
        old.kpi_targets,
        new.kpi_targets,
        "kpi",
        lambda k: f"{k.kpi.value} {k.target:g} per {k.per.value} ({k.owner})",
    )
    if old.name != new.name:
        lines.append(f"name {old.name!r} → {new.name!r}")
    return lines
