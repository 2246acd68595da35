"""Lead scoring under a pact: behaviour points with caps and decay, plus attribute (fit) points.

The definition, in one place, that both scoring paths follow:

* A behaviour rule matches an activity of its type whose property, if the rule names
  one, matches the rule's glob. Its raw value at time T is
  ``sum(points * 0.5 ** ((T - t_i) / half_life))`` over matching activities at or
  before T (no half-life: no decay). The rule contributes ``min(raw, cap)``.
* An attribute rule contributes its points (negative allowed) when its condition holds.
* The score is the sum of all contributions.

Decay composes, so the incremental path keeps one raw value per rule referenced to an
``as_of`` instant and folds each new activity in O(1) (see `ScoreState.fold`). The batch
path (adapters/analytics) computes the sum directly; a property test holds them equal.

Must not import: sqlalchemy, duckdb, pyarrow, or anything doing IO.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache

from leadpact.domain.pact import AttributeCondition, BehaviourRule, Operator, Pact

SECONDS_PER_DAY = 86_400.0
AttributeValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Activity:
    """One scoring-relevant thing a lead did."""

    type: str
    at: datetime
    properties: Mapping[str, object] = field(default_factory=dict)


@cache
def glob_regex(glob: str) -> str:
    """Translate a rule glob into a regular expression both Python and DuckDB (RE2) read alike.

    `*` matches any run of characters, `?` one character; everything else is literal.
    fnmatch is not used because its `[...]` classes and `\\Z` anchor differ from RE2's.
    """
    parts = []
    for char in glob:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return "(?s)" + "".join(parts)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def rule_matches(rule: BehaviourRule, activity_type: str, properties: Mapping[str, object]) -> bool:
    """True when `rule` scores an activity of this type with these properties."""
    if rule.activity != activity_type:
        return False
    if rule.match is None:
        return True
    return property_matches(rule, properties.get(rule.match.property))


def property_matches(rule: BehaviourRule, value: object) -> bool:
    """The glob half of `rule_matches`, for one property value (None when absent)."""
    if rule.match is None:
        return True
    if value is None:
        return False
    return _compiled(glob_regex(rule.match.glob)).fullmatch(str(value)) is not None


def _property(rule: BehaviourRule, activity: Activity) -> object:
    return activity.properties.get(rule.match.property) if rule.match is not None else None


def decay_factor(rule: BehaviourRule, elapsed_seconds: float) -> float:
    """Share of a rule's points left after `elapsed_seconds` (1.0 for rules without decay)."""
    if rule.half_life_days is None:
        return 1.0
    return math.pow(0.5, elapsed_seconds / SECONDS_PER_DAY / rule.half_life_days)


def _as_number(value: AttributeValue) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


def _equals(actual: AttributeValue, expected: object) -> bool:
    if isinstance(expected, bool):
        return actual is expected or str(actual).strip().casefold() == str(expected).casefold()
    if isinstance(expected, int | float):
        return _as_number(actual) == float(expected)
    return str(actual).strip().casefold() == str(expected).strip().casefold()


@cache
def _options(expected: tuple[object, ...]) -> tuple[frozenset[str], frozenset[float]]:
    """An `in` list as `_equals` reads its options: as text (strings, booleans) or as numbers.

    One set lookup instead of an `_equals` per option: the batch path checks a free-mail
    list against every distinct e-mail domain in the store.
    """
    texts = frozenset(
        str(o).casefold() if isinstance(o, bool) else str(o).strip().casefold()
        for o in expected
        if isinstance(o, bool) or not isinstance(o, int | float)
    )
    numbers = frozenset(float(o) for o in expected if isinstance(o, int | float) and not isinstance(o, bool))
    return texts, numbers


def _is_present(value: AttributeValue) -> bool:
    return value is not None and str(value).strip() != ""


def condition_holds(condition: AttributeCondition, attributes: Mapping[str, AttributeValue]) -> bool:
    """Evaluate one typed predicate; strings compare without regard to case or outer spaces."""
    actual = attributes.get(condition.field)
    op, expected = condition.op, condition.value
    if op is Operator.EXISTS:
        return _is_present(actual) is (expected is not False)
    if not _is_present(actual):
        return False
    if op is Operator.EQ:
        return _equals(actual, expected)
    if op is Operator.IN:
        assert isinstance(expected, tuple)
        texts, numbers = _options(expected)
        if str(actual).strip().casefold() in texts:
            return True
        return bool(numbers) and _as_number(actual) in numbers
    if op in (Operator.GTE, Operator.LTE):
        number = _as_number(actual)
        assert isinstance(expected, int | float)
        if number is None:
            return False
        return number >= expected if op is Operator.GTE else number <= expected
    text = str(actual)
    if op is Operator.CONTAINS:
        return str(expected).casefold() in text.casefold()
    return _compiled(str(expected)).search(text) is not None


