"""Handoff clocks as ingest runs them on the migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from leadpact.bootstrap import App
from leadpact.domain.clocks import ClockRun, ClockState
from leadpact.domain.pact import ClockEvent
from leadpact.services.ingest import ingest
from tests.factories import event, lines, sign_example_pact
from tests.integration.test_ingest import JST, T1, marketing_events

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
