"""Routing and manual assignment on the migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.engine import make_engine
from leadpact.adapters.db.store import StaleLeads
from leadpact.adapters.events import read_lines
from leadpact.bootstrap import App
from leadpact.domain.clocks import ClockState
from leadpact.domain.errors import DomainError
from leadpact.domain.ledger import EntryKind
from leadpact.domain.routing import Held
from leadpact.services import users
from leadpact.services.ingest import ingest
from leadpact.services.routing import assign_lead, route, set_active
from tests.factories import example_document, qualifying_leads_file, sign_example_pact
from tests.integration.test_ingest import JST
from tests.query_plans import plan_of

START = datetime(2026, 4, 6, 9, 0, tzinfo=JST)  # Monday; each lead is an MQL by 12:00
NOON = datetime(2026, 4, 6, 12, 30, tzinfo=JST)


def mqls(app: App, tmp_path: Path, leads: int, capacity: int = 15, reps: tuple[str, ...] = ("山田",)) -> None:
    """The example pact with this daily capacity, IS reps 田中 plus `reps`, and `leads` waiting MQLs."""
    document = example_document(("capacity_per_day: 15", f"capacity_per_day: {capacity}"))
    sign_example_pact(app, document)
    for name in reps:
        users.add_user(app.store(), app.clock, name, "inside_sales")
    path = tmp_path / "mqls.jsonl"
    qualifying_leads_file(path, leads, START)
    with path.open("rb") as stream:
        ingest(app.engine, app.clock, read_lines(stream))


def assignments(app: App) -> list[tuple[int, str | None, str, dict[str, object]]]:
    with app.store() as store:
        entries = store.ledger.entries_of(range(1, 500), kind=EntryKind.ASSIGNMENT)
    return [(e.lead_id, e.owner, e.actor, e.evidence) for e in entries]


def test_a_routed_mql_is_a_ledger_entry_that_stops_the_handoff_clock_and_starts_the_next(
    app: App, tmp_path: Path
) -> None:
    mqls(app, tmp_path, 1)
    report = route(app.engine, NOON)
    ((ref, routed),) = report.routed
    assert ref.email == "lead0@example.co.jp" and routed.rep in ("田中", "山田")
    ((lead_id, owner, actor, evidence),) = assignments(app)
    assert (lead_id, owner, actor) == (1, routed.rep, "routing")
    assert evidence == {
        "routing": "default",
        "pool": ["山田", "田中"],
        "skipped_at_capacity": [],
        "assigned_today": 1,
        "capacity_per_day": 15,
    }
    with app.store() as store:
        clocks = {c.clock_id: c for c in store.clocks.of_lead(1)}
        assert store.leads.get(1).owner == routed.rep  # type: ignore[union-attr]
    assert clocks["mql_handoff"].state_at(NOON) is ClockState.MET
    assert clocks["is_first_contact"].started_at == NOON
    assert route(app.engine, NOON + timedelta(minutes=1)).routed == []  # nothing waits any more


def test_capacity_holds_per_local_day_and_counts_manual_assignments(app: App, tmp_path: Path) -> None:
    mqls(app, tmp_path, 5, capacity=2)
    assign_lead(app.engine, NOON, "lead4@example.co.jp", "田中", "佐藤", note="紹介元の指名")
    report = route(app.engine, NOON + timedelta(minutes=5))
    # 田中 has one from 佐藤 today, so 山田 goes first; then one more each reaches 2 + 2.
    assert [r.rep for _, r in report.routed] == ["山田", "田中", "山田"]
    assert [(ref.email, u.reason) for ref, u in report.waiting] == [("lead3@example.co.jp", Held.CAPACITY)]
    # 23:59 JST is still the same day; just after midnight JST is the next one.
    assert route(app.engine, datetime(2026, 4, 6, 23, 59, tzinfo=JST)).routed == []
    (next_day,) = route(app.engine, datetime(2026, 4, 7, 0, 1, tzinfo=JST)).routed
    assert next_day[0].email == "lead3@example.co.jp"


def test_an_inactive_rep_gets_nothing_and_cannot_be_assigned(app: App, tmp_path: Path) -> None:
    mqls(app, tmp_path, 3)
    set_active(app.engine, "田中", False)
    assert [r.rep for _, r in route(app.engine, NOON, dry_run=True).routed] == ["山田"] * 3
    assert assignments(app) == []  # a dry run records nothing
    with pytest.raises(DomainError, match="田中 is inactive"):
        assign_lead(app.engine, NOON, "1", "田中", "佐藤")
    set_active(app.engine, "山田", False)
    report = route(app.engine, NOON)
    assert report.routed == [] and {u.reason for _, u in report.waiting} == {Held.NO_REP}


def test_assigning_a_lead_to_its_holder_is_refused(app: App, tmp_path: Path) -> None:
    mqls(app, tmp_path, 1)
    assign_lead(app.engine, NOON, "1", "田中", "佐藤")
    with pytest.raises(DomainError, match="already held by 田中"):
        assign_lead(app.engine, NOON, "1", "田中", "佐藤")


def test_a_write_over_a_lead_changed_meanwhile_is_refused(app: App, tmp_path: Path) -> None:
    mqls(app, tmp_path, 1)
    with app.store() as store:
        ((lead, owner, version),) = store.leads.held([1]).values()
    assign_lead(app.engine, NOON, "1", "田中", "佐藤")  # another unit of work bumps the version
    with app.store() as store, pytest.raises(StaleLeads):
        store.leads.save_states([(lead, owner, version)], NOON)


def _route_in_a_process(url: str, now: datetime) -> int:
    engine = make_engine(url)
    routed = len(route(engine, now).routed)
    engine.dispose()
    return routed


def test_two_routers_at_once_never_give_a_lead_to_two_reps(app: App, tmp_path: Path) -> None:
    mqls(app, tmp_path, 40, capacity=15)
    url = app.engine.url.render_as_string(hide_password=False)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        counts = pool.starmap(_route_in_a_process, [(url, NOON)] * 2)
    assert sorted(counts)[1] == 30 and sum(counts) == 30  # one router took all; the other found none waiting
    found = assignments(app)
    assert len({lead for lead, *_ in found}) == len(found) == 30
    per_rep: dict[str | None, int] = {}
    for _, owner, _, _ in found:
        per_rep[owner] = per_rep.get(owner, 0) + 1
    assert per_rep == {"田中": 15, "山田": 15}
    with app.engine.connect() as c:
        owned = select(func.count()).select_from(t.leads).where(t.leads.c.owner_id.is_not(None))
        assert c.execute(owned).scalar_one() == 30


def test_the_mqls_waiting_for_routing_are_read_from_their_index_not_from_every_lead(app: App) -> None:
    def waiting() -> None:
        with app.store() as store:
            store.leads.waiting_for_routing(["inside_sales"])

    plan = plan_of(app.engine, "leads", waiting)
    assert "ix_leads_mql" in plan, plan


def test_the_running_clocks_of_one_owners_leads_are_found_through_the_owner_index(app: App) -> None:
    def board() -> None:
        with app.store() as store:
            store.clocks.open_columns(owner="田中")

    plan = plan_of(app.engine, "leads", board, having="count(")
    if app.engine.dialect.name == "postgresql":
        # PostgreSQL may start from the open clocks and look each lead up by its key instead:
        # either way no lead is read that is not asked about.
        assert "ix_leads_owner_id" in plan or "Index Cond: (id = clocks.lead_id)" in plan, plan
    else:
        assert "ix_leads_owner_id" in plan, plan
