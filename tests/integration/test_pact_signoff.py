"""Pact versions and sign-off on the migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadpact.bootstrap import App
from leadpact.domain.clock import FixedClock
from leadpact.domain.errors import ApprovalRefused, DomainError, NotFound
from leadpact.services import pacts, users
from tests.factories import example_document, sign_example_pact


@pytest.fixture
def people(app: App) -> None:
    for name, department in (("佐藤", "marketing"), ("田中", "inside_sales"), ("鈴木", "field_sales")):
        users.add_user(app.store(), app.clock, name, department)


def test_a_version_becomes_active_when_every_approving_department_signed(
    app: App, people: None, clock: FixedClock
) -> None:
    proposed = pacts.propose_pact(app.store(), clock, example_document(), "佐藤")
    assert (proposed.version, proposed.status) == (1, "draft")
    assert len(proposed.content_hash) == 64
    clock.advance(timedelta(days=1))
    first = pacts.approve_pact(app.store(), clock, 1, "佐藤")
    assert (first.activated, first.waiting_for) == (False, ("inside_sales", "field_sales"))
    pacts.approve_pact(app.store(), clock, 1, "田中")
    clock.advance(timedelta(days=1))
    last = pacts.approve_pact(app.store(), clock, 1, "鈴木")
    assert last.activated and last.waiting_for == ()
    active = pacts.get_pact(app.store())
    assert (active.version, active.status, active.activated_at) == (1, "active", clock.now())
    history = pacts.pact_history(app.store())
    assert [(a.user, a.department) for a in history[0].approvals] == [
        ("佐藤", "marketing"),
        ("田中", "inside_sales"),
        ("鈴木", "field_sales"),
    ]


def test_a_second_approval_by_the_same_department_is_refused(app: App, people: None, clock: FixedClock) -> None:
    users.add_user(app.store(), clock, "高橋", "marketing")
    pacts.propose_pact(app.store(), clock, example_document(), "佐藤")
    pacts.approve_pact(app.store(), clock, 1, "佐藤")
    with pytest.raises(ApprovalRefused, match="marketing already approved v1 \\(佐藤"):
        pacts.approve_pact(app.store(), clock, 1, "高橋")


def test_a_user_of_a_non_approving_department_cannot_approve(app: App, people: None, clock: FixedClock) -> None:
    document = example_document(
        ("approvers: [marketing, inside_sales, field_sales]", "approvers: [marketing, field_sales]")
    )
    pacts.propose_pact(app.store(), clock, document, "佐藤")
    with pytest.raises(ApprovalRefused, match="inside_sales, which is not an approving department of v1"):
        pacts.approve_pact(app.store(), clock, 1, "田中")


def test_unknown_version_user_and_identical_proposal_are_refused(app: App, people: None, clock: FixedClock) -> None:
    with pytest.raises(NotFound, match="unknown pact version 7 \\(no versions yet"):
        pacts.approve_pact(app.store(), clock, 7, "佐藤")
    with pytest.raises(NotFound, match="unknown user '山田'"):
        pacts.propose_pact(app.store(), clock, example_document(), "山田")
    pacts.propose_pact(app.store(), clock, example_document(), "佐藤")
    with pytest.raises(DomainError, match="identical to pact v1"):
        pacts.propose_pact(app.store(), clock, example_document(), "田中")


def test_a_new_version_supersedes_the_old_one_and_an_older_draft_cannot_win(app: App, clock: FixedClock) -> None:
    sign_example_pact(app)
    lower = example_document(("score_threshold: 80", "score_threshold: 70"))
    higher = example_document(("score_threshold: 80", "score_threshold: 90"))
    pacts.propose_pact(app.store(), clock, lower, "佐藤")  # v2, never approved
    v3 = sign_example_pact(app, higher)
    assert v3 == 3
    statuses = [(h.version.version, h.version.status) for h in pacts.pact_history(app.store())]
    assert statuses == [(1, "superseded"), (2, "draft"), (3, "active")]
    with pytest.raises(ApprovalRefused, match="older than the active v3"):
        pacts.approve_pact(app.store(), clock, 2, "佐藤")


def test_a_user_needs_a_department_the_pact_knows(app: App, clock: FixedClock) -> None:
    sign_example_pact(app)
    with pytest.raises(DomainError, match="unknown department 'sales'; pact v1 defines: marketing, inside_sales"):
        users.add_user(app.store(), clock, "伊藤", "sales")
