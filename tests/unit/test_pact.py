"""The pact document: the shipped example validates; each kind of mistake is located."""

from __future__ import annotations

import pytest

from leadpact.adapters.pact_yaml import PactInvalid, parse_pact
from leadpact.domain.pact import Deadline, DeadlineUnit, Role
from tests.factories import example_document, example_text


def test_the_example_pact_encodes_the_seed_agreement() -> None:
    pact = example_document().pact
    assert pact.mql.score_threshold == 80
    assert set(pact.mql.required_actions) == {"document_download", "seminar_attended"}
    assert pact.sql.bant_min == 2
    assert set(pact.sql.required_actions) == {"consultation_request", "quote_request"}
    assert pact.sql.required_facts == ("decision_maker_access",)
    deadlines = {c.id: (c.deadline.amount, c.deadline.unit) for c in pact.clocks}
    assert deadlines == {
        "mql_handoff": (24, DeadlineUnit.HOURS),
        "is_first_contact": (3, DeadlineUnit.BUSINESS_DAYS),
        "fs_meeting": (5, DeadlineUnit.BUSINESS_DAYS),
    }
    assert pact.review_cycle.value == "quarterly"
    assert pact.calendar.timezone == "Asia/Tokyo" and pact.calendar.holidays == "JP"
    assert pact.departments_with(Role.INSIDE_SALES) == ("inside_sales",)


def problems(*replacements: tuple[str, str]) -> list[tuple[int, str, str]]:
    with pytest.raises(PactInvalid) as caught:
        parse_pact(example_text(*replacements), "pact.yaml")
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def line_of(fragment: str, *replacements: tuple[str, str]) -> int:
    text = example_text(*replacements)
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    ("replacement", "path", "message"),
    [
        (("score_threshold: 80", "score_threshold: -5"), "mql.score_threshold", "greater than or equal to 0"),
        (("timezone: Asia/Tokyo", "timezone: Asia/Tokio"), "calendar.timezone", "unknown time zone 'Asia/Tokio'"),
        (("holidays: JP", "holidays: XX"), "calendar.holidays", "unknown holiday country code 'XX'"),
        (("deadline: 24 hours", "deadline: 0 hours"), "clocks[0].deadline", "must be more than zero"),
        (("deadline: 24 hours", "deadline: soon"), "clocks[0].deadline", "must read like"),
        (
            ("stop: [assigned, entered_recycled, entered_disqualified]", "stop: lunch"),
            "clocks[0].stop",
            "Input should be",
        ),
        (("bant_min: 2", "bant_min: 5"), "sql.bant_min", "less than or equal to 4"),
        (("review_cycle: quarterly", "review_cycle: quarterly\nmood: good"), "mood", "unknown field"),
        (("      points: 20\n", "      points: twenty\n"), "scoring.behaviour[0].points", "valid number"),
    ],
)
def test_a_schema_mistake_is_reported_at_its_line_and_path(
    replacement: tuple[str, str], path: str, message: str
) -> None:
    found = problems(replacement)
    assert len(found) == 1, found
    line, found_path, found_message = found[0]
    assert found_path == path
    assert message in found_message
    changed = next(part for part in reversed(replacement[1].split("\n")) if part.strip())
    assert line == line_of(changed, replacement)


def test_a_criterion_naming_an_undefined_activity_points_at_it() -> None:
    found = problems(("    - seminar_attended\n  attributes", "    - webinar_watched\n  attributes"))
    assert found == [
        (
            line_of(
                "    - webinar_watched", ("    - seminar_attended\n  attributes", "    - webinar_watched\n  attributes")
            ),
            "mql.required_actions[1]",
            "activity type 'webinar_watched' is not defined by any behaviour rule (defined: consultation_request, "
            "document_download, email_click, page_view, quote_request, seminar_attended, unsubscribed)",
        )
    ]


def test_every_cross_reference_problem_is_reported_at_once() -> None:
    found = problems(
        ("approvers: [marketing, inside_sales, field_sales]", "approvers: [marketing, sales]"),
        ("  responsible: field_sales", "  responsible: sales_team"),
        ("{code: bad_timing,", "{code: no_budget,"),
    )
    assert [(path, message) for _, path, message in found] == [
        ("approvers[1]", "unknown department 'sales' (defined: field_sales, inside_sales, marketing)"),
        ("sql.responsible", "unknown department 'sales_team' (defined: field_sales, inside_sales, marketing)"),
        ("reason_codes.recycle[1].code", "reason code 'no_budget' is used twice"),
    ]


def test_yaml_syntax_errors_name_line_and_column() -> None:
    with pytest.raises(PactInvalid) as caught:
        parse_pact("name: x\ndepartments: [a, b\napprovers: []\n", "broken.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("broken.yaml", 3)
    assert problem.message.startswith("YAML syntax:")


def test_a_duplicate_key_is_a_syntax_error() -> None:
    with pytest.raises(PactInvalid) as caught:
        parse_pact(example_text(("review_cycle: quarterly", "review_cycle: quarterly\nreview_cycle: monthly")))
    assert "duplicate" in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("24 hours", 24, DeadlineUnit.HOURS),
        ("1 hour", 1, DeadlineUnit.HOURS),
        ("3 business days", 3, DeadlineUnit.BUSINESS_DAYS),
        ("1 business day", 1, DeadlineUnit.BUSINESS_DAYS),
        ("0.5 hours", 0.5, DeadlineUnit.HOURS),
    ],
)
def test_deadlines_read_as_people_write_them(text: str, amount: float, unit: DeadlineUnit) -> None:
    deadline = Deadline.model_validate(text)
    assert (deadline.amount, deadline.unit) == (amount, unit)


def test_a_cap_on_a_negative_rule_is_refused() -> None:
    found = problems(("      points: -30\n", "      points: -30\n      cap: 10\n"))
    assert found[0][1] == "scoring.behaviour[7]"
    assert "positive points" in found[0][2]


def test_a_share_target_above_one_is_refused() -> None:
    found = problems(("target: 0.3,", "target: 30,"))
    assert found[0][1:] == ("kpi_targets[1].target", "mql_to_sql_rate is a share: write 0.3 for 30 %")
