"""Decay, caps, negative points and globs, computed by hand and checked on both scoring paths.

Each case runs through the domain's incremental fold (`ScoreState.fold` via `score_activities`)
and through the batch engine's `score_snapshot` over a one-lead Arrow snapshot, so the
hand-computed numbers pin both paths, not just their agreement.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadpact.adapters.analytics.scoring import (
    Snapshot,
    SnapshotLayout,
    matches_column,
    raw_column,
    score_snapshot,
)
from leadpact.adapters.db.score_state import StateLayout
from leadpact.adapters.db.tables import to_micros
from leadpact.domain.pact import AttributeCondition, BehaviourRule, Pact, PropertyMatch, Scoring
from leadpact.domain.scoring import (
    Activity,
    ScoreState,
    condition_holds,
    condition_verdicts,
    decay_factor,
    glob_regex,
    property_matches,
    score_activities,
)
from tests.factories import activity_snapshot, example_document

T = datetime(2026, 4, 1, tzinfo=UTC)
EXAMPLE: Pact = example_document().pact


def pact_with(*rules: BehaviourRule) -> Pact:
    return EXAMPLE.model_copy(update={"scoring": Scoring(behaviour=rules)})


def rule(**fields: Any) -> BehaviourRule:
    return BehaviourRule(**{"id": "r", "activity": "download", "points": 10, **fields})


def ago(days: float) -> datetime:
    return T - timedelta(days=days)


def both_paths(pact: Pact, activities: list[Activity], at: datetime) -> tuple[dict[str, float], dict[str, float]]:
    """Each rule's points at `at` from the domain and from the batch engine."""
    domain = {r.rule_id: r.points for r in score_activities(pact, 1, activities, {}, at).rules}
    snapshot = activity_snapshot(pact, [(1, a) for a in activities], [1])
    row = score_snapshot(snapshot, pact, at).table.to_pylist()[0]
    # The batch engine decays from as_of to `at` only in the totals; rebuild per-rule points the same way.
    batch = {}
    for r in pact.scoring.behaviour:
        elapsed = 0.0 if row["as_of"] is None else max(0.0, (to_micros(at) - row["as_of"]) / 1e6)
        raw = row[raw_column(r.id)] * decay_factor(r, elapsed)
        batch[r.id] = min(raw, r.cap) if r.cap is not None else raw
    assert math.isclose(row["total_at"], sum(batch.values()), rel_tol=1e-12, abs_tol=1e-12)
    return domain, batch


DECAY_CASES = [
    # half-life days, days before T of each download (10 pts), expected points at T
    (10, [0], 10.0),
    (10, [10], 5.0),
    (10, [20], 2.5),
    (10, [5], 10 * 2**-0.5),
    (10, [0, 10], 15.0),
    (10, [10, 20, 30], 5 + 2.5 + 1.25),
    (1, [0.5], 10 * 2**-0.5),
    (365, [365 * 3], 1.25),
    (None, [1000], 10.0),
    (None, [0, 500, 1000], 30.0),
]


@pytest.mark.parametrize(("half_life", "days_before", "expected"), DECAY_CASES)
def test_points_halve_every_half_life(half_life: float | None, days_before: list[float], expected: float) -> None:
    pact = pact_with(rule(half_life_days=half_life))
    domain, batch = both_paths(pact, [Activity("download", ago(d)) for d in days_before], T)
    assert domain["r"] == pytest.approx(expected, rel=1e-12)
    assert batch["r"] == pytest.approx(expected, rel=1e-12)


CAP_CASES = [
    # cap 25 on 10-point downloads with a 10-day half-life
    ([0, 0], 20.0),
    ([0, 0, 0], 25.0),  # 30 raw, capped
    ([10, 10, 10], 15.0),  # decayed to 15 before the cap matters
    ([10] * 6, 25.0),  # decayed sum 30, capped
    ([0, 0, 0, 40], 25.0),  # 30.625 raw, capped
]


@pytest.mark.parametrize(("days_before", "expected"), CAP_CASES)
def test_a_cap_limits_the_decayed_sum(days_before: list[float], expected: float) -> None:
    pact = pact_with(rule(cap=25, half_life_days=10))
    domain, batch = both_paths(pact, [Activity("download", ago(d)) for d in days_before], T)
    assert domain["r"] == pytest.approx(expected, rel=1e-12)
    assert batch["r"] == pytest.approx(expected, rel=1e-12)


