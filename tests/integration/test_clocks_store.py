"""Handoff clocks as ingest runs them on the migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from leadpact.bootstrap import App
from leadpact.domain.calendar import instant
from leadpact.domain.clocks import ClockRun, ClockState
from leadpact.domain.pact import ClockEvent
from leadpact.services.ingest import ingest
from tests.factories import event, lines, sign_example_pact
from tests.integration.test_ingest import JST, T1, marketing_events
from tests.query_plans import plan_of

MQL_AT = T1 + timedelta(hours=2)  # the pricing page view that met the MQL criteria (Monday 4/6 12:00)
OTHER = "hanako@example.co.jp"


def clocks(app: App, lead: str = "taro@example.co.jp") -> dict[str, ClockRun]:
    with app.store() as store:
        found = store.leads.find(lead)
        assert found is not None
        return {run.clock_id: run for run in store.clocks.of_lead(found.id)}


def test_ingest_starts_and_stops_the_handoff_clocks(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    handoff = clocks(app)["mql_handoff"]
    assert (handoff.started_at, handoff.due_at, handoff.pact_version) == (MQL_AT, MQL_AT + timedelta(hours=24), 1)
    assert handoff.is_running and handoff.state_at(MQL_AT + timedelta(hours=25)) is ClockState.BREACHED

    # Assigned 2 hours later: the handoff is met; inside sales' 3 business days start (Mon 4/6:
    # due at the end of Thursday 4/9). The contact a minute before that is in time.
    assign = event("assignment", T1 + timedelta(hours=4), id="s1", to="田中")
    contact = event("contact_logged", datetime(2026, 4, 9, 23, 59, tzinfo=JST), id="c1", by="田中", channel="phone")
    ingest(app.engine, app.clock, lines([assign, contact]))
    found = clocks(app)
    assert found["mql_handoff"].stopped_by is ClockEvent.ASSIGNED
    assert found["mql_handoff"].state_at(T1 + timedelta(days=30)) is ClockState.MET
    first = found["is_first_contact"]
    assert first.due_at == datetime(2026, 4, 10, tzinfo=JST) and first.responsible == "inside_sales"
    assert first.stopped_at == datetime(2026, 4, 9, 23, 59, tzinfo=JST)
    assert first.state_at(T1 + timedelta(days=30)) is ClockState.MET

    # Running the same events again changes nothing.
    ingest(app.engine, app.clock, lines([*marketing_events(), assign, contact]))
    assert clocks(app) == found


def test_a_backfilled_start_stops_at_the_stop_it_missed(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    # The contact (Friday 4/10 09:00) arrives before the assignment it followed (Monday 4/6 18:00).
    contact = event("contact_logged", datetime(2026, 4, 10, 9, tzinfo=JST), id="c1", by="田中", channel="phone")
    ingest(app.engine, app.clock, lines([contact]))
    ingest(app.engine, app.clock, lines([event("assignment", T1 + timedelta(hours=8), id="s1", to="田中")]))
    first = clocks(app)["is_first_contact"]
    assert first.started_at == T1 + timedelta(hours=8)
    assert first.stopped_at == datetime(2026, 4, 10, 9, tzinfo=JST)
    assert first.state_at(T1 + timedelta(days=30)) is ClockState.MET_LATE  # due at the end of Thursday 4/9


def test_clocks_belong_to_their_lead(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    ingest(app.engine, app.clock, lines([event("lead_upsert", T1, lead=OTHER, id="u2", attributes={})]))
    assert clocks(app, OTHER) == {}
    assert list(clocks(app)) == ["mql_handoff"]


def test_open_clocks_read_as_columns_exactly_and_filtered(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))  # taro: mql_handoff running
    assignment = event("assignment", T1 + timedelta(hours=4), id="s1", to="田中")
    ingest(app.engine, app.clock, lines([assignment]))  # stops mql_handoff, starts is_first_contact
    ingest(app.engine, app.clock, lines([event("lead_upsert", T1, lead=OTHER, id="u2", attributes={})]))
    with app.store() as store:
        other = store.leads.find(OTHER)
        assert other is not None
        # A share with 17 significant digits and an instant to the microsecond come back unchanged.
        start = datetime(2026, 4, 7, 9, 30, 15, 123_457, tzinfo=JST)
        extra = ClockRun(other.id, "custom", 1, start, start + timedelta(hours=5), "field_sales", (), 0.1 + 0.2)
        store.clocks.start([extra])
        store.commit()
    with app.store() as store:
        # (1, 0.25) is the example pact's share; the extra clock's is found by the read itself.
        columns = store.clocks.open_columns([(1, 0.25), (1, 0.5)])
        unexpected = store.clocks.open_columns()
        assert columns.id.tolist() == unexpected.id.tolist()
        assert columns.due_soon.tolist() == unexpected.due_soon.tolist()
        assert columns.shares.tolist() == [0.25, 0.5, 0.30000000000000004]
        runs = {r.clock_id: r for r in store.clocks.running([1, 2])}
        assert runs.keys() == {"is_first_contact", "custom"}
        assert sorted(columns.id.tolist()) == sorted(r.id for r in runs.values() if r.id is not None)
        by_id = {r.id: r for r in runs.values()}
        for i, clock_id in enumerate(columns.id.tolist()):
            run = by_id[clock_id]
            assert columns.started_at[i] == instant(run.started_at) and columns.due_at[i] == instant(run.due_at)
            assert columns.due_soon[i] == run.due_soon and columns.pact_version[i] == run.pact_version
        custom = columns.id.tolist().index(runs["custom"].id)
        assert columns.due_soon[custom] == 0.30000000000000004
        assert columns.started_at[custom] == np.datetime64("2026-04-07T00:30:15.123457", "us")

        def ids(**filters: str) -> list[int]:
            return store.clocks.open_columns(**filters).id.tolist()

        assert ids(department="field_sales") == [runs["custom"].id]
        assert ids(owner="田中") == [runs["is_first_contact"].id]
        assert ids(owner="鈴木") == [] and ids(department="field_sales", owner="田中") == []
        assert [h.run.clock_id for h in store.clocks.held([runs["custom"].id, 999, runs["is_first_contact"].id])] == [
            "custom",
            "is_first_contact",
        ]


def test_no_open_clocks_read_as_empty_columns(app: App) -> None:
    with app.store() as store:
        columns = store.clocks.open_columns()
    assert len(columns) == 0 and columns.due_at.dtype == np.dtype("datetime64[us]")


def test_the_newest_running_clock_is_found_among_running_clocks_only(app: App) -> None:
    """Every sweep asks for it (a sweep's `--now` must not be before it); in the table's own order
    SQLite walked every clock ever stopped to reach it."""
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))  # the MQL handoff clock runs

    def newest() -> None:
        with app.store() as store:
            found = store.clocks.newest_open()
            assert found is not None and found.clock_id == "mql_handoff"

    plan = plan_of(app.engine, "clocks", newest, having="LIMIT")
    assert "ix_clocks_open" in plan, plan


@pytest.mark.parametrize(("which", "index"), [("IS NULL", "ix_clocks_open"), ("> due_at", "ix_clocks_stopped_late")])
def test_a_sweep_finds_late_clocks_through_indexes_not_every_clock_ever_run(app: App, which: str, index: str) -> None:
    """Running clocks past due, and clocks stopped late not yet recorded: asked in one statement
    with an OR, both engines read every clock ever run, at every sweep."""

    def late() -> None:
        with app.store() as store:
            store.clocks.late(app.clock.now())

    plan = plan_of(app.engine, "clocks", late, having=which)
    assert index in plan, plan
