"""The allowed-transitions table, who may make each move, and reason codes."""

from __future__ import annotations

import pytest

from leadpact.domain.errors import InvalidTransition
from leadpact.domain.lifecycle import ALLOWED, CATEGORY, Actor, Category, Stage, allowed_from, plan_move
from tests.factories import example_document

PACT = example_document().pact
MARKETING = Actor("佐藤", "marketing")
IS = Actor("田中", "inside_sales")
FS = Actor("鈴木", "field_sales")


@pytest.mark.parametrize(
    ("frm", "to", "actor", "reason"),
    [
        (Stage.LEAD, Stage.MQL, MARKETING, None),
        (Stage.MQL, Stage.SAL, IS, None),
        (Stage.MQL, Stage.RECYCLED, IS, "no_budget"),
        (Stage.MQL, Stage.RECYCLED, MARKETING, "bad_timing"),
        (Stage.SAL, Stage.SQL, IS, None),
        (Stage.SAL, Stage.DISQUALIFIED, IS, "competitor"),
        (Stage.SQL, Stage.OPPORTUNITY, FS, None),
        (Stage.SQL, Stage.RECYCLED, FS, "no_budget"),
        (Stage.OPPORTUNITY, Stage.WON, FS, None),
        (Stage.OPPORTUNITY, Stage.LOST, FS, None),
        (Stage.LOST, Stage.RECYCLED, MARKETING, "bad_timing"),
        (Stage.RECYCLED, Stage.MQL, MARKETING, None),
    ],
)
def test_allowed_moves_by_the_owning_department(frm: Stage, to: Stage, actor: Actor, reason: str | None) -> None:
    assert plan_move(PACT, frm, to, actor=actor, reason=reason).to_stage is to


@pytest.mark.parametrize(
    ("frm", "to", "actor", "message"),
    [
        (
            Stage.LEAD,
            Stage.WON,
            FS,
            "a lead cannot move from lead to won; from lead it may go to: mql, sql, disqualified",
        ),
        (Stage.WON, Stage.LOST, FS, "from won it may go to: none (final stage)"),
        (
            Stage.MQL,
            Stage.SAL,
            MARKETING,
            "佐藤 (marketing) may not move a lead from mql to sal; that move belongs to: inside_sales",
        ),
        (Stage.SQL, Stage.OPPORTUNITY, IS, "that move belongs to: field_sales"),
        (Stage.OPPORTUNITY, Stage.WON, MARKETING, "that move belongs to: field_sales"),
    ],
)
def test_refused_moves_say_what_is_allowed(frm: Stage, to: Stage, actor: Actor, message: str) -> None:
    with pytest.raises(InvalidTransition, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_move(PACT, frm, to, actor=actor)


def test_recycling_needs_a_reason_code_from_the_pact() -> None:
    with pytest.raises(InvalidTransition, match="needs a recycle reason code: no_budget, bad_timing"):
        plan_move(PACT, Stage.MQL, Stage.RECYCLED, actor=IS)
    with pytest.raises(InvalidTransition, match="unknown disqualify reason code 'no_budget'"):
        plan_move(PACT, Stage.MQL, Stage.DISQUALIFIED, actor=IS, reason="no_budget")


def test_the_system_may_make_moves_for_the_owning_department() -> None:
    system = Actor("system", "marketing", is_system=True)
    assert plan_move(PACT, Stage.SQL, Stage.OPPORTUNITY, actor=system).to_stage is Stage.OPPORTUNITY


def test_every_stage_has_a_category_and_only_won_and_lost_ones_end() -> None:
    assert set(CATEGORY) == set(Stage)
    assert {s for s, c in CATEGORY.items() if c is Category.WON} == {Stage.WON}
    assert allowed_from(Stage.WON) == ()
    assert allowed_from(Stage.DISQUALIFIED) == ()
    assert all(m.reason for (frm, to), m in ALLOWED.items() if to in (Stage.RECYCLED, Stage.DISQUALIFIED))