NEGATIVE_CASES = [
    # points, half-life, days before T, expected
    (-30, None, [0], -30.0),
    (-30, None, [0, 400], -60.0),
    (-30, 10, [10], -15.0),
    (-30, 10, [0, 20], -37.5),
]


@pytest.mark.parametrize(("points", "half_life", "days_before", "expected"), NEGATIVE_CASES)
def test_negative_points_subtract_and_decay_like_positive_ones(
    points: float, half_life: float | None, days_before: list[float], expected: float
) -> None:
    pact = pact_with(rule(points=points, half_life_days=half_life))
    domain, batch = both_paths(pact, [Activity("download", ago(d)) for d in days_before], T)
    assert domain["r"] == pytest.approx(expected, rel=1e-12)
    assert batch["r"] == pytest.approx(expected, rel=1e-12)


def test_a_cap_needs_positive_points() -> None:
    with pytest.raises(pydantic.ValidationError, match="positive points"):
        rule(points=-30, cap=10)


def test_state_is_referenced_to_the_newest_activity_that_hit_a_rule() -> None:
    # A later activity no rule scores does not move as_of; the later download does.
    pact = pact_with(rule(half_life_days=10))
    early = [Activity("download", ago(20)), Activity("newsletter_open", ago(1))]
    state = ScoreState().fold_all(pact, early)
    assert state.as_of == ago(20)
    assert state.raw == {"r": 10.0}
    assert state.actions == frozenset({"download"})  # the pact scores no newsletter_open: not tracked
    state = state.fold(pact, Activity("download", ago(10)))
    assert state.as_of == ago(10)
    assert state.raw["r"] == pytest.approx(15.0, rel=1e-12)  # 10 from day -20 halved, plus 10


GLOB_CASES = [
    # glob, property value (None = absent), matches
    ("*/pricing*", "https://example.jp/pricing", True),
    ("*/pricing*", "https://example.jp/pricing?plan=enterprise", True),
    ("*/pricing*", "/pricing", True),  # * matches nothing, too
    ("*/pricing*", "https://example.jp/Pricing", False),  # case matters
    ("*/pricing*", "https://example.jp/about", False),
    ("*/pricing*", "pricing", False),
    ("*/pricing*", None, False),
    ("*", "line one\nline two", True),  # * crosses line breaks
    ("*", "", True),
    ("doc-??.pdf", "doc-01.pdf", True),
    ("doc-??.pdf", "doc-1.pdf", False),  # ? is exactly one character
    ("doc-??.pdf", "doc-001.pdf", False),
    ("a.b", "axb", False),  # regex metacharacters are literal
    ("a.b", "a.b", True),
    ("[ab]", "a", False),  # no character classes
    ("[ab]", "[ab]", True),
    ("a+b (c)", "a+b (c)", True),
    ("料金*", "料金プラン", True),
    ("5", 5, True),  # non-text values match as their text
    ("True", True, True),
    ("true", True, False),
]


@pytest.mark.parametrize(("glob", "value", "matches"), GLOB_CASES)
def test_glob_semantics(glob: str, value: object, matches: bool) -> None:
    pact = pact_with(rule(activity="page_view", match=PropertyMatch(property="url", glob=glob)))
    (glob_rule,) = pact.scoring.behaviour
    assert property_matches(glob_rule, value) is matches
    properties = {} if value is None else {"url": value}
    domain, batch = both_paths(pact, [Activity("page_view", T, properties)], T)
    assert domain["r"] == batch["r"] == (10.0 if matches else 0.0)
    if isinstance(value, str):
        # The translated pattern reads the same in RE2 (DuckDB's regexp_full_match) as in Python.
        found = duckdb.sql("SELECT regexp_full_match($1, $2)", params=[value, glob_regex(glob)]).fetchall()
        assert found == [(matches,)]


def test_a_glob_only_looks_at_activities_of_its_own_type() -> None:
    pact = pact_with(rule(activity="page_view", match=PropertyMatch(property="url", glob="*/pricing*")))
    domain, batch = both_paths(pact, [Activity("email_click", T, {"url": "https://example.jp/pricing"})], T)
    assert domain["r"] == batch["r"] == 0.0


