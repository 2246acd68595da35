"""The shared KPIs of a store built through the real services (SQLite and PostgreSQL).

The leads and their history are those of tests/unit/test_kpis.py (see its docstring for the
timeline and the hand-worked figures), made this time by canonical events through `ingest`
and, for lead 6, by two generic imports: the stage moves, assignments and contacts become
ledger entries, and the pact's clocks run as they would in production. Two differences from
the unit table come from the clocks the system starts itself: lead 2 is handed to 山本 again
when it comes back as an MQL (its second handoff and first-contact clocks are both met), and
lead 6's imported history, dated before the pact took effect, starts no clock.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadpact.adapters.importers.mapping import load_import_mapping
from leadpact.bootstrap import App
from leadpact.domain.kpis import GroupBy, View
from leadpact.domain.pact import Kpi
from leadpact.services import users
from leadpact.services.identities import merge_leads
from leadpact.services.imports import import_file
from leadpact.services.ingest import ingest
from leadpact.services.kpis import leads_behind, report
from tests.factories import event, lines, sign_example_pact

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 10, 1, 9, tzinfo=JST)
SOURCES = {1: "ad", 2: "ad", 3: "seminar", 4: "referral", 5: "ad", 6: "web_form", 7: "ad", 8: "seminar"}
EMPLOYEES = {1: 500, 2: 40, 3: 120, 4: 2000, 5: 500, 6: 300, 7: 40, 8: 120}


def jst(month: int, day: int, hour: int = 10) -> str:
    return datetime(2026, month, day, hour, tzinfo=JST).isoformat()


def email(lead: int) -> str:
    return f"lead{lead}@example.co.jp"


def move(lead: int, at: str, to: str, by: str, reason: str | None = None, override: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {"to": to, "by": by}
    if reason:
        fields["reason"] = reason
    if override:
        fields |= {"override": True, "note": "test history"}
    return event("stage_change", datetime.fromisoformat(at), lead=email(lead), **fields)


def assign(lead: int, at: str, to: str) -> dict[str, Any]:
    return event("assignment", datetime.fromisoformat(at), lead=email(lead), to=to)


def contact(lead: int, at: str, by: str) -> dict[str, Any]:
    return event("contact_logged", datetime.fromisoformat(at), lead=email(lead), by=by, channel="phone")


def events() -> list[dict[str, Any]]:
    upserts = [
        event(
            "lead_upsert",
            datetime(2026, 6, 1, tzinfo=JST),
            lead=email(lead),
            attributes={"source": SOURCES[lead], "employees": EMPLOYEES[lead], "company": f"会社{lead}"},
        )
        for lead in (1, 2, 3, 4, 5, 7, 8)
    ]
    mql = {"to": "mql", "by": "佐藤", "override": True}
    return [
        *upserts,
        move(5, jst(6, 29), **mql),
        assign(5, jst(6, 29, 15), "田中"),
        contact(5, jst(6, 30), "田中"),
        move(1, jst(7, 1), **mql),
        assign(1, jst(7, 1, 11), "田中"),
        contact(1, jst(7, 1, 13), "田中"),
        move(1, jst(7, 1, 14), "sal", "田中"),
        move(5, jst(7, 1), "sal", "田中"),
        move(2, jst(7, 2), **mql),
        assign(2, jst(7, 2, 12), "山本"),
        move(5, jst(7, 2), "disqualified", "田中", reason="out_of_target"),
        move(3, jst(7, 3), **mql),
        contact(2, jst(7, 6), "山本"),
        move(1, jst(7, 6), "sql", "小林", override=True),
        move(3, jst(7, 6), "sql", "小林", override=True),
        move(2, jst(7, 7), "recycled", "山本", reason="no_budget"),
        move(1, jst(7, 8), "opportunity", "鈴木"),
        move(3, jst(7, 10), "recycled", "鈴木", reason="bad_timing"),
        assign(4, jst(7, 15), "鈴木"),
        move(4, jst(7, 15), "sql", "鈴木", override=True),
        move(4, jst(7, 20), "opportunity", "鈴木"),
        move(8, jst(7, 20), **mql),
        assign(8, jst(7, 20, 11), "田中"),
        contact(8, jst(7, 27), "田中"),
        move(8, jst(7, 27, 11), "sal", "田中"),
        move(1, jst(8, 3), "won", "鈴木"),
        move(2, jst(8, 3), **mql),
        assign(2, jst(8, 3, 11), "山本"),
        contact(2, jst(8, 3, 15), "山本"),
        move(2, jst(8, 4), "sal", "山本"),
        move(4, jst(8, 20), "lost", "鈴木"),
        move(7, jst(9, 28), **mql),
        assign(7, jst(9, 28, 11), "山本"),
    ]


def imported(app: App, tmp_path: Path) -> None:
    """Lead 6's history as the MA had it: an MQL on 7/8, then an SQL on 7/10."""
    for name, stage, at in (("mql", "mql", "2026-07-08 10:00"), ("sql", "sql", "2026-07-10 10:00")):
        path = tmp_path / f"lead6-{name}.csv"
        path.write_text(
            "record_id,email,company,source,employees,stage,stage_changed_at\n"
            f"K-6,{email(6)},会社6,web_form,300,{stage},{at}\n",
            encoding="utf-8",
        )
        found = import_file(app.engine, app.clock, path, "generic", mapping=load_import_mapping(None))
        assert found.quarantined == 0


