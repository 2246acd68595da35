"""Scores computed by hand: decay, caps, negative points, attribute operators, MQL criteria."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadpact.domain.pact import AttributeCondition, Operator, Pact
from leadpact.domain.qualification import Bant, check_mql, check_sql
from leadpact.domain.scoring import Activity, ScoreState, condition_holds, score_activities
from tests.factories import example_document

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
PACT: Pact = example_document().pact


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def points(activities: list[Activity], at: datetime, attributes: dict[str, object] | None = None) -> dict[str, float]:
    breakdown = score_activities(PACT, 1, activities, attributes or {}, at)  # type: ignore[arg-type]
    return {r.rule_id: round(r.points, 9) for r in breakdown.rules if r.points}


def test_a_download_loses_half_its_points_per_half_life() -> None:
    # document_download: 20 pts, half-life 90 days; 90 days later 10, 180 days later 5.
    download = [Activity("document_download", T0)]
    assert points(download, days(0)) == {"document_download": 20.0}
    assert points(download, days(90)) == {"document_download": 10.0}
    assert points(download, days(180)) == {"document_download": 5.0}


def test_a_cap_limits_the_decayed_sum_of_one_rule() -> None:
    # four downloads on day 0 = 80 raw, capped at 60; after 90 days raw 40 < cap.
    downloads = [Activity("document_download", T0) for _ in range(4)]
    assert points(downloads, days(0)) == {"document_download": 60.0}
    assert points(downloads, days(90)) == {"document_download": 40.0}


def test_negative_points_subtract_and_do_not_decay_without_a_half_life() -> None:
    acts = [Activity("seminar_attended", T0), Activity("unsubscribed", days(1))]
    # seminar 30 pts, half-life 120 days: after 120 days 15; unsubscribed -30 stays.
    assert points(acts, days(120)) == {"seminar_attended": 15.0, "unsubscribed": -30.0}


def test_a_url_glob_decides_which_page_views_count_as_pricing() -> None:
    acts = [
        Activity("page_view", T0, {"url": "https://example.jp/pricing"}),
        Activity("page_view", T0, {"url": "https://example.jp/pricing/enterprise"}),
        Activity("page_view", T0, {"url": "https://example.jp/blog/pricing-tips"}),
        Activity("page_view", T0, {"url": "https://example.jp/about"}),
    ]
    # */pricing* matches all but /about: 3 × 10; every page view: 4 × 2.
    assert points(acts, T0) == {"pricing_page": 30.0, "page_view": 8.0}


def test_activities_after_the_scoring_time_do_not_count() -> None:
    acts = [Activity("document_download", T0), Activity("seminar_attended", days(10))]
    assert points(acts, days(5)) == {"document_download": round(20 * 0.5 ** (5 / 90), 9)}


def test_attribute_rules_add_fit_points_including_negative_ones() -> None:
    attributes = {"industry": "製造業", "employees": "1,200", "title": "営業部長", "email_domain": "gmail.com"}
    # target industry 15 + size 10 + title 10 + free mail -20 = 15
    assert points([], T0, attributes) == {
        "target_industry": 15.0,
        "mid_size_or_larger": 10.0,
        "manager_title": 10.0,
        "free_mail": -20.0,
    }


@pytest.mark.parametrize(
    ("op", "value", "actual", "holds"),
    [
        (Operator.EQ, "IT", "it", True),
        (Operator.EQ, "IT", " IT ", True),
        (Operator.EQ, 100, "100", True),
        (Operator.EQ, 100, "100人", False),
        (Operator.EQ, True, True, True),
        (Operator.EQ, True, "true", True),
        (Operator.EQ, True, False, False),
        (Operator.IN, ("製造業", "卸売業"), "卸売業", True),
        (Operator.IN, ("製造業", "卸売業"), "小売業", False),
        (Operator.GTE, 100, 100, True),
        (Operator.GTE, 100, "99", False),
        (Operator.GTE, 100, "多数", False),
        (Operator.LTE, 50, 10.5, True),
        (Operator.CONTAINS, "部長", "第二営業部長", True),
        (Operator.CONTAINS, "manager", "Sales Manager", True),
        (Operator.REGEX, "^(CEO|CTO)$", "CTO", True),
        (Operator.REGEX, "^(CEO|CTO)$", "CTO補佐", False),
        (Operator.EXISTS, None, "x", True),
        (Operator.EXISTS, None, "  ", False),
        (Operator.EXISTS, None, None, False),
        (Operator.EXISTS, False, None, True),
        (Operator.EQ, "IT", None, False),
    ],
)
def test_attribute_operators(op: Operator, value: object, actual: object, holds: bool) -> None:
    condition = AttributeCondition(field="f", op=op, value=value)  # type: ignore[arg-type]
    assert condition_holds(condition, {"f": actual}) is holds  # type: ignore[dict-item]


def test_folding_out_of_order_equals_folding_in_order() -> None:
    acts = [
        Activity("document_download", days(3)),
        Activity("page_view", days(1), {"url": "/pricing"}),
        Activity("seminar_attended", days(2)),
    ]
    ordered = ScoreState().fold_all(PACT, sorted(acts, key=lambda a: a.at))
    shuffled = ScoreState().fold_all(PACT, acts)
    assert ordered.as_of == shuffled.as_of == days(3)
    assert ordered.raw.keys() == shuffled.raw.keys()
    for rule_id, value in ordered.raw.items():
        assert shuffled.raw[rule_id] == pytest.approx(value, rel=1e-12)


MQL_ATTRIBUTES = {"industry": "製造業", "employees": 300}


@pytest.mark.parametrize(
    ("score", "actions", "attributes", "holds"),
    [
        (80, {"document_download"}, MQL_ATTRIBUTES, True),
        (79.99, {"document_download"}, MQL_ATTRIBUTES, False),
        (95, {"page_view"}, MQL_ATTRIBUTES, False),
        (95, {"seminar_attended"}, {"industry": "小売業", "employees": 300}, False),
        (95, {"seminar_attended"}, {"industry": "製造業", "employees": 20}, False),
        (95, {"seminar_attended"}, {"industry": "製造業"}, False),
    ],
)
def test_mql_criteria(score: float, actions: set[str], attributes: dict[str, object], holds: bool) -> None:
    check = check_mql(PACT.mql, score=score, actions=frozenset(actions), attributes=attributes)  # type: ignore[arg-type]
    assert check.holds is holds
    assert len(check.conditions) == 4


@pytest.mark.parametrize(
    ("confirmed", "facts", "actions", "holds"),
    [
        ({"budget", "need"}, {"decision_maker_access": True}, {"quote_request"}, True),
        ({"budget"}, {"decision_maker_access": True}, {"quote_request"}, False),
        ({"budget", "need"}, {"decision_maker_access": False}, {"quote_request"}, False),
        ({"budget", "need"}, {}, {"consultation_request"}, False),
        ({"budget", "need", "timeline"}, {"decision_maker_access": True}, {"page_view"}, False),
    ],
)
def test_sql_criteria(confirmed: set[str], facts: dict[str, bool], actions: set[str], holds: bool) -> None:
    from leadpact.domain.pact import BantItem

    bant = Bant(confirmed=frozenset(BantItem(c) for c in confirmed), facts=facts)
    assert check_sql(PACT.sql, bant=bant, actions=frozenset(actions)).holds is holds


def test_fold_all_is_the_same_arithmetic_as_folding_one_by_one() -> None:
    acts = [
        Activity("page_view", days(3), {"url": "/pricing"}),
        Activity("document_download", days(1)),
        Activity("email_open", days(2)),
        Activity("seminar_attended", days(5)),
        Activity("page_view", days(4), {"url": "/blog"}),
        Activity("unsubscribed", days(6)),
    ]
    one_by_one = ScoreState()
    for activity in acts:
        one_by_one = one_by_one.fold(PACT, activity)
    assert ScoreState().fold_all(PACT, acts) == one_by_one
