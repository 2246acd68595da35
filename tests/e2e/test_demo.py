"""The demo runs end to end through the real system, and what it builds obeys the pact.

Only structural facts are asserted, never golden numbers: they must hold for any seed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import leadpact.cli as cli
from leadpact.adapters.db.store import Store
from leadpact.bootstrap import App, bootstrap
from leadpact.cli.demo import register
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.domain.errors import DomainError
from leadpact.domain.ledger import EntryKind
from leadpact.services.demo import DemoSummary, run_demo

LEADS = 300
SEED = 7


def _app(path: Path) -> App:
    return bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=FixedClock(datetime(2026, 10, 1, tzinfo=UTC)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, DemoSummary]:
    app = _app(tmp_path_factory.mktemp("demo") / "demo.db")
    return app, run_demo(app.engine, leads=LEADS, seed=SEED)


def test_every_event_is_accepted_and_every_lead_is_created(demo: tuple[App, DemoSummary]) -> None:
    app, summary = demo
    assert summary.rejected == ()
    assert summary.leads == LEADS
    with Store(app.engine) as store:
        counts = store.leads.stage_counts()
        assert store.activities.count() == summary.activities > LEADS
    assert sum(summary.stage_counts.values()) == LEADS
    assert {k: v for k, v in summary.stage_counts.items() if v} == counts
    assert sum(row.leads for row in summary.sources) == LEADS


def test_every_mql_was_made_under_the_signed_pact_at_an_activity_with_a_score_of_80(
    demo: tuple[App, DemoSummary],
) -> None:
    app, summary = demo
    with Store(app.engine) as store:
        rows = store.ledger.transitions_into("mql")
        assert rows, "a few hundred leads always produce some MQLs"
        assert sum(row.mqls for row in summary.sources) == len({row.lead_id for row in rows})
        for row in rows:
            entry = dict(store.ledger.of_lead(row.lead_id))[row.seq]
            assert entry.kind is EntryKind.TRANSITION
            assert entry.pact_version == 1
            score = entry.evidence["score"]
            assert isinstance(score, dict)
            assert score["pact_version"] == 1
            assert score["total"] >= 80
            criteria = entry.evidence["criteria"]
            assert isinstance(criteria, list)
            assert all(condition["met"] for condition in criteria)
            occurred = {activity.occurred_at for activity in store.activities.of_lead(row.lead_id)}
            assert entry.at in occurred


def test_the_ledger_verifies_and_every_move_names_a_person_or_the_system(demo: tuple[App, DemoSummary]) -> None:
    app, summary = demo
    assert summary.ledger_intact
    with Store(app.engine) as store:
        checked, broken = store.ledger.verify()
        assert broken is None
        assert checked == summary.ledger_entries > 0
        for stage in ("recycled", "disqualified"):
            for row in store.ledger.transitions_into(stage):
                entry = dict(store.ledger.of_lead(row.lead_id))[row.seq]
                assert entry.reason, "recycling and disqualifying need a reason code from the pact"


def test_the_examples_are_told_by_their_own_ledger_entries(demo: tuple[App, DemoSummary]) -> None:
    _, summary = demo
    assert [e.role for e in summary.examples] == ["mql", "recycled", "won"][: len(summary.examples)]
    assert len({e.lead_id for e in summary.examples}) == len(summary.examples), "three different leads"
    for example in summary.examples:
        assert example.focus.to_stage == example.role
        assert (example.focus_seq, example.focus) in example.path
        assert example.path[0][1].to_stage == "mql"


def test_the_same_seed_builds_the_same_store(tmp_path: Path, demo: tuple[App, DemoSummary]) -> None:
    app, summary = demo
    other = _app(tmp_path / "again.db")
    again = run_demo(other.engine, leads=LEADS, seed=SEED)
    for stage in ("mql", "sql", "won", "recycled"):
        with Store(app.engine) as first, Store(other.engine) as second:
            assert [tuple(r) for r in first.ledger.transitions_into(stage)] == [
                tuple(r) for r in second.ledger.transitions_into(stage)
            ]
    assert again.stage_counts == summary.stage_counts
    assert again.sources == summary.sources
    assert again.activities == summary.activities
    assert again.events == summary.events
    assert [(e.email, e.focus_seq) for e in again.examples] == [(e.email, e.focus_seq) for e in summary.examples]


def test_the_demo_refuses_a_store_that_already_has_data(demo: tuple[App, DemoSummary]) -> None:
    app, _ = demo
    with pytest.raises(DomainError, match="empty store"):
        run_demo(app.engine, leads=10)


def test_the_command_prints_the_summary_as_json(tmp_path: Path) -> None:
    # a root of our own, so the test does not depend on where the CLI root registers the command
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = cli.Context(Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}"))

    register(root)
    result = CliRunner().invoke(root, ["demo", "--leads", "60", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["leads"] == 60
    assert sum(data["stages"].values()) == 60
    assert data["pact"]["version"] == 1
    assert len(data["pact"]["signed_by"]) == 3
    assert data["ledger"]["intact"] is True