def build(app: App, tmp_path: Path) -> None:
    sign_example_pact(app)
    users.add_user(app.store(), app.clock, "山本", "inside_sales", None, False)
    users.add_user(app.store(), app.clock, "小林", "inside_sales", None, True)
    found = ingest(app.engine, app.clock, lines(events()))
    assert found.rejected == []
    imported(app, tmp_path)


C, P = View.COHORT, View.PERIOD
N = None

# (kpi, view, value, numerator, denominator, previous value): the unit table, but for SLA attainment,
# which has lead 2's second pair of clocks (both met) on top.
FIGURES = [
    (Kpi.MQL_COUNT, C, 6, 6, 6, 1),
    (Kpi.MQL_COUNT, P, 6, 6, 6, 1),
    (Kpi.RE_MQL_COUNT, C, 1, 1, 1, 0),
    (Kpi.RE_MQL_COUNT, P, 1, 1, 1, 0),
    (Kpi.MQL_TO_SAL_RATE, C, 5 / 6, 5, 6, 1.0),
    (Kpi.MQL_TO_SAL_RATE, P, 6 / 7, 6, 7, N),
    (Kpi.MQL_TO_SAL_HOURS, C, 48.0, 5, 6, 48.0),
    (Kpi.MQL_TO_SAL_HOURS, P, 36.0, 6, 6, N),
    (Kpi.TIME_TO_FIRST_CONTACT_HOURS, C, 48.0, 3, 6, 24.0),
    (Kpi.TIME_TO_FIRST_CONTACT_HOURS, P, 26.5, 4, 4, 24.0),
    (Kpi.MQL_TO_SQL_RATE, C, 0.5, 3, 6, 0.0),
    (Kpi.MQL_TO_SQL_RATE, P, 0.6, 3, 5, N),
    (Kpi.SQL_TO_OPPORTUNITY_RATE, C, 1 / 3, 1, 3, N),
    (Kpi.SQL_TO_OPPORTUNITY_RATE, P, 2 / 3, 2, 3, N),
    (Kpi.OPPORTUNITY_TO_WON_RATE, C, 1.0, 1, 1, N),
    (Kpi.OPPORTUNITY_TO_WON_RATE, P, 0.5, 1, 2, N),
    (Kpi.RECYCLE_RATE, C, 1 / 3, 2, 6, 0.0),
    (Kpi.RECYCLE_RATE, P, 0.4, 2, 5, N),
    (Kpi.SQL_WITHOUT_MQL, C, 1, 1, 1, 0),
    (Kpi.SQL_WITHOUT_MQL, P, 1, 1, 1, 0),
    (Kpi.SLA_COMPLIANCE, C, 10 / 12, 10, 12, 1.0),
    (Kpi.SLA_COMPLIANCE, P, 11 / 13, 11, 13, 1.0),
    (Kpi.NEGLECTED_LEADS, C, 1, 1, 1, 0),
    (Kpi.NEGLECTED_LEADS, P, 1, 1, 1, 0),
]


@pytest.fixture
def built(app: App, tmp_path: Path) -> App:
    build(app, tmp_path)
    return app


