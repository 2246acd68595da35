"""The pact as the seed's agreement table: one row per agreed item, an MQL and an SQL column.

Must not import: anything doing IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from leadpact.domain.pact import AttributeCondition, ClockKind, ClockStage, HandoffClock, Pact

Lang = Literal["ja", "en"]

ITEMS: dict[str, dict[Lang, str]] = {
    "score_threshold": {"ja": "スコア閾値", "en": "Score threshold"},
    "required_actions": {"ja": "必須行動", "en": "Required actions"},
    "attribute_conditions": {"ja": "属性条件", "en": "Attribute conditions"},
    "handoff_timing": {"ja": "引き渡しタイミング", "en": "Handoff timing"},
    "follow_up_deadline": {"ja": "フォロー期限", "en": "Follow-up deadline"},
    "review_cycle": {"ja": "見直しサイクル", "en": "Review cycle"},
    "responsible": {"ja": "責任部門", "en": "Responsible department"},
}

_CYCLE: dict[str, dict[Lang, str]] = {
    "monthly": {"ja": "毎月", "en": "monthly"},
    "quarterly": {"ja": "四半期ごと", "en": "quarterly"},
    "semiannual": {"ja": "半期ごと", "en": "every six months"},
    "annual": {"ja": "毎年", "en": "annually"},
}


@dataclass(frozen=True, slots=True)
class AgreementRow:
    item: str
    mql: str
    sql: str


def describe_condition(condition: AttributeCondition) -> str:
    value = condition.value
    shown = " / ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    symbols = {"eq": "=", "in": "∈", "gte": "≥", "lte": "≤", "contains": "contains", "regex": "~"}
    if condition.op.value == "exists":
        return f"{condition.field} {'is set' if value is not False else 'is empty'}"
    return f"{condition.field} {symbols[condition.op.value]} {shown}"


def _activity_label(pact: Pact, activity: str) -> str:
    rule = next((r for r in pact.scoring.behaviour if r.activity == activity and r.match is None), None)
    return rule.label if rule and rule.label else activity


def _clocks(pact: Pact, stage: ClockStage, kind: ClockKind, lang: Lang) -> str:
    found: list[HandoffClock] = [c for c in pact.clocks if c.stage is stage and c.kind is kind]
    if not found:
        return ""
    parts = []
    for clock in found:
        dep = pact.department(clock.responsible)
        name = (dep.name if lang == "ja" or not dep.name_en else dep.name_en) if dep else clock.responsible
        label = clock.label or clock.id
        parts.append(
            f"{label}: {clock.start.value} → {'/'.join(s.value for s in clock.stop)}, "
            f"{clock.deadline.describe()} ({name})"
        )
    return "; ".join(parts)


def agreement_rows(pact: Pact, lang: Lang = "ja") -> list[AgreementRow]:
    """The seed's seven agreed items for this pact, labelled in `lang`."""

    def dept(dep_id: str) -> str:
        found = pact.department(dep_id)
        if found is None:
            return dep_id
        return found.name if lang == "ja" or not found.name_en else found.name_en

    sql_timing_default = {"ja": "SQL条件の確認完了時", "en": "when the SQL criteria are confirmed"}[lang]
    rows = [
        ("score_threshold", f"score ≥ {pact.mql.score_threshold:g}", f"BANT ≥ {pact.sql.bant_min} / 4"),
        (
            "required_actions",
            ", ".join(_activity_label(pact, a) for a in pact.mql.required_actions) or "—",
            ", ".join(_activity_label(pact, a) for a in pact.sql.required_actions) or "—",
        ),
        (
            "attribute_conditions",
            "; ".join(describe_condition(c) for c in pact.mql.attributes) or "—",
            ", ".join(pact.sql.required_facts) or "—",
        ),
        (
            "handoff_timing",
            _clocks(pact, ClockStage.MQL, ClockKind.HANDOFF, lang) or "—",
            _clocks(pact, ClockStage.SQL, ClockKind.HANDOFF, lang) or sql_timing_default,
        ),
        (
            "follow_up_deadline",
            _clocks(pact, ClockStage.MQL, ClockKind.FOLLOW_UP, lang) or "—",
            _clocks(pact, ClockStage.SQL, ClockKind.FOLLOW_UP, lang) or "—",
        ),
        ("review_cycle", _CYCLE[pact.review_cycle.value][lang], _CYCLE[pact.review_cycle.value][lang]),
        ("responsible", dept(pact.mql.responsible), dept(pact.sql.responsible)),
    ]
    return [AgreementRow(ITEMS[key][lang], mql, sql) for key, mql, sql in rows]
