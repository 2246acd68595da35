"""The shared KPIs over a hand-built ledger history: every figure worked out by hand below.

The calendar is the example pact's (Tokyo, Monday to Friday, JP holidays, no business hours:
a business day counts 24 h). 2026-07-20 is Marine Day (海の日), a holiday. The period is
2026-Q3 (July–September); the previous one 2026-Q2. Now is 2026-10-01 09:00 JST.

    lead 1  ad        lead→mql 7/1 10:00 · assigned 田中 11:00 · contact 13:00 · mql→sal 14:00 · sal→sql 7/6 10:00
                      · sql→opportunity 7/8 10:00 · opportunity→won 8/3 10:00
    lead 2  ad        lead→mql 7/2 10:00 · assigned 山本 12:00 · contact 7/6 10:00 · mql→recycled 7/7 10:00
                      · recycled→mql 8/3 10:00 (a re-MQL) · contact 8/3 15:00 · mql→sal 8/4 10:00
    lead 3  seminar   lead→mql 7/3 10:00 · mql→sql 7/6 10:00 (SAL skipped) · sql→recycled 7/10 10:00;
                      its handoff clock never stopped (nobody was assigned): neglected
    lead 4  referral  assigned 鈴木 7/15 10:00 · lead→sql 7/15 10:00 (MQL skipped) · sql→opportunity 7/20 10:00
                      · opportunity→lost 8/20 10:00
    lead 5  ad        lead→mql 6/29 10:00 (Q2) · assigned 田中 15:00 · contact 6/30 10:00 · mql→sal 7/1 10:00
                      · sal→disqualified 7/2 10:00
    lead 6  web_form  imported: lead→mql 7/8 10:00 · mql→sql 7/10 10:00
    lead 7  ad        lead→mql 9/28 10:00 · assigned 山本 11:00; first-contact clock due 10/2 00:00: pending
    lead 8  seminar   lead→mql 7/20 10:00 (a holiday) · assigned 田中 11:00 · contact 7/27 10:00 (met late)
                      · mql→sal 7/27 11:00
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.clocks import ClockRun
from leadpact.domain.history import NEVER, History, LeadGroups, lead_time_order, micros
from leadpact.domain.kpis import (
    GroupBy,
    KpiReport,
    UnknownChoice,
    View,
    _earliest,
    _latest,
    choose,
    kpi_report,
    last_review_period,
    owners_of,
    segment_of,
    target_of,
)
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.pact import Kpi, ReviewCycle
from leadpact.domain.period import parse_period
from tests.factories import example_document

JST = ZoneInfo("Asia/Tokyo")
PACT = example_document().pact
CALENDAR = BusinessCalendar.of(PACT.calendar)
NOW = datetime(2026, 10, 1, 9, tzinfo=JST)
Q3 = parse_period("2026-Q3")
TEAMS = {"田中": "inside_sales", "山本": "inside_sales", "鈴木": "field_sales"}


def jst(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JST)


def move(lead: int, at: datetime, frm: str, to: str, imported: bool = False) -> LedgerEntry:
    return LedgerEntry(lead, EntryKind.TRANSITION, at, at, "x", "marketing", 1, frm, to, imported=imported)


def contact(lead: int, at: datetime) -> LedgerEntry:
    return LedgerEntry(lead, EntryKind.CONTACT, at, at, "x", "inside_sales", 1, evidence={"channel": "phone"})


def assign(lead: int, at: datetime, owner: str) -> LedgerEntry:
    return LedgerEntry(lead, EntryKind.ASSIGNMENT, at, at, "x", "inside_sales", 1, owner=owner)


def run(lead: int, clock: str, start: datetime, due: datetime, stop: datetime | None) -> ClockRun:
    responsible = {"mql_handoff": "marketing", "is_first_contact": "inside_sales", "fs_meeting": "field_sales"}[clock]
    return ClockRun(lead, clock, 1, start, due, responsible, (), 0.25, stopped_at=stop)


ENTRIES = [
    move(5, jst(6, 29), "lead", "mql"),
    assign(5, jst(6, 29, 15), "田中"),
    contact(5, jst(6, 30)),
    move(1, jst(7, 1), "lead", "mql"),
    assign(1, jst(7, 1, 11), "田中"),
    contact(1, jst(7, 1, 13)),
    move(1, jst(7, 1, 14), "mql", "sal"),
    move(5, jst(7, 1), "mql", "sal"),
    move(2, jst(7, 2), "lead", "mql"),
    assign(2, jst(7, 2, 12), "山本"),
    move(5, jst(7, 2), "sal", "disqualified"),
    move(3, jst(7, 3), "lead", "mql"),
    contact(2, jst(7, 6)),
    move(1, jst(7, 6), "sal", "sql"),
    move(3, jst(7, 6), "mql", "sql"),
    move(2, jst(7, 7), "mql", "recycled"),
    move(1, jst(7, 8), "sql", "opportunity"),
    move(6, jst(7, 8), "lead", "mql", imported=True),
    move(6, jst(7, 10), "mql", "sql", imported=True),
    move(3, jst(7, 10), "sql", "recycled"),
    assign(4, jst(7, 15), "鈴木"),
    move(4, jst(7, 15), "lead", "sql"),
    move(4, jst(7, 20), "sql", "opportunity"),
    move(8, jst(7, 20), "lead", "mql"),
    assign(8, jst(7, 20, 11), "田中"),
    contact(8, jst(7, 27)),
    move(8, jst(7, 27, 11), "mql", "sal"),
    move(1, jst(8, 3), "opportunity", "won"),
    move(2, jst(8, 3), "recycled", "mql"),
    contact(2, jst(8, 3, 15)),
    move(2, jst(8, 4), "mql", "sal"),
    move(4, jst(8, 20), "opportunity", "lost"),
    move(7, jst(9, 28), "lead", "mql"),
    assign(7, jst(9, 28, 11), "山本"),
]
RUNS = [
    run(5, "mql_handoff", jst(6, 29), jst(6, 30), jst(6, 29, 15)),
    run(5, "is_first_contact", jst(6, 29, 15), jst(7, 3, 0), jst(6, 30)),
    run(1, "mql_handoff", jst(7, 1), jst(7, 2), jst(7, 1, 11)),  # a
    run(1, "is_first_contact", jst(7, 1, 11), jst(7, 7, 0), jst(7, 1, 13)),  # b
    run(2, "mql_handoff", jst(7, 2), jst(7, 3), jst(7, 2, 12)),  # c
    run(2, "is_first_contact", jst(7, 2, 12), jst(7, 8, 0), jst(7, 6)),  # d
    run(3, "mql_handoff", jst(7, 3), jst(7, 4), None),  # e: late, still running
    run(8, "mql_handoff", jst(7, 20), jst(7, 21), jst(7, 20, 11)),  # f
    run(8, "is_first_contact", jst(7, 20, 11), jst(7, 24, 0), jst(7, 27)),  # g: met late
    run(7, "mql_handoff", jst(9, 28), jst(9, 29), jst(9, 28, 11)),  # h
    run(7, "is_first_contact", jst(9, 28, 11), jst(10, 2, 0), None),  # i: not due yet at now
    run(1, "fs_meeting", jst(7, 6), jst(7, 14, 0), jst(7, 8)),  # j
    run(4, "fs_meeting", jst(7, 15), jst(7, 24, 0), jst(7, 20)),  # k
    run(3, "fs_meeting", jst(7, 6), jst(7, 14, 0), jst(7, 10)),  # l
]
SOURCES = {1: "ad", 2: "ad", 3: "seminar", 4: "referral", 5: "ad", 6: "web_form", 7: "ad", 8: "seminar"}
HISTORY = History.of_entries(
    ENTRIES,
    RUNS,
    LeadGroups.of_leads({lead: {"source": source} for lead, source in SOURCES.items()}),
    teams=TEAMS,
)


def report(view: View, by: GroupBy | None = None, period: str = "2026-Q3") -> KpiReport:
    return kpi_report(HISTORY, PACT, CALENDAR, parse_period(period), view, NOW, by)


C, P = View.COHORT, View.PERIOD
N = None  # no leads to measure

# (kpi, view, value, numerator, denominator, previous value)
FIGURES = [
    (Kpi.MQL_COUNT, C, 6, 6, 6, 1),  # leads 1 2 3 6 7 8; Q2: lead 5
    (Kpi.MQL_COUNT, P, 6, 6, 6, 1),
    (Kpi.RE_MQL_COUNT, C, 1, 1, 1, 0),  # lead 2
    (Kpi.RE_MQL_COUNT, P, 1, 1, 1, 0),
    (Kpi.MQL_TO_SAL_RATE, C, 5 / 6, 5, 6, 1.0),  # all but 7 (3 and 6 skipped SAL); Q2 cohort: 5
    (Kpi.MQL_TO_SAL_RATE, P, 6 / 7, 6, 7, N),  # 1 2 3 5 6 8 accepted, 2 recycled once; none decided in Q2
    (Kpi.MQL_TO_SAL_HOURS, C, 48.0, 5, 6, 48.0),  # 4, 24, 48, 107, 528 (lead 7 not accepted); lead 5: 48
    (Kpi.MQL_TO_SAL_HOURS, P, 36.0, 6, 6, N),  # 4 24 24 48 48 107
    (Kpi.TIME_TO_FIRST_CONTACT_HOURS, C, 48.0, 3, 6, 24.0),  # 3 48 106; lead 5: 24
    (Kpi.TIME_TO_FIRST_CONTACT_HOURS, P, 26.5, 4, 4, 24.0),  # 3 5 48 106
    (Kpi.MQL_TO_SQL_RATE, C, 0.5, 3, 6, 0.0),  # 1 3 6
    (Kpi.MQL_TO_SQL_RATE, P, 0.6, 3, 5, N),  # 1 3 6 forward; 2 recycled, 5 disqualified
    (Kpi.SQL_TO_OPPORTUNITY_RATE, C, 1 / 3, 1, 3, N),  # of 1 3 6, lead 1
    (Kpi.SQL_TO_OPPORTUNITY_RATE, P, 2 / 3, 2, 3, N),  # 1 and 4 forward, 3 recycled
    (Kpi.OPPORTUNITY_TO_WON_RATE, C, 1.0, 1, 1, N),
    (Kpi.OPPORTUNITY_TO_WON_RATE, P, 0.5, 1, 2, N),  # 1 won, 4 lost
    (Kpi.RECYCLE_RATE, C, 1 / 3, 2, 6, 0.0),  # 2 and 3
    (Kpi.RECYCLE_RATE, P, 0.4, 2, 5, N),  # resolved: 1 4 (forward), 2 3 (recycled), 5 (disqualified)
    (Kpi.SQL_WITHOUT_MQL, C, 1, 1, 1, 0),  # lead 4
    (Kpi.SQL_WITHOUT_MQL, P, 1, 1, 1, 0),
    (Kpi.SLA_COMPLIANCE, C, 0.8, 8, 10, 1.0),  # a b c d f h j l met, e g late, i pending; lead 4's k left out
    (Kpi.SLA_COMPLIANCE, P, 9 / 11, 9, 11, 1.0),  # started in Q3: a–l but i; Q2: lead 5's two
    (Kpi.NEGLECTED_LEADS, C, 1, 1, 1, 0),  # lead 3 at 10/1 00:00
    (Kpi.NEGLECTED_LEADS, P, 1, 1, 1, 0),
]


@pytest.mark.parametrize(("kpi", "view", "value", "numerator", "denominator", "previous"), FIGURES)
def test_each_kpi_in_both_views(
    kpi: Kpi, view: View, value: float, numerator: int, denominator: int, previous: float | None
) -> None:
    found = report(view).find(kpi)
    assert found.value == pytest.approx(value)
    assert (found.figure.numerator, found.figure.denominator) == (numerator, denominator)
    assert found.previous.value == (None if previous is None else pytest.approx(previous))


def test_the_waits_spread_and_business_days() -> None:
    cohort = report(C).find(Kpi.MQL_TO_SAL_HOURS).figure
    # 4, 24, 48, 107, 528: p90 at rank 3.6 = 107 + 0.6 · 421; business days 0, 1, 2, 5, 22
    assert cohort.p90_hours == pytest.approx(359.6) and cohort.median_business_days == 2.0
    contact = report(P).find(Kpi.TIME_TO_FIRST_CONTACT_HOURS).figure
    # 3, 5, 48, 106: p90 at rank 2.7 = 48 + 0.7 · 58; business days 0, 0, 2, 5
    assert contact.p90_hours == pytest.approx(88.6) and contact.median_business_days == 1.0


def test_the_leads_behind_a_figure() -> None:
    cohort = report(C)
    assert cohort.find(Kpi.MQL_COUNT).lead_ids() == [1, 2, 3, 6, 8, 7]  # imported lead 6 counts
    rate = cohort.find(Kpi.MQL_TO_SQL_RATE)
    assert sorted(rate.items.lead[rate.items.counted].tolist()) == [1, 3, 6]
    decided = report(P).find(Kpi.MQL_TO_SAL_RATE).items
    assert sorted(zip(decided.lead.tolist(), decided.counted.tolist(), strict=True)) == [
        (1, True),
        (2, False),
        (2, True),
        (3, True),
        (5, True),
        (6, True),
        (8, True),
    ]
    assert report(P).find(Kpi.NEGLECTED_LEADS).lead_ids() == [3]


@pytest.mark.parametrize(
    ("view", "department", "clock", "value", "numerator", "denominator"),
    [
        (P, "marketing", None, 0.8, 4, 5),  # a c e f h
        (P, "inside_sales", None, 2 / 3, 2, 3),  # b d g
        (P, "field_sales", None, 1.0, 3, 3),  # j k l
        (P, None, "is_first_contact", 2 / 3, 2, 3),
        (C, "field_sales", None, 1.0, 2, 2),  # j l
    ],
)
def test_sla_attainment_per_department_and_clock(
    view: View, department: str | None, clock: str | None, value: float, numerator: int, denominator: int
) -> None:
    found = report(view).find(Kpi.SLA_COMPLIANCE, department=department, clock=clock)
    assert found.value == pytest.approx(value)
    assert (found.figure.numerator, found.figure.denominator) == (numerator, denominator)


def test_targets_owners_and_verdicts() -> None:
    cohort = report(C)
    mqls = cohort.find(Kpi.MQL_COUNT)
    assert mqls.target is not None and mqls.target.value == 300 and mqls.met is False
    assert mqls.owners == ("marketing",) and mqls.change == 5
    rate = cohort.find(Kpi.MQL_TO_SQL_RATE)
    assert rate.target is not None and rate.target.value == 0.3 and rate.met is True
    assert rate.owners == ("inside_sales",)  # as the example pact's target says
    sla = cohort.find(Kpi.SLA_COMPLIANCE)
    assert sla.target is None and sla.owners == ("marketing", "inside_sales", "field_sales")
    inside = cohort.find(Kpi.SLA_COMPLIANCE, department="inside_sales")
    assert inside.target is not None and inside.target.value == 0.9 and inside.met is False
    assert inside.owners == ("inside_sales",)
    neglected = cohort.find(Kpi.NEGLECTED_LEADS, department="marketing")
    assert neglected.target is None and neglected.value == 1 and neglected.owners == ("marketing",)
    assert cohort.find(Kpi.RECYCLE_RATE).target is None


@pytest.mark.parametrize(
    ("kpi", "period", "expected"),
    [
        (Kpi.MQL_COUNT, "2026-Q3", 300.0),
        (Kpi.MQL_COUNT, "2026-10", 100.0),
        (Kpi.MQL_COUNT, "2026-H1", 600.0),
        (Kpi.MQL_COUNT, "2026-10-01..2026-10-14", 300 * 14 / (365.25 / 12) / 3),
        (Kpi.MQL_TO_SQL_RATE, "2026-10", 0.3),  # a share is not scaled
        (Kpi.TIME_TO_FIRST_CONTACT_HOURS, "2026-Q3", None),  # no target in the example pact
    ],
)
def test_a_count_target_scales_with_the_period(kpi: Kpi, period: str, expected: float | None) -> None:
    found = target_of(PACT, kpi, parse_period(period))
    assert (found.value if found else None) == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("kpi", "owners"),
    [
        (Kpi.RE_MQL_COUNT, ("marketing",)),
        (Kpi.MQL_TO_SAL_RATE, ("inside_sales",)),
        (Kpi.TIME_TO_FIRST_CONTACT_HOURS, ("inside_sales",)),
        (Kpi.RECYCLE_RATE, ("marketing",)),
        (Kpi.SQL_WITHOUT_MQL, ("inside_sales", "field_sales")),
        (Kpi.SQL_TO_OPPORTUNITY_RATE, ("field_sales",)),
    ],
)
def test_a_kpi_without_a_target_belongs_to_its_default_owners(kpi: Kpi, owners: tuple[str, ...]) -> None:
    assert owners_of(PACT, kpi) == owners


def test_the_joint_default_owners_of_the_mql_to_sql_rate() -> None:
    untargeted = PACT.model_copy(update={"kpi_targets": ()})
    assert owners_of(untargeted, Kpi.MQL_TO_SQL_RATE) == ("marketing", "inside_sales")


def test_grouped_by_owner_and_team() -> None:
    decided = report(P, GroupBy.OWNER)
    # every group of the report has a row for every KPI: 鈴木 (field sales) decided no MQL
    accepted = [(g, decided.find_group(Kpi.MQL_TO_SAL_RATE, g).figure) for g in decided.groups()]
    assert [(g, f.numerator, f.denominator) for g, f in accepted] == [
        ("山本", 1, 2),  # lead 2 recycled, then accepted
        ("田中", 3, 3),  # leads 1, 5, 8
        ("鈴木", 0, 0),
        (None, 2, 2),  # leads 3 and 6, never assigned
    ]
    by_owner = report(C, GroupBy.OWNER)
    tanaka = by_owner.find_group(Kpi.TIME_TO_FIRST_CONTACT_HOURS, "田中").figure
    assert (tanaka.value, tanaka.numerator, tanaka.denominator) == (54.5, 2, 2)  # leads 1 (3 h) and 8 (106 h)
    yamamoto = by_owner.find_group(Kpi.TIME_TO_FIRST_CONTACT_HOURS, "山本").figure
    assert (yamamoto.value, yamamoto.numerator, yamamoto.denominator) == (48.0, 1, 2)  # lead 7 not reached
    nobody = by_owner.find_group(Kpi.TIME_TO_FIRST_CONTACT_HOURS, None).figure
    assert (nobody.value, nobody.numerator, nobody.denominator) == (None, 0, 2)  # leads 3 and 6: no leads measured
    team = report(C, GroupBy.TEAM).find_group(Kpi.TIME_TO_FIRST_CONTACT_HOURS, "inside_sales").figure
    assert (team.value, team.numerator, team.denominator) == (48.0, 3, 4)


def test_grouped_by_source_with_the_previous_period() -> None:
    found = report(C, GroupBy.SOURCE)
    ad = found.find_group(Kpi.MQL_COUNT, "ad")
    assert (ad.value, ad.previous.value, ad.lead_ids()) == (3, 1, [1, 2, 7])
    assert found.find_group(Kpi.MQL_COUNT, "seminar").value == 2
    referral = report(P, GroupBy.SOURCE).find_group(Kpi.SQL_WITHOUT_MQL, "referral")
    assert referral.value == 1 and referral.previous.value == 0


def test_grouped_by_pact_version() -> None:
    versioned = History.of_entries(
        [move(1, jst(7, 1), "lead", "mql"), _with_version(move(2, jst(7, 2), "lead", "mql"), 2)],
        leads=LeadGroups.of_leads({}),
    )
    found = kpi_report(versioned, PACT, CALENDAR, Q3, C, NOW, GroupBy.PACT_VERSION)
    assert [(g, found.find_group(Kpi.MQL_COUNT, g).value) for g in found.groups()] == [("1", 1), ("2", 1)]


def _with_version(entry: LedgerEntry, version: int) -> LedgerEntry:
    return replace(entry, pact_version=version)


def test_the_cohort_funnel_and_time_in_stage() -> None:
    cohort = report(C)
    assert cohort.funnel.months == ("2026-07", "2026-09")
    assert cohort.funnel.reached.tolist() == [[5, 5, 3, 1, 1], [1, 0, 0, 0, 0]]
    stays = {s.stage.value: (s.stays, s.median_hours) for s in cohort.time_in_stage if s.stays}
    # mql: 4 120 24 72 48 169 → 60; sal: lead 1's 116; sql: 48 and 96; opportunity 624; recycled: lead 2's 648
    assert stays == {
        "mql": (6, 60.0),
        "sal": (1, 116.0),
        "sql": (2, 72.0),
        "opportunity": (1, 624.0),
        "recycled": (1, 648.0),
    }


def test_the_period_funnel_counts_stage_entries() -> None:
    entries = report(P).funnel
    # July: first MQLs 1 2 3 6 8; SAL 1 3 5 6 8 (skips count); SQL 1 3 4 6; opportunity 1 4; August: re-MQL and
    # SAL of lead 2, won 1, lost 4 (an opportunity, already counted in July); September: lead 7.
    assert entries.months == ("2026-07", "2026-08", "2026-09")
    assert entries.reached.tolist() == [[5, 5, 4, 2, 0], [0, 1, 0, 0, 1], [1, 0, 0, 0, 0]]


def test_a_period_without_data_has_zeros_and_no_values() -> None:
    empty = report(C, period="2025-Q1")
    assert empty.leads == 0
    assert empty.find(Kpi.MQL_COUNT).value == 0
    assert empty.find(Kpi.MQL_TO_SQL_RATE).value is None
    assert empty.find(Kpi.TIME_TO_FIRST_CONTACT_HOURS).value is None
    assert empty.funnel.months == ()
    nothing = History.of_entries([])
    assert kpi_report(nothing, None, CALENDAR, Q3, C, NOW, GroupBy.SOURCE).find(Kpi.SLA_COMPLIANCE).value is None


def test_merged_leads_count_once_as_their_survivor() -> None:
    entries = [move(1, jst(7, 1), "lead", "mql"), move(2, jst(7, 3), "lead", "mql"), move(2, jst(7, 6), "mql", "sal")]
    merged = History.of_entries(entries, merged={2: 1})
    found = kpi_report(merged, PACT, CALENDAR, Q3, C, NOW)
    assert found.find(Kpi.MQL_COUNT).lead_ids() == [1]
    assert found.find(Kpi.MQL_TO_SAL_RATE).value == 1.0
    assert found.find(Kpi.RE_MQL_COUNT).value == 0  # the second record's MQL is no return from nurture


def test_now_is_a_time_machine() -> None:
    earlier = kpi_report(HISTORY, PACT, CALENDAR, Q3, C, jst(7, 6, 12))
    assert earlier.find(Kpi.MQL_COUNT).value == 3  # leads 1 2 3
    assert earlier.find(Kpi.MQL_TO_SQL_RATE).value == pytest.approx(2 / 3)  # 1 and 3 by then
    assert earlier.find(Kpi.NEGLECTED_LEADS).value == 1  # lead 3's handoff, late since 7/4
    sla = earlier.find(Kpi.SLA_COMPLIANCE)  # a b c d met; e late; j started at 10:00 and not due
    assert (sla.figure.numerator, sla.figure.denominator) == (4, 5)


@pytest.mark.parametrize(
    ("attributes", "segment"),
    [
        ({"segment": "enterprise", "employees": 10}, "enterprise"),
        ({"segment": "  ", "employees": 10}, "size:1-99"),
        ({"employees": 99}, "size:1-99"),
        ({"employees": 100}, "size:100-299"),
        ({"employees": 999.0}, "size:300-999"),
        ({"employees": 1000}, "size:1000+"),
        ({"employees": 0}, None),
        ({"employees": "many"}, None),
        ({"employees": True}, None),
        ({}, None),
    ],
)
def test_segment_of(attributes: dict[str, object], segment: str | None) -> None:
    assert segment_of(attributes) == segment


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (GroupBy, "region", "unknown group-by field 'region'; choose one of: source, campaign, segment, owner, team, pact_version"),  # noqa: E501
        (View, "weekly", "unknown view 'weekly'; choose one of: cohort, period"),
        (Kpi, "mql_rate", "unknown KPI 'mql_rate'; choose one of: mql_count, re_mql_count, mql_to_sal_rate"),
    ],
)  # fmt: skip
def test_an_unknown_name_lists_the_valid_ones(kind: type, text: str, message: str) -> None:
    what = {GroupBy: "group-by field", View: "view", Kpi: "KPI"}[kind]
    with pytest.raises(UnknownChoice, match=message.replace("(", r"\(")):
        choose(kind, text, what)
    assert choose(GroupBy, " Source ", "group-by field") is GroupBy.SOURCE


# --- the column helpers, against plain loops ------------------------------------------------------------------

pairs = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(pairs)
def test_lead_time_order_is_a_stable_sort_by_lead_then_time(rows: list[tuple[int, int]]) -> None:
    lead = np.array([r[0] for r in rows], dtype=np.int64)
    at = np.array([r[1] for r in rows], dtype=np.int64)
    assert lead_time_order(lead, at).tolist() == sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))


@settings(max_examples=200, deadline=None)
@given(pairs, pairs)
def test_latest_and_earliest_events_of_a_lead(events: list[tuple[int, int]], queries: list[tuple[int, int]]) -> None:
    events = sorted(events)
    lead, at = (np.array([e[i] for e in events], dtype=np.int64) for i in (0, 1))
    q_lead, q_at = (np.array([q[i] for q in queries], dtype=np.int64) for i in (0, 1))
    latest = [max((i for i, e in enumerate(events) if e[0] == ql and e[1] <= qa), default=-1) for ql, qa in queries]
    earliest = [min((i for i, e in enumerate(events) if e[0] == ql and e[1] >= qa), default=-1) for ql, qa in queries]
    assert _latest(lead, at, q_lead, q_at).tolist() == latest
    assert _earliest(lead, at, q_lead, q_at).tolist() == earliest


def test_micros_and_never() -> None:
    assert micros([None, datetime(1970, 1, 1, 9, 0, 0, 1, tzinfo=JST)]).tolist() == [NEVER, 1]


@pytest.mark.parametrize(
    ("cycle", "now", "label"),
    [
        (ReviewCycle.QUARTERLY, datetime(2026, 11, 24, 15, tzinfo=JST), "2026-Q3"),
        (ReviewCycle.QUARTERLY, datetime(2026, 9, 30, 23, 30, tzinfo=ZoneInfo("UTC")), "2026-Q3"),  # 10/1 in Tokyo
        (ReviewCycle.QUARTERLY, datetime(2026, 2, 1, tzinfo=JST), "2025-Q4"),
        (ReviewCycle.MONTHLY, datetime(2026, 1, 15, tzinfo=JST), "2025-12"),
        (ReviewCycle.SEMIANNUAL, datetime(2026, 11, 24, tzinfo=JST), "2026-H1"),
        (ReviewCycle.ANNUAL, datetime(2026, 11, 24, tzinfo=JST), "2025"),
    ],
)
def test_the_last_whole_review_period(cycle: ReviewCycle, now: datetime, label: str) -> None:
    assert last_review_period(cycle, now, "Asia/Tokyo").label == label


def test_the_previous_period_is_taken_like_for_like() -> None:
    # Now 9/30 09:00 is 91 days into Q3; Q2 is taken as it stood 91 days in, on 7/1 09:00: lead 5's
    # acceptance at 10:00 that day had not happened yet.
    found = kpi_report(HISTORY, PACT, CALENDAR, Q3, C, jst(9, 30, 9))
    assert found.previous_now == jst(7, 1, 9)
    assert found.find(Kpi.MQL_TO_SAL_RATE).previous.value == 0.0
    assert report(C).find(Kpi.MQL_TO_SAL_RATE).previous.value == 1.0  # a day later it had