def condition_verdicts(condition: AttributeCondition, values: Iterable[AttributeValue]) -> list[bool]:
    """`condition_holds` for each of many values of the condition's field, in one call.

    The batch path judges every distinct value of a column, tens of thousands of e-mail domains
    or head counts; a text `in`/`eq` and a numeric `gte`/`lte` answer those without the
    per-value dispatch. Anything else goes through `condition_holds` itself.
    """
    op, expected = condition.op, condition.value
    if op in (Operator.GTE, Operator.LTE):
        assert isinstance(expected, int | float)
        # A value that is absent or blank has no number either: the presence check is implied.
        numbers = [_as_number(v) for v in values]
        if op is Operator.GTE:
            return [n is not None and n >= expected for n in numbers]
        return [n is not None and n <= expected for n in numbers]
    texts: frozenset[str] | None = None
    if op is Operator.IN and isinstance(expected, tuple) and not _options(expected)[1]:
        texts = _options(expected)[0]
    elif op is Operator.EQ and isinstance(expected, str):
        texts = frozenset({expected.strip().casefold()})
    if texts is None:
        return [condition_holds(condition, {condition.field: v}) for v in values]
    # A blank string is absent, and casefold() of anything else is not empty.
    return [
        (key := v.strip().casefold()) != "" and key in texts
        if type(v) is str
        else condition_holds(condition, {condition.field: v})
        for v in values
    ]


@dataclass(frozen=True, slots=True)
class RuleScore:
    """One rule's part in a score: what it gave, from how many matches, and whether it hit its cap."""

    rule_id: str
    label: str
    kind: str  # "behaviour" | "attribute"
    points: float
    matches: int
    capped: bool = False


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """A score that explains itself rule by rule."""

    pact_version: int
    at: datetime
    rules: tuple[RuleScore, ...]

    @property
    def total(self) -> float:
        return math.fsum(r.points for r in self.rules)

    @property
    def behaviour(self) -> float:
        return math.fsum(r.points for r in self.rules if r.kind == "behaviour")

    @property
    def attributes(self) -> float:
        return math.fsum(r.points for r in self.rules if r.kind == "attribute")

    def as_evidence(self) -> dict[str, object]:
        """The breakdown as plain data, as a ledger entry keeps it."""
        return {
            "pact_version": self.pact_version,
            "at": self.at.isoformat(),
            "total": round(self.total, 6),
            "rules": [
                {
                    "rule": r.rule_id,
                    "label": r.label,
                    "kind": r.kind,
                    "points": round(r.points, 6),
                    "matches": r.matches,
                    "capped": r.capped,
                }
                for r in self.rules
                if r.matches or r.points
            ],
        }


