"""`pact diff` speaks in business terms."""

from __future__ import annotations

from leadpact.domain.agreement import agreement_rows
from leadpact.domain.pact_diff import pact_changes
from tests.factories import example_document

SEMINAR_RULE = """    - id: seminar_attended
      label: セミナー参加
      activity: seminar_attended
      points: 30
      cap: 60
      half_life_days: 120
"""


def test_threshold_rule_and_deadline_changes_read_as_sentences() -> None:
    old = example_document().pact
    new = example_document(
        ("score_threshold: 80", "score_threshold: 70"),
        (SEMINAR_RULE, ""),
        ("    - seminar_attended\n  attributes", "  attributes"),
        ("deadline: 3 business days", "deadline: 2 business days"),
        ("review_cycle: quarterly", "review_cycle: monthly"),
    ).pact
    changes = pact_changes(old, new)
    assert "MQL threshold 80 → 70" in changes
    assert "MQL required actions [document_download, seminar_attended] → [document_download]" in changes
    assert "- rule: セミナー参加 30 pts per seminar_attended, cap 60, half-life 120 days" in changes
    assert any(c.startswith("~ clock is_first_contact:") and "2 business days" in c for c in changes)
    assert "review cycle quarterly → monthly" in changes
    assert len(changes) == 5


def test_an_added_rule_is_a_plus_line() -> None:
    old = example_document((SEMINAR_RULE, ""), ("    - seminar_attended\n  attributes", "  attributes")).pact
    new = example_document().pact
    assert "+ rule: セミナー参加 30 pts per seminar_attended, cap 60, half-life 120 days" in pact_changes(old, new)


def test_identical_pacts_have_no_changes() -> None:
    assert pact_changes(example_document().pact, example_document().pact) == []


def test_the_agreement_table_has_the_seven_seed_items() -> None:
    rows = agreement_rows(example_document().pact, "ja")
    assert [r.item for r in rows] == [
        "スコア閾値",
        "必須行動",
        "属性条件",
        "引き渡しタイミング",
        "フォロー期限",
        "見直しサイクル",
        "責任部門",
    ]
    assert rows[0].mql == "score ≥ 80" and rows[0].sql == "BANT ≥ 2 / 4"
    assert rows[1].mql == "資料ダウンロード, セミナー参加" and rows[1].sql == "個別相談申込, 見積依頼"
    assert "24 hours" in rows[3].mql and "3 business days" in rows[4].mql and "5 business days" in rows[4].sql
    assert rows[6].mql == "マーケティング部" and rows[6].sql == "営業部"
    english = agreement_rows(example_document().pact, "en")
    assert english[0].item == "Score threshold" and english[6].sql == "Field sales"


def test_a_changed_mql_attribute_condition_reads_as_a_condition() -> None:
    old = example_document().pact
    new = example_document(("{field: employees, op: gte, value: 50}", "{field: employees, op: gte, value: 100}")).pact
    assert pact_changes(old, new) == [
        "MQL attributes [industry ∈ 製造業 / 情報通信業 / 卸売業, employees ≥ 50] → "
        "[industry ∈ 製造業 / 情報通信業 / 卸売業, employees ≥ 100]"
    ]