def test_every_kpi_in_both_views(built: App) -> None:
    reports = {view: report(built.engine, NOW, "2026-Q3", view) for view in View}
    for kpi, view, value, numerator, denominator, previous in FIGURES:
        found = reports[view].find(kpi)
        assert found.value == pytest.approx(value), (kpi, view)
        assert (found.figure.numerator, found.figure.denominator) == (numerator, denominator), (kpi, view)
        assert found.previous.value == (None if previous is None else pytest.approx(previous)), (kpi, view)
    period = reports[P]
    assert [
        (r.department, r.figure.numerator, r.figure.denominator)
        for r in period.totals()
        if r.kpi is Kpi.SLA_COMPLIANCE and r.department
    ] == [("marketing", 5, 6), ("inside_sales", 3, 4), ("field_sales", 3, 3)]
    late = period.find(Kpi.SLA_COMPLIANCE, department="inside_sales")
    assert late.target is not None and late.target.value == 0.9 and late.met is False
    assert period.find(Kpi.NEGLECTED_LEADS, department="marketing").lead_ids() == [3]  # never handed over


def test_the_leads_behind_figures_with_their_stage_now(built: App) -> None:
    cohort = report(built.engine, NOW, "2026-Q3", C)
    rows = leads_behind(built.engine, cohort, Kpi.MQL_TO_SQL_RATE)
    assert [(r.email, r.stage, r.counted) for r in rows] == [
        (email(1), "won", True),
        (email(2), "sal", False),
        (email(3), "recycled", True),
        (email(6), "sql", True),  # imported: the MA's history counts
        (email(8), "sal", False),
        (email(7), "mql", False),
    ]
    waits = leads_behind(built.engine, cohort, Kpi.TIME_TO_FIRST_CONTACT_HOURS)
    assert [(r.email, r.waited_hours, r.business_days) for r in waits if r.waited_hours is not None] == [
        (email(1), 3.0, 0),
        (email(2), 48.0, 2),
        (email(8), 106.0, 5),  # from Marine Day: 7/21–24 and 7/27 to 10:00
    ]
    late = leads_behind(built.engine, report(built.engine, NOW, "2026-Q3", P), Kpi.SLA_COMPLIANCE)
    assert [(r.email, r.clock) for r in late if not r.counted] == [
        (email(3), "mql_handoff"),
        (email(8), "is_first_contact"),
    ]


def test_grouped_by_source_segment_and_owner(built: App) -> None:
    by_source = report(built.engine, NOW, "2026-Q3", C, GroupBy.SOURCE)
    assert by_source.groups() == ["ad", "referral", "seminar", "web_form"]
    assert [by_source.find_group(Kpi.MQL_COUNT, g).value for g in by_source.groups()] == [3, 0, 2, 1]
    assert by_source.find_group(Kpi.RECYCLE_RATE, "ad").value == pytest.approx(1 / 3)  # lead 2 of 1, 2, 7
    by_segment = report(built.engine, NOW, "2026-Q3", C, GroupBy.SEGMENT)
    assert [(g, by_segment.find_group(Kpi.MQL_COUNT, g).value) for g in by_segment.groups()] == [
        ("size:1-99", 2),  # leads 2 and 7
        ("size:100-299", 2),  # 3 and 8
        ("size:300-999", 2),  # 1 and 6
        ("size:1000+", 0),  # lead 4 never was an MQL
    ]
    by_owner = report(built.engine, NOW, "2026-Q3", P, GroupBy.OWNER)
    assert by_owner.find_group(Kpi.TIME_TO_FIRST_CONTACT_HOURS, "田中").value == pytest.approx(54.5)  # 3 and 106
    assert by_owner.find_group(Kpi.TIME_TO_FIRST_CONTACT_HOURS, "山本").value == pytest.approx(26.5)  # 48 and 5
    by_team = report(built.engine, NOW, "2026-Q3", P, GroupBy.TEAM)
    assert by_team.find_group(Kpi.SQL_WITHOUT_MQL, "field_sales").value == 1  # lead 4, held by 鈴木


def test_a_quarter_without_leads_and_the_default_period(built: App) -> None:
    empty = report(built.engine, NOW, "2025-Q1", C)
    assert empty.leads == 0 and empty.find(Kpi.MQL_COUNT).value == 0
    assert empty.find(Kpi.MQL_TO_SQL_RATE).value is None
    assert report(built.engine, NOW).period.label == "2026-Q3"  # the last whole quarter before 10/1


def test_a_merge_makes_two_records_one_lead(built: App) -> None:
    # Lead 7 turns out to be lead 1's person: one MQL, in July, already won.
    merge_leads(built.engine, built.clock.now(), email(1), email(7), "佐藤")
    cohort = report(built.engine, NOW, "2026-Q3", C)
    assert cohort.find(Kpi.MQL_COUNT).value == 5
    mqls = [row.email for row in leads_behind(built.engine, cohort, Kpi.MQL_COUNT)]
    assert mqls == [email(1), email(2), email(3), email(6), email(8)]  # lead 7's record counts as lead 1
