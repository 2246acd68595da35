"""The neglected-lead sweep on the migrated store (SQLite and PostgreSQL): each breach once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from leadpact.bootstrap import App
from leadpact.domain.clocks import ClockState
from leadpact.domain.errors import DomainError
from leadpact.services.ingest import ingest
from leadpact.services.sla import board, sweep
from tests.factories import event, lines, sign_example_pact
from tests.integration.test_ingest import JST, T1, marketing_events

ASSIGNED = T1 + timedelta(hours=4)  # Monday 4/6 14:00; first contact due at the end of Thursday 4/9
LATE = datetime(2026, 4, 13, 12, tzinfo=JST)  # the next Monday noon: 2 business days late (Fri 4/10, Mon 4/13)


def neglected(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    ingest(app.engine, app.clock, lines([event("assignment", ASSIGNED, id="s1", to="田中")]))


def test_a_sweep_records_each_breach_once_and_the_board_explains_it(app: App) -> None:
    neglected(app)
    first = sweep(app.engine, LATE)
    assert [(n.held.run.clock_id, n.held.owner, n.business_days_late) for n in first.new] == [
        ("is_first_contact", "田中", 2)
    ]
    (found,) = first.new
    assert found.state is ClockState.BREACHED and found.held.owner_department == "inside_sales"
    # The lead reached inside sales at the start: no routing delay. Business time: Mon 4/6
    # 14:00–24:00, Tue–Thu, Fri, Mon 00:00–12:00 = 10 + 72 + 24 + 12 hours.
    assert found.split.routing == timedelta() and found.split.own == timedelta(hours=118)
    assert found.split.elapsed == LATE - ASSIGNED
    again = sweep(app.engine, LATE + timedelta(hours=1))
    assert again.new == [] and again.known == 1

    (row,) = board(app.engine, LATE, states=[ClockState.BREACHED]).items
    assert row.recorded_at == LATE and row.label == "ISの初回接触(3営業日以内)"
    assert (row.state, row.business_days_late) == (ClockState.BREACHED, 2)
    assert board(app.engine, LATE, states=[ClockState.BREACHED], department="field_sales").total == 0
    assert board(app.engine, LATE, states=[ClockState.BREACHED], owner="鈴木").total == 0
    assert board(app.engine, LATE, states=[ClockState.BREACHED], owner="田中").total == 1


def test_a_clock_met_late_is_recorded_by_the_next_sweep(app: App) -> None:
    neglected(app)
    contact = event("contact_logged", datetime(2026, 4, 10, 9, tzinfo=JST), id="c1", by="田中", channel="phone")
    ingest(app.engine, app.clock, lines([contact]))
    (found,) = sweep(app.engine, LATE).new
    assert found.state is ClockState.MET_LATE and found.business_days_late == 1
    assert board(app.engine, LATE).items == []  # no longer running: off the board


def test_due_soon_and_a_now_before_the_clocks(app: App) -> None:
    neglected(app)
    report = sweep(app.engine, datetime(2026, 4, 9, 12, tzinfo=JST))  # 12 h left of 82: due soon
    assert report.new == [] and report.due_soon == 1 and report.running == 1
    with pytest.raises(DomainError, match="is before clock is_first_contact of lead 1 started"):
        sweep(app.engine, T1)


# Two processes sweeping at once: tests/integration/test_escalation.py, where they notify as well.
