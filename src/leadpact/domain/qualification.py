"""Whether a lead meets the pact's MQL or SQL criteria, with the reasons either way.

Must not import: sqlalchemy, duckdb, or anything doing IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leadpact.domain.pact import BantItem, MqlCriteria, SqlCriteria
from leadpact.domain.scoring import AttributeValue, condition_holds


@dataclass(frozen=True, slots=True)
class CriteriaCheck:
    """The outcome of checking one set of criteria: each condition and whether it held."""

    conditions: tuple[tuple[str, bool], ...]

    @property
    def holds(self) -> bool:
        return all(ok for _, ok in self.conditions)

    @property
    def unmet(self) -> tuple[str, ...]:
        return tuple(text for text, ok in self.conditions if not ok)

    def as_evidence(self) -> list[dict[str, object]]:
        return [{"condition": text, "met": ok} for text, ok in self.conditions]


def check_mql(
    criteria: MqlCriteria,
    *,
    score: float,
    actions: frozenset[str],
    attributes: Mapping[str, AttributeValue],
) -> CriteriaCheck:
    """Score at or over the threshold, any one required action done, every attribute condition true."""
    conditions = [(f"score {score:.1f} >= {criteria.score_threshold:g}", score >= criteria.score_threshold)]
    if criteria.required_actions:
        done = sorted(actions & set(criteria.required_actions))
        text = f"any of {', '.join(criteria.required_actions)}" + (f" (done: {', '.join(done)})" if done else "")
        conditions.append((text, bool(done)))
    for condition in criteria.attributes:
        shown = condition.value if not isinstance(condition.value, tuple) else list(condition.value)
        conditions.append(
            (
                f"{condition.field} {condition.op.value} {shown} (is {attributes.get(condition.field)!r})",
                condition_holds(condition, attributes),
            )
        )
    return CriteriaCheck(tuple(conditions))


@dataclass(frozen=True, slots=True)
class Bant:
    """Which of budget, authority, need and timeline sales has confirmed, plus other facts."""

    confirmed: frozenset[BantItem] = frozenset()
    facts: Mapping[str, bool] | None = None

    @property
    def count(self) -> int:
        return len(self.confirmed)

    def as_evidence(self) -> dict[str, object]:
        return {
            "bant": {item.value: item in self.confirmed for item in BantItem},
            "facts": dict(self.facts or {}),
        }


def check_sql(criteria: SqlCriteria, *, bant: Bant, actions: frozenset[str]) -> CriteriaCheck:
    """BANT confirmed at least `bant_min` of 4, any one required action, every required fact true."""
    confirmed = ", ".join(sorted(item.value for item in bant.confirmed)) or "none"
    conditions = [
        (f"BANT confirmed {bant.count} of 4 >= {criteria.bant_min} ({confirmed})", bant.count >= criteria.bant_min)
    ]
    if criteria.required_actions:
        done = sorted(actions & set(criteria.required_actions))
        conditions.append((f"any of {', '.join(criteria.required_actions)}", bool(done)))
    facts = bant.facts or {}
    for fact in criteria.required_facts:
        conditions.append((f"fact {fact}", facts.get(fact) is True))
    return CriteriaCheck(tuple(conditions))