def test_the_batch_path_counts_matches_per_rule_like_the_fold() -> None:
    pact = EXAMPLE
    acts = [
        Activity("page_view", ago(3), {"url": "https://example.jp/pricing"}),
        Activity("page_view", ago(2), {"url": "https://example.jp/about"}),
        Activity("unsubscribed", ago(1)),
    ]
    state = ScoreState().fold_all(pact, acts)
    layout = SnapshotLayout.of(pact)
    snapshot = Snapshot.of(
        layout,
        pa.table(
            {
                "lead_id": [7, 7, 7],
                "type": [a.type for a in acts],
                "occurred_at": [to_micros(a.at) for a in acts],
                "p0": [json.dumps(a.properties.get("url")) if a.properties else None for a in acts],
            }
        ),
        pa.table({"lead_id": [7], "email": ["taro@gmail.com"], **{f"f{i}": [None] for i in range(len(layout.fields))}}),
    )
    row = score_snapshot(snapshot, pact, T).table.to_pylist()[0]
    assert (
        {r.id: row[matches_column(r.id)] for r in pact.scoring.behaviour if row[matches_column(r.id)]}
        == {
            "pricing_page": 1,
            "page_view": 2,
            "unsubscribed": 1,
        }
        == dict(state.matches)
    )
    assert row["attributes"] == -20.0  # free mail, derived from the address
    assert row["actions"] == ["page_view", "unsubscribed"]


EMAIL_CASES = [
    # e-mail, stored email_domain attribute, free-mail points (-20) expected
    ("taro@gmail.com", None, -20.0),
    ("taro@example.co.jp", "gmail.com", 0.0),  # the address wins over a stored attribute
    ("taro@x@gmail.com", None, -20.0),  # the text after the last "@"
    ("taro@", "gmail.com", 0.0),  # an empty domain is still the address's
    ("no address", "gmail.com", -20.0),  # no "@": the stored attribute stays
    (None, "GMAIL.COM ", -20.0),  # conditions ignore case and outer spaces
    (None, None, 0.0),
]


@pytest.mark.parametrize(("email", "stored", "expected"), EMAIL_CASES)
def test_email_domain_comes_from_the_address_when_it_has_one(
    email: str | None, stored: str | None, expected: float
) -> None:
    layout = SnapshotLayout.of(EXAMPLE)
    fields = {
        layout.field_column(name): [json.dumps(stored) if name == "email_domain" and stored else None]
        for name in layout.fields
    }
    snapshot = Snapshot.of(
        layout,
        pa.table({"lead_id": [], "type": [], "occurred_at": [], "p0": []}, schema=layout.activity_schema()),
        pa.table({"lead_id": [1], "email": [email], **fields}),
    )
    row = score_snapshot(snapshot, EXAMPLE, T).table.to_pylist()[0]
    assert row["attributes"] == expected
    assert row["as_of"] is None and row["behaviour"] == 0.0 and row["actions"] == []


@pytest.mark.parametrize("ids", [[3, 1, 2], [10**12, 5, -7]])  # dense ids use a lookup table, sparse ones a search
def test_the_batch_path_finds_each_activitys_lead_whatever_the_ids(ids: list[int]) -> None:
    pact = pact_with(rule(half_life_days=10))
    layout = SnapshotLayout.of(pact)
    snapshot = Snapshot.of(
        layout,
        pa.table(
            {
                "lead_id": [ids[0], ids[2], ids[2]],
                "type": ["download"] * 3,
                "occurred_at": [to_micros(ago(10)), to_micros(ago(10)), to_micros(T)],
            }
        ),
        pa.table({"lead_id": ids, "email": [None] * 3}),
    )
    table = score_snapshot(snapshot, pact, T).table
    assert table.column("lead_id").to_pylist() == ids
    assert table.column(raw_column("r")).to_pylist() == [10.0, 0.0, 15.0]
    assert table.column(matches_column("r")).to_pylist() == [1, 0, 2]
    with pytest.raises(ValueError, match="not in the snapshot"):
        score_snapshot(Snapshot.of(layout, snapshot.activities, snapshot.leads.slice(0, 2)), pact, T)


IN_CASES = [
    # options, actual value, holds (each case as `_equals` option by option reads it)
    (("gmail.com", "Yahoo.co.jp"), " YAHOO.CO.JP ", True),
    (("gmail.com",), "gmail.co", False),
    ((True,), "TRUE", True),
    ((True,), True, True),
    ((False,), True, False),
    ((100, 250), "1,00", True),  # read as the number 100
    ((100,), "100.0", True),
    ((100,), True, False),  # a boolean is not a number
    ((1,), "1.0x", False),
    (("100",), 100, True),  # a text option compares as text
    ((" 製造業 ",), "製造業", True),
]


