"""The batch fold's columns: rows that hit several rules add once per half-life, and every rule
still gets exactly what the domain's fold gives it, whatever the shape of the pact."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadpact.adapters.analytics.scoring import (
    MAX_GLOBS_PER_TYPE,
    RowClassifier,
    _columns,
    matches_column,
    raw_column,
    score_snapshot,
)
from leadpact.adapters.db.tables import to_micros
from leadpact.domain.pact import BehaviourRule, Pact, PropertyMatch
from leadpact.domain.scoring import Activity, ScoreState, rule_matches
from tests.factories import activity_snapshot, example_document
from tests.unit.test_glob_and_decay import pact_with

T = datetime(2026, 4, 1, tzinfo=UTC)
EXAMPLE: Pact = example_document().pact


def test_the_example_pact_folds_a_pricing_view_once_into_the_column_both_its_rules_read() -> None:
    rules = EXAMPLE.scoring.behaviour
    columns = [tuple(rules[i].id for i in column) for column in _columns(rules)]
    assert ("pricing_page", "page_view") in columns  # same type, same half-life: one column
    assert ("page_view",) in columns  # the page views that are not pricing views
    assert len(columns) == len(rules)


def test_rules_of_one_type_with_different_half_lives_get_a_column_each() -> None:
    rules = [
        BehaviourRule(id="slow", activity="a", points=1, half_life_days=90),
        BehaviourRule(id="fast", activity="a", points=1, half_life_days=7),
        BehaviourRule(id="also_slow", activity="a", points=1, half_life_days=90),
    ]
    assert _columns(rules) == [(0, 2), (1,)]


def test_many_globs_on_one_type_fold_one_column_per_rule() -> None:
    globbed = [
        BehaviourRule(id=f"g{i}", activity="a", points=1, match=PropertyMatch(property="url", glob=f"*{i}*"))
        for i in range(MAX_GLOBS_PER_TYPE + 1)
    ]
    assert _columns(globbed) == [(i,) for i in range(len(globbed))]


def rule_strategy(index: int) -> st.SearchStrategy[BehaviourRule]:
    return st.builds(
        lambda activity, match, points, capped, half_life: BehaviourRule(
            id=f"r{index}",
            activity=activity,
            match=match,
            points=points,
            cap=20 if capped and points > 0 else None,
            half_life_days=half_life,
        ),
        st.sampled_from(["a", "b"]),
        st.none()
        | st.builds(
            PropertyMatch, property=st.sampled_from(["url", "form"]), glob=st.sampled_from(["*x*", "*y", "z*"])
        ),
        st.sampled_from([-5, 3, 10]),
        st.booleans(),
        st.sampled_from([None, 10.0, 30.0]),
    )


PACTS = st.integers(1, 7).flatmap(lambda n: st.tuples(*(rule_strategy(i) for i in range(n)))).map(list)
VALUES = st.sampled_from([None, "x", "xy", "zx", "y", "zzz"])
ACTIVITIES = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", "c"]), st.integers(0, 200), VALUES, VALUES),
    max_size=30,
)


MANY_GLOBS = [
    BehaviourRule(id=f"r{i}", activity="a", points=3, match=PropertyMatch(property="url", glob=glob), half_life_days=10)
    for i, glob in enumerate(["*x*", "*y", "z*", "*z*"])
] + [BehaviourRule(id="r4", activity="a", points=10, cap=20, half_life_days=10)]


@settings(max_examples=150, deadline=None)
@given(rules=PACTS, rows=ACTIVITIES)
@example(
    rules=MANY_GLOBS,
    rows=[(0, "a", 5, "zx", None), (0, "a", 1, "xy", None), (1, "a", 2, "y", "x"), (1, "b", 0, None, None)],
)
def test_the_batch_fold_equals_the_domain_fold_for_any_shape_of_pact(
    rules: list[BehaviourRule], rows: list[tuple[int, str, int, str | None, str | None]]
) -> None:
    pact = pact_with(*rules)
    activities = [
        (lead, Activity(kind, T - timedelta(hours=hours), {k: v for k, v in (("url", url), ("form", form)) if v}))
        for lead, kind, hours, url, form in rows
    ]
    snapshot = activity_snapshot(pact, activities, [0, 1, 2])
    table = score_snapshot(snapshot, pact, T).table.to_pylist()
    for lead, row in enumerate(table):
        state = ScoreState().fold_all(pact, [a for who, a in activities if who == lead])
        assert row["as_of"] == (None if state.as_of is None else to_micros(state.as_of))
        assert row["actions"] == sorted(state.actions)
        for rule in rules:
            assert row[matches_column(rule.id)] == state.matches.get(rule.id, 0), rule.id
            expected = state.raw.get(rule.id, 0.0)
            assert math.isclose(row[raw_column(rule.id)], expected, rel_tol=1e-9, abs_tol=1e-9), rule.id


def test_rows_given_as_python_values_are_classified_as_the_domain_judges_them() -> None:
    classifier = RowClassifier(EXAMPLE)
    pricing = {"url": "https://example.jp/pricing"}
    rows: list[tuple[str, object]] = [
        ("page_view", pricing),
        ("page_view", json.dumps(pricing)),  # JSON text, as SQLite hands properties over
        ("page_view", {"url": ["https://example.jp/about"]}),  # a list: unhashable, judged by its text
        ("page_view", {"url": ["https://example.jp/pricing"]}),
        ("page_view", None),
        ("form_submit", pricing),  # a type no rule scores: dropped
        ("unsubscribed", {}),
    ]
    block = classifier.rows_block(
        np.arange(len(rows), dtype=np.int32),
        [kind for kind, _ in rows],
        [props for _, props in rows],
        np.arange(len(rows), dtype=np.int64),
    )
    assert block.lead.tolist() == [0, 1, 2, 3, 4, 6]
    rules = EXAMPLE.scoring.behaviour
    hits = [
        tuple(sorted(rules[i].id for c in classifier.class_columns[slot - 1] for i in classifier.columns[c]))
        for slot in block.slot.tolist()
    ]
    assert hits == [
        ("page_view", "pricing_page"),
        ("page_view", "pricing_page"),
        ("page_view",),
        ("page_view", "pricing_page"),  # "['https://example.jp/pricing']" has "/pricing" in it
        ("page_view",),
        ("unsubscribed",),
    ]
    for lead, found in zip(block.lead.tolist(), hits, strict=True):
        kind, props = rows[lead]
        mapping = json.loads(props) if isinstance(props, str) else props or {}
        assert found == tuple(sorted(r.id for r in rules if rule_matches(r, kind, mapping)))