@dataclass(frozen=True, slots=True)
class ScoreState:
    """Incremental behaviour state of one lead: raw value and match count per rule at `as_of`.

    `actions` holds the activity types the lead has done among those the pact scores
    (`Pact.action_types`; the MQL/SQL "required actions" are any-of checks on it); it is
    kept here because it grows with the same activities the scores fold.
    """

    as_of: datetime | None = None
    raw: Mapping[str, float] = field(default_factory=dict)
    matches: Mapping[str, int] = field(default_factory=dict)
    actions: frozenset[str] = frozenset()

    def fold(self, pact: Pact, activity: Activity) -> ScoreState:
        """Add one activity; O(rules). Activities may arrive out of time order."""
        hits = [r for r in pact.scoring.behaviour if rule_matches(r, activity.type, activity.properties)]
        scored = activity.type not in self.actions and any(r.activity == activity.type for r in pact.scoring.behaviour)
        actions = self.actions | {activity.type} if scored else self.actions
        if not hits:
            return replace(self, actions=actions)
        as_of = activity.at if self.as_of is None or activity.at > self.as_of else self.as_of
        raw = dict(self.raw)
        matches = dict(self.matches)
        shift = 0.0 if self.as_of is None else (as_of - self.as_of).total_seconds()
        if shift:
            for rule in pact.scoring.behaviour:
                if rule.id in raw:
                    raw[rule.id] *= decay_factor(rule, shift)
        lag = (as_of - activity.at).total_seconds()
        for rule in hits:
            raw[rule.id] = raw.get(rule.id, 0.0) + rule.points * decay_factor(rule, lag)
            matches[rule.id] = matches.get(rule.id, 0) + 1
        return ScoreState(as_of=as_of, raw=raw, matches=matches, actions=actions)

    def fold_all(self, pact: Pact, activities: Iterable[Activity]) -> ScoreState:
        """Fold many activities; the same arithmetic as repeated `fold`, in working dicts built once.

        This is the incremental path's hot loop (W3): a frozen state per activity cost
        two dict copies and a frozenset each time.
        """
        by_type: dict[str, list[BehaviourRule]] = {}
        for rule in pact.scoring.behaviour:
            by_type.setdefault(rule.activity, []).append(rule)
        rules = {rule.id: rule for rule in pact.scoring.behaviour}
        as_of = self.as_of
        raw, matches, actions = dict(self.raw), dict(self.matches), set(self.actions)
        for activity in activities:
            typed = by_type.get(activity.type)
            if typed is None:
                continue  # a type the pact does not score: not an action it tracks either
            actions.add(activity.type)
            hits = [r for r in typed if property_matches(r, _property(r, activity))]
            if not hits:
                continue
            newest = activity.at if as_of is None or activity.at > as_of else as_of
            shift = 0.0 if as_of is None else (newest - as_of).total_seconds()
            if shift:
                for rule_id in raw:
                    if rule_id in rules:  # as `fold`: only the pact's own rules decay
                        raw[rule_id] *= decay_factor(rules[rule_id], shift)
            lag = (newest - activity.at).total_seconds()
            for rule in hits:
                raw[rule.id] = raw.get(rule.id, 0.0) + rule.points * decay_factor(rule, lag)
                matches[rule.id] = matches.get(rule.id, 0) + 1
            as_of = newest
        return ScoreState(as_of=as_of, raw=raw, matches=matches, actions=frozenset(actions))

    def behaviour_at(self, pact: Pact, at: datetime) -> list[RuleScore]:
        """Each behaviour rule's contribution at `at` (never extrapolated before `as_of`)."""
        elapsed = 0.0 if self.as_of is None else max(0.0, (at - self.as_of).total_seconds())
        scores = []
        for rule in pact.scoring.behaviour:
            raw = self.raw.get(rule.id, 0.0) * decay_factor(rule, elapsed)
            capped = rule.cap is not None and raw > rule.cap
            scores.append(
                RuleScore(
                    rule_id=rule.id,
                    label=rule.label or rule.id,
                    kind="behaviour",
                    points=rule.cap if capped and rule.cap is not None else raw,
                    matches=self.matches.get(rule.id, 0),
                    capped=capped,
                )
            )
        return scores


def attribute_scores(pact: Pact, attributes: Mapping[str, AttributeValue]) -> list[RuleScore]:
    """Each attribute rule's contribution for a lead with these attributes."""
    return [
        RuleScore(
            rule_id=rule.id,
            label=rule.label or rule.id,
            kind="attribute",
            points=rule.points if (hit := condition_holds(rule, attributes)) else 0.0,
            matches=int(hit),
        )
        for rule in pact.scoring.attributes
    ]


def score(
    pact: Pact,
    version: int,
    state: ScoreState,
    attributes: Mapping[str, AttributeValue],
    at: datetime,
) -> ScoreBreakdown:
    """The lead's score at `at` under pact `version`, rule by rule."""
    rules = state.behaviour_at(pact, at) + attribute_scores(pact, attributes)
    return ScoreBreakdown(pact_version=version, at=at, rules=tuple(rules))


def score_activities(
    pact: Pact,
    version: int,
    activities: Iterable[Activity],
    attributes: Mapping[str, AttributeValue],
    at: datetime,
) -> ScoreBreakdown:
    """Score from scratch: the activities at or before `at`, folded into an empty state."""
    state = ScoreState().fold_all(pact, (a for a in activities if a.at <= at))
    return score(pact, version, state, attributes, at)