@pytest.mark.parametrize(("options", "actual", "holds"), IN_CASES)
def test_in_reads_each_option_as_eq_does(options: tuple[object, ...], actual: object, holds: bool) -> None:
    condition = AttributeCondition.model_validate({"field": "x", "op": "in", "value": list(options)})
    assert condition_holds(condition, {"x": actual}) is holds  # type: ignore[dict-item]
    one_by_one = [AttributeCondition.model_validate({"field": "x", "op": "eq", "value": o}) for o in options]
    assert any(condition_holds(c, {"x": actual}) for c in one_by_one) is holds  # type: ignore[dict-item]


def test_a_short_half_life_over_a_long_span_keeps_each_leads_own_points() -> None:
    # Half a day against 1,000 days between the leads: a weight taken against the newest
    # activity of all would underflow to 0 for lead 2, so the engine folds per lead instead.
    pact = pact_with(rule(half_life_days=0.5, cap=None))
    layout = SnapshotLayout.of(pact)
    times = [T, ago(1000), ago(1000.5)]
    snapshot = Snapshot.of(
        layout,
        pa.table({"lead_id": [1, 2, 2], "type": ["download"] * 3, "occurred_at": [to_micros(t) for t in times]}),
        pa.table({"lead_id": [1, 2]}),
    )
    table = score_snapshot(snapshot, pact, T).table
    assert table.column(raw_column("r")).to_pylist() == [10.0, 15.0]  # at each lead's own as_of
    assert table.column("as_of").to_pylist() == [to_micros(T), to_micros(ago(1000))]
    assert table.column("total_at").to_pylist() == [10.0, 0.0]  # 15 × 2 ** -2000 at T


def test_a_state_record_reads_back_one_at_a_time_and_in_bulk() -> None:
    layout = StateLayout.of(EXAMPLE)
    state = ScoreState(
        as_of=T,
        raw={"pricing_page": 12.5, "unsubscribed": -30.0},
        matches={"pricing_page": 2, "unsubscribed": 1},
        actions=frozenset({"page_view", "unsubscribed"}),
    )
    record = layout.to_record(state)
    assert len(record) == layout.width
    assert layout.from_record(T, record) == state
    bulk = layout.decode([record, layout.to_record(ScoreState())])
    assert bulk.raw[0].tolist() == [state.raw.get(r, 0.0) for r in layout.rule_ids]
    assert bulk.matches[1].tolist() == [0] * layout.rules and not bulk.actions[1].any()
    assert layout.encode(bulk).tobytes() == record + layout.to_record(ScoreState())
    with pytest.raises(ValueError, match="another pact"):
        StateLayout.of(pact_with(rule())).from_record(T, record)


TRICKY_VALUES = st.sampled_from(
    [
        None,
        "",
        "  ",
        "gmail.com",
        " GMAIL.com ",
        "Straße",
        "STRASSE",
        "100",
        "1,200",
        " 99 ",
        "1e3",
        "x",
        100,
        99.5,
        0,
        True,
        False,
    ]
)
CONDITIONS = st.sampled_from(
    [
        {"op": "in", "value": ["gmail.com", "strasse", ""]},
        {"op": "in", "value": ["gmail.com", 100]},
        {"op": "in", "value": [True]},
        {"op": "eq", "value": "Gmail.com "},
        {"op": "eq", "value": ""},
        {"op": "eq", "value": 100},
        {"op": "gte", "value": 100},
        {"op": "lte", "value": 99.5},
        {"op": "contains", "value": "mail"},
        {"op": "regex", "value": "^1"},
        {"op": "exists", "value": True},
        {"op": "exists", "value": False},
    ]
)


@given(condition=CONDITIONS, values=st.lists(TRICKY_VALUES, max_size=12))
def test_judging_many_values_at_once_answers_as_judging_each(condition: dict[str, Any], values: list[Any]) -> None:
    parsed = AttributeCondition.model_validate({"field": "x", **condition})
    assert condition_verdicts(parsed, values) == [condition_holds(parsed, {"x": v}) for v in values]
