"""The accountability report on a hand-built half year, made through the real services (SQLite and PostgreSQL).

The pact is the example one with an MQL → SQL target of 50 % (inside sales), signed on 5/1 (v1);
v2, signed on 8/1, lowers the MQL threshold from 80 to 70. Events before 8/1 are applied under v1,
later ones under v2. All times JST; a business day counts 24 h (no business hours); 7/20 and 8/11
are holidays. Now is 10/1 09:00, the period 2026-Q3, the previous one 2026-Q2.

    P1 ad        mql 6/1 10:00 · 田中 11:00 · contact 13:00 · sal 6/2 · sql 6/3 (小林, override)
    P2 seminar   mql 6/2 10:00 · 田中 11:00 · contact 14:00 · recycled bad_timing 6/4 (田中)
    A  ad        mql 7/1 10:00 · 田中 11:00 · contact 13:00 · sal 7/2 · sql 7/6 (小林) · 鈴木 11:00
                 · opportunity 7/8 · won 7/29
    B  ad        mql 7/2 10:00 · 山本 11:00 · contact 7/10 (first contact due 7/8 00:00: late)
                 · recycled no_budget 7/13 (山本)
    C  ad        mql 7/3 10:00 · 山本 11:00 · never contacted (due 7/9 00:00: late) · recycled no_budget 7/14
    D  seminar   mql 7/6 10:00 · 田中 11:00 · contact 14:00 · sal 7/7 · recycled bad_timing 7/9 (田中);
                 disputed 7/10 10:00, overturned 11:00: back to sal with 田中 · contact 7/13
    E  web_form  mql 7/7 10:00 · 田中 only 7/9 10:00 (handoff due 7/8 10:00: late) · contact 15:00 · sal 7/10
    F  seminar   mql 8/5 10:00 (v2) · 山本 11:00 · never contacted (due 8/11 00:00: still running, late)
    G  web_form  mql 8/6 10:00 · 田中 11:00 · contact 13:00 · sql 8/7 (小林) · 鈴木 11:00
                 · opportunity 8/20 (meeting due 8/18 00:00: late) · lost 9/10
    H  ad        mql 8/7 10:00 · 山本 11:00 · contact 15:00 · disqualified out_of_target 8/10 (山本);
                 disputed 8/12, pending

The figures below are worked out by hand from this timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadpact.bootstrap import App
from leadpact.domain.accountability import DepartmentAccount, Fault
from leadpact.domain.clock import FixedClock
from leadpact.domain.disputes import Charge, Outcome
from leadpact.domain.kpis import GroupBy, View
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import Kpi
from leadpact.domain.period import UnknownPeriod
from leadpact.services import pacts, users
from leadpact.services.accountability import AccountabilityReport, accountability
from leadpact.services.disputes import open_dispute, resolve_dispute
from leadpact.services.ingest import ingest
from leadpact.services.kpis import report
from tests.factories import event, example_document, lines

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 10, 1, 9, tzinfo=JST)
H = timedelta(hours=1)
DAY = 24.0  # business hours in a business day
SOURCES = {"P1": "ad", "P2": "seminar", "A": "ad", "B": "ad", "C": "ad", "D": "seminar"}
SOURCES |= {"E": "web_form", "F": "seminar", "G": "web_form", "H": "ad"}
TARGET = ("{kpi: mql_to_sql_rate, target: 0.3,", "{kpi: mql_to_sql_rate, target: 0.5,")


def jst(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JST)


def email(lead: str) -> str:
    return f"{lead.lower()}@example.co.jp"


def mql(lead: str, at: datetime) -> dict[str, Any]:
    return event("stage_change", at, lead=email(lead), to="mql", by="佐藤", override=True, note="test history")


def move(lead: str, at: datetime, to: str, by: str, reason: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"to": to, "by": by}
    if reason:
        fields |= {"reason": reason, "note": "営業メモ"}
    if by == "小林":
        fields |= {"override": True, "note": "BANT確認済み"}
    return event("stage_change", at, lead=email(lead), **fields)


def assign(lead: str, at: datetime, to: str) -> dict[str, Any]:
    return event("assignment", at, lead=email(lead), to=to)


def contact(lead: str, at: datetime, by: str) -> dict[str, Any]:
    return event("contact_logged", at, lead=email(lead), by=by, channel="phone")


def apply(app: App, events: list[dict[str, Any]]) -> None:
    found = ingest(app.engine, app.clock, lines(events))
    assert found.rejected == []


def sign(app: App, at: datetime, *replacements: tuple[str, str]) -> int:
    proposed = pacts.propose_pact(app.store(), FixedClock(at), example_document(TARGET, *replacements), "佐藤")
    for name in ("佐藤", "田中", "鈴木"):
        pacts.approve_pact(app.store(), FixedClock(at), proposed.version, name)
    return proposed.version


def build(app: App, *edits: tuple[str, str]) -> None:
    """The half year above; `edits` change the text of both pact versions."""
    for name, department, manager in (
        ("佐藤", "marketing", True),
        ("田中", "inside_sales", False),
        ("山本", "inside_sales", False),
        ("小林", "inside_sales", True),
        ("鈴木", "field_sales", True),
    ):
        users.add_user(app.store(), FixedClock(jst(4, 1)), name, department, None, manager)
    assert sign(app, jst(5, 1), *edits) == 1
    upserts = [
        event("lead_upsert", jst(5, 20), lead=email(lead), attributes={"source": source, "company": f"会社{lead}"})
        for lead, source in SOURCES.items()
    ]
    apply(
        app,
        [
            *upserts,
            mql("P1", jst(6, 1)),
            assign("P1", jst(6, 1, 11), "田中"),
            contact("P1", jst(6, 1, 13), "田中"),
            move("P1", jst(6, 2), "sal", "田中"),
            move("P1", jst(6, 3), "sql", "小林"),
            mql("P2", jst(6, 2)),
            assign("P2", jst(6, 2, 11), "田中"),
            contact("P2", jst(6, 2, 14), "田中"),
            move("P2", jst(6, 4), "recycled", "田中", "bad_timing"),
            mql("A", jst(7, 1)),
            assign("A", jst(7, 1, 11), "田中"),
            contact("A", jst(7, 1, 13), "田中"),
            move("A", jst(7, 2), "sal", "田中"),
            mql("B", jst(7, 2)),
            assign("B", jst(7, 2, 11), "山本"),
            mql("C", jst(7, 3)),
            assign("C", jst(7, 3, 11), "山本"),
            move("A", jst(7, 6), "sql", "小林"),
            assign("A", jst(7, 6, 11), "鈴木"),
            mql("D", jst(7, 6)),
            assign("D", jst(7, 6, 11), "田中"),
            contact("D", jst(7, 6, 14), "田中"),
            mql("E", jst(7, 7)),
            move("D", jst(7, 7), "sal", "田中"),
            move("A", jst(7, 8), "opportunity", "鈴木"),
            move("D", jst(7, 9), "recycled", "田中", "bad_timing"),
            assign("E", jst(7, 9), "田中"),
            contact("E", jst(7, 9, 15), "田中"),
        ],
    )
    dispute = open_dispute(app.engine, jst(7, 10), email("D"), "佐藤", "時期は合っている").dispute.id
    resolve_dispute(app.engine, jst(7, 10, 11), dispute, Outcome.OVERTURNED, "鈴木", "予算化済み", to="田中")
    apply(
        app,
        [
            contact("B", jst(7, 10), "山本"),
            move("E", jst(7, 10), "sal", "田中"),
            contact("D", jst(7, 13), "田中"),
            move("B", jst(7, 13), "recycled", "山本", "no_budget"),
            move("C", jst(7, 14), "recycled", "山本", "no_budget"),
            move("A", jst(7, 29), "won", "鈴木"),
        ],
    )
    assert sign(app, jst(8, 1), *edits, ("score_threshold: 80", "score_threshold: 70")) == 2
    apply(
        app,
        [
            mql("F", jst(8, 5)),
            assign("F", jst(8, 5, 11), "山本"),
            mql("G", jst(8, 6)),
            assign("G", jst(8, 6, 11), "田中"),
            contact("G", jst(8, 6, 13), "田中"),
            mql("H", jst(8, 7)),
            move("G", jst(8, 7), "sql", "小林"),
            assign("G", jst(8, 7, 11), "鈴木"),
            assign("H", jst(8, 7, 11), "山本"),
            contact("H", jst(8, 7, 15), "山本"),
            move("H", jst(8, 10), "disqualified", "山本", "out_of_target"),
        ],
    )
    open_dispute(app.engine, jst(8, 12), email("H"), "佐藤", "対象業種です")
    apply(app, [move("G", jst(8, 20), "opportunity", "鈴木"), move("G", jst(9, 10), "lost", "鈴木")])


@pytest.fixture
def found(app: App) -> AccountabilityReport:
    build(app)
    return accountability(app.engine, NOW, "2026-Q3")


def section(found: AccountabilityReport, department: str) -> DepartmentAccount:
    return next(d for d in found.account.departments if d.department == department)


def lead_ids(app: App) -> dict[str, int]:
    with app.store() as store:
        ids = store.leads.ids_by_email([email(lead) for lead in SOURCES])
    return {lead: ids[email(lead)] for lead in SOURCES}


def test_each_department_owns_the_kpis_of_leadpact_kpi_with_the_same_figures(
    app: App, found: AccountabilityReport
) -> None:
    kpis = report(app.engine, NOW, "2026-Q3", View.PERIOD)
    rows = {(r.kpi, r.department): r for r in kpis.totals() if r.clock is None}
    for department in found.account.departments:
        for r in department.kpis:
            same = rows[(r.kpi, r.department)]
            assert (r.figure, r.previous, r.target, r.met) == (same.figure, same.previous, same.target, same.met)
    owned = {d.department: [(r.kpi, r.met) for r in d.kpis] for d in found.account.departments}
    assert owned["marketing"] == [
        (Kpi.MQL_COUNT, False),
        (Kpi.RE_MQL_COUNT, None),
        (Kpi.RECYCLE_RATE, None),
        (Kpi.SLA_COMPLIANCE, None),
    ]  # no neglected leads of marketing's clocks in either quarter: `leadpact kpi` has no row for it either
    assert (Kpi.MQL_TO_SQL_RATE, False) in owned["inside_sales"] and (Kpi.SLA_COMPLIANCE, False) in owned[
        "inside_sales"
    ]
    assert [(k, m) for k, m in owned["field_sales"] if m is not None] == [
        (Kpi.SQL_TO_OPPORTUNITY_RATE, True),
        (Kpi.OPPORTUNITY_TO_WON_RATE, True),
    ]
    assert found.account.versions == (1, 2)
    assert (found.account.rejections, found.account.pending) == (4, 1)  # B, C, D, H; H's dispute waits


def test_breaches_are_the_failures_of_sla_attainment_with_their_reps_and_time(
    app: App, found: AccountabilityReport
) -> None:
    ids = lead_ids(app)
    kpis = report(app.engine, NOW, "2026-Q3", View.PERIOD)
    for department in found.account.departments:
        sla = kpis.find(Kpi.SLA_COMPLIANCE, department=department.department)
        b = department.breaches
        assert (b.decided, b.late) == (sla.figure.denominator, sla.figure.denominator - sla.figure.numerator)

    marketing = section(found, "marketing").breaches
    assert (marketing.decided, marketing.late) == (8, 1)
    (late,) = marketing.items
    assert (late.run.lead_id, late.run.clock, late.run.owner) == (ids["E"], "mql_handoff", None)
    assert (late.split.own, late.split.routing, late.split.off_hours) == (48 * H, 0 * H, 0 * H)  # Tue 10:00 → Thu 10:00

    inside = section(found, "inside_sales").breaches
    assert (inside.decided, inside.late, inside.leads) == (9, 3, 3)  # A, B, C, D twice, E, F, G, H; late: B, C, F
    assert [(o.owner, o.late, o.decided) for o in inside.owners] == [("山本", 3, 4), ("田中", 0, 5)]
    splits = {b.run.lead_id: b.split for b in inside.items}
    # B: Thu 7/2 11:00 → Fri 7/10 10:00 (the contact), a weekend between; C: Fri 7/3 11:00 → Tue 7/14 10:00, two.
    assert (splits[ids["B"]].own, splits[ids["B"]].off_hours) == (143 * H, 48 * H)
    assert (splits[ids["C"]].own, splits[ids["C"]].off_hours) == (167 * H, 96 * H)
    assert splits[ids["F"]].routing == 0 * H  # 山本 held it from the start

    field = section(found, "field_sales").breaches
    (meeting,) = field.items
    assert (meeting.run.lead_id, meeting.run.owner) == (ids["G"], "鈴木")
    # SQL Fri 8/7 10:00, 鈴木 from 11:00, opportunity Thu 8/20 10:00: 8 business days (8/11 is a holiday)
    assert meeting.split == type(meeting.split)(routing=1 * H, own=191 * H, off_hours=120 * H)


def test_time_held_by_department(app: App, found: AccountabilityReport) -> None:
    ids = lead_ids(app)
    marketing = section(found, "marketing").held
    # every MQL an hour before its rep got it, E two business days
    assert marketing.leads == 8 and marketing.business_days == pytest.approx(55 / DAY)
    assert (marketing.ended, marketing.ended_median, marketing.still) == (8, pytest.approx(1 / DAY), 0)
    inside = section(found, "inside_sales").held
    # ended: A 71 h, B 167 h, C 167 h, D 71 h (before the overturn), G 23 h, H 23 h; still: D (since the
    # overturn), E (in sal), F (never contacted)
    assert (inside.ended, inside.ended_median, inside.still) == (6, pytest.approx(71 / DAY), 3)
    assert inside.still_leads == tuple(sorted((ids["D"], ids["E"], ids["F"])))
    assert {s.stage for s in inside.stages} == {Stage.MQL, Stage.SAL}
    field = section(found, "field_sales").held
    # A: SQL 7/6 → 7/8 (2), opportunity → 7/29 (14); G: SQL 8/7 → 8/20 (8), opportunity → 9/10 (15); P1, an SQL
    # since 6/3 10:00 that no field sales rep took, is field sales' all quarter: 61 business days, 80 and 14 h so far
    assert field.leads == 3 and field.business_days == pytest.approx(39 + 61)
    assert [(s.stage, s.business_days, s.ended, s.ended_median) for s in field.stages] == [
        (Stage.SQL, pytest.approx(10 + 61), 2, pytest.approx(5)),  # stays of 2 and 8 ended; P1's goes on
        (Stage.OPPORTUNITY, pytest.approx(29), 2, pytest.approx(14.5)),  # of 14 and 15
    ]
    assert (field.ended, field.ended_median, field.still) == (2, pytest.approx(19.5), 1)
    assert (field.still_leads, field.still_median) == ((ids["P1"],), pytest.approx(80 + 14 / DAY))
    for department in found.account.departments:
        assert sum(s.business_days for s in department.held.stages) == pytest.approx(department.held.business_days)


def test_rejections_are_charged_to_lead_quality_or_to_the_department_that_rejected(found: AccountabilityReport) -> None:
    (quality,) = section(found, "marketing").charged
    assert (quality.charge, quality.count, quality.after_late_clock) == (Charge.LEAD_QUALITY, 2, 2)  # B and C
    (reason,) = quality.reasons
    assert (reason.code, reason.count, reason.sources) == ("no_budget", 2, (("ad", 2),))
    (acceptance,) = section(found, "inside_sales").charged
    assert (acceptance.charge, acceptance.count) == (Charge.SALES_ACCEPTANCE, 1)  # D, overturned
    assert [(r.code, r.sources) for r in acceptance.reasons] == [("bad_timing", (("seminar", 1),))]
    assert section(found, "field_sales").charged == ()


def test_a_missed_rate_decomposed(app: App, found: AccountabilityReport) -> None:
    ids = lead_ids(app)
    (missed,) = [m for m in section(found, "inside_sales").missed if m.result.kpi is Kpi.MQL_TO_SQL_RATE]
    # decisions on MQLs and SALs: A sql, B recycled, C recycled, D recycled, G sql, H disqualified: 2 of 6
    assert (missed.result.figure.numerator, missed.result.figure.denominator) == (2, 6)
    assert missed.short_by == 1  # 3 of 6 is 50 %

    volume = missed.volume
    assert [
        (v.group, v.now.numerator, v.now.denominator, v.before.numerator, v.before.denominator) for v in volume.lines
    ] == [
        ("ad", 1, 4, 1, 1),
        ("seminar", 0, 1, 0, 1),
        ("web_form", 1, 1, 0, 0),
    ]
    # 2/6 − 1/2 = mix (4/6 − 1/2)·1 + (1/6 − 1/2)·0 + (1/6)·1 = 1/3, within 4/6·(1/4 − 1) = −1/2
    assert (volume.change, volume.mix, volume.within) == (
        pytest.approx(-1 / 6),
        pytest.approx(1 / 3),
        pytest.approx(-1 / 2),
    )

    quality = missed.quality
    assert quality is not None and quality.against == 4
    assert [(q.fault, q.charged_to, q.count, q.leads) for q in quality.lines] == [
        (Fault.LEAD_QUALITY, "marketing", 2, tuple(sorted((ids["B"], ids["C"])))),
        (Fault.SALES_ACCEPTANCE, "inside_sales", 1, (ids["D"],)),
        (Fault.PENDING, None, 1, (ids["H"],)),
    ]

    speed = missed.speed
    assert speed is not None
    assert (speed.items, speed.late, speed.against, speed.against_late) == (
        6,
        2,
        4,
        2,
    )  # B and C, after 山本's late clocks
    assert speed.by_clock == (("is_first_contact", 2),)
    assert (speed.against_share_late, speed.against_share_on_time) == (1.0, 0.5)

    definition = missed.redefinition
    assert definition is not None
    assert [(v.version, v.now.numerator, v.now.denominator, v.before.denominator) for v in definition.versions] == [
        (1, 1, 4, 2),  # A, B, C, D decided under v1; P1 and P2 in Q2
        (2, 1, 2, 0),  # G and H under v2
    ]
    (change,) = definition.changes
    assert (change.old, change.new, change.activated_at) == (1, 2, jst(8, 1))
    assert "MQL threshold 80 → 70" in change.lines


def test_a_missed_count_and_a_missed_sla_decomposed(found: AccountabilityReport) -> None:
    (mqls,) = section(found, "marketing").missed
    assert (mqls.result.kpi, mqls.result.value, mqls.short_by) == (Kpi.MQL_COUNT, 8, 292)
    assert [(v.group, v.now.numerator, v.before.numerator) for v in mqls.volume.lines] == [
        ("ad", 4, 1),
        ("seminar", 2, 1),
        ("web_form", 2, 0),
    ]
    assert mqls.volume.change == 6 and mqls.quality is None and mqls.speed is None
    assert mqls.redefinition is not None
    assert [(v.version, v.now.numerator, v.before.numerator) for v in mqls.redefinition.versions] == [
        (1, 5, 2),
        (2, 3, 0),
    ]

    (sla,) = [m for m in section(found, "inside_sales").missed if m.result.kpi is Kpi.SLA_COMPLIANCE]
    assert sla.short_by == 3  # 9 of 9 × 0.9 = 8.1: 9 needed, 6 met
    assert sla.breaches is section(found, "inside_sales").breaches and sla.speed is None


def test_the_version_breakdown_is_the_one_of_leadpact_kpi_by_pact_version(
    app: App, found: AccountabilityReport
) -> None:
    by_version = report(app.engine, NOW, "2026-Q3", View.PERIOD, GroupBy.PACT_VERSION)
    (missed,) = [m for m in section(found, "inside_sales").missed if m.result.kpi is Kpi.MQL_TO_SQL_RATE]
    assert missed.redefinition is not None
    for line in missed.redefinition.versions:
        row = by_version.find_group(Kpi.MQL_TO_SQL_RATE, str(line.version))
        assert (line.now, line.before) == (row.figure, row.previous)


def test_a_period_without_leads_is_all_zeros(app: App) -> None:
    build(app)
    empty = accountability(app.engine, NOW, "2025-Q3")
    assert empty.account.leads == 0 and empty.account.rejections == 0
    for department in empty.account.departments:
        assert department.breaches.late == department.breaches.decided == 0
        assert department.held.leads == 0 and department.held.business_days == 0
        assert department.held.ended_median is None and department.charged == ()
        assert all(r.value in (None, 0) for r in department.kpis)


def test_an_unknown_period_names_the_valid_forms(app: App) -> None:
    build(app)
    with pytest.raises(UnknownPeriod, match="write one of: 2026, 2026-H1, 2026-Q3"):
        accountability(app.engine, NOW, "Q3")
