"""What each department answers for: breaches, charged rejections and a missed KPI decomposed (hand-worked).

The calendar is the example pact's (Tokyo, Monday to Friday, JP holidays, a business day of 24 h)
or an office calendar of 09:00–18:00 where the routing delay needs business hours.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpact.domain.accountability import (
    Breaches,
    ChargedRejection,
    DecidedRun,
    Decision,
    Fault,
    against_target,
    breaches,
    charged,
    owned,
    quality,
    reasons,
    short_by,
    speed,
    splits,
    versions_in_force,
    volume,
)
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.disputes import Charge, RejectionStatus, RejectionVerdict
from leadpact.domain.kpis import DEFINITIONS, Figure, GroupBy, Items, KpiResult, Target
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import Calendar, Kpi, KpiPeriod
from leadpact.domain.rejection import Rejection
from leadpact.domain.sla import Holding, TimeSplit, split_elapsed
from tests.factories import example_document
from tests.unit.test_clock_verdicts import calendars

JST = ZoneInfo("Asia/Tokyo")
CALENDAR = BusinessCalendar.of(example_document().pact.calendar)
OFFICE = BusinessCalendar.of(Calendar.model_validate({"hours": {"open": "09:00", "close": "18:00"}}))
H = timedelta(hours=1)


def jst(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JST)


# --- breaches -------------------------------------------------------------------------------------------


def run(
    lead: int,
    start: datetime,
    due: datetime,
    stop: datetime | None,
    owner: str | None,
    responsible: str = "inside_sales",
    clock: str = "is_first_contact",
    holdings: tuple[Holding, ...] = (),
    calendar: BusinessCalendar = CALENDAR,
    handoff: bool = False,
) -> DecidedRun:
    return DecidedRun(lead, clock, responsible, handoff, start, due, stop, owner, calendar, holdings)


def test_the_time_split_of_many_runs_is_the_one_of_split_elapsed() -> None:
    # field sales' meeting clock: SQL Mon 4/6 10:00, the rep from Wed 4/8 10:00, no meeting by Mon 4/13 10:00
    def april(day: int, hour: int) -> datetime:
        return datetime(2026, 4, day, hour, tzinfo=JST)

    routed = (Holding(april(1, 0), "inside_sales"), Holding(april(8, 10), "field_sales"))
    late = run(1, april(6, 10), april(13, 10), None, "鈴木", "field_sales", "fs_meeting", routed, OFFICE)
    handoff = run(2, april(6, 10), april(7, 10), april(7, 20), None, "marketing", "mql_handoff", (), OFFICE, True)
    never = run(3, april(6, 10), april(6, 12), april(7, 10), None, "field_sales")
    now = datetime(2026, 4, 13, 10, tzinfo=JST)
    assert splits([late, handoff, never], now) == [
        TimeSplit(routing=18 * H, own=27 * H, off_hours=7 * 24 * H - 45 * H),  # docs/sla.md's example
        TimeSplit(routing=0 * H, own=17 * H, off_hours=34 * H - 17 * H),  # handing over is marketing's own work
        TimeSplit(routing=24 * H, own=0 * H, off_hours=0 * H),  # never reached field sales: all routing delay
    ]


INSTANTS = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))
DEPARTMENT = st.sampled_from(["inside_sales", "field_sales", None])


@settings(max_examples=100, deadline=None)
@given(
    calendars(),
    INSTANTS,
    st.timedeltas(timedelta(0), timedelta(days=30)),
    st.lists(st.tuples(st.timedeltas(-timedelta(days=5), timedelta(days=35)), DEPARTMENT), max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_the_time_split_agrees_with_split_elapsed(
    calendar: BusinessCalendar,
    start: datetime,
    length: timedelta,
    owners: list[tuple[timedelta, str | None]],
    handoff: bool,
    running: bool,
) -> None:
    holdings = tuple(Holding(start + offset, department) for offset, department in sorted(owners, key=lambda o: o[0]))
    now = start + length
    found = run(1, start, start, None if running else now, None, "field_sales", "x", holdings, calendar, handoff)
    (split,) = splits([found], now)
    assert split == split_elapsed(calendar, start, now, "field_sales", holdings, handoff)


def test_breaches_by_rep_and_clock_add_up() -> None:
    now = jst(7, 31)
    held = (Holding(jst(6, 1), "inside_sales"),)  # a rep of inside sales had the lead from before
    runs = [
        run(1, jst(7, 1), jst(7, 7, 0), jst(7, 10), "山本", holdings=held),  # late
        run(2, jst(7, 2), jst(7, 8, 0), None, "山本", holdings=held),  # late, still running
        run(3, jst(7, 3), jst(7, 9, 0), jst(7, 3, 15), "山本", holdings=held),  # met
        run(4, jst(7, 6), jst(7, 10, 0), jst(7, 6, 11), "田中", holdings=held),  # met
        run(5, jst(7, 6), jst(7, 7), jst(7, 8), None, clock="fs_meeting"),  # late; nobody held it: routing delay
        run(1, jst(7, 6), jst(7, 7), jst(7, 9), "佐藤", responsible="marketing", clock="mql_handoff"),  # not theirs
    ]
    found = breaches(runs, "inside_sales", now)
    assert (found.decided, found.late, found.leads) == (5, 3, 3)
    assert [(o.owner, o.late, o.decided) for o in found.owners] == [("山本", 2, 3), (None, 1, 1), ("田中", 0, 1)]
    assert [(c.clock, c.late, c.decided) for c in found.clocks] == [("is_first_contact", 2, 4), ("fs_meeting", 1, 1)]
    assert [b.run.lead_id for b in found.items] == [1, 5, 2]  # earliest due first
    assert found.split.own == sum((b.split.own for b in found.items), timedelta())
    assert found.owners[0].own == found.items[0].split.own + found.items[2].split.own
    # lead 1: Wed 7/1 10:00 → Fri 7/10 10:00, one weekend: 7 business days of inside sales' own time
    assert found.items[0].split == TimeSplit(routing=0 * H, own=7 * 24 * H, off_hours=2 * 24 * H)
    assert found.items[1].split == TimeSplit(routing=48 * H, own=0 * H, off_hours=0 * H)  # lead 5: Mon → Wed


def test_no_runs_no_breaches() -> None:
    assert breaches([], "marketing", jst(7, 31)) == Breaches(
        "marketing", 0, 0, 0, TimeSplit(timedelta(), timedelta(), timedelta()), (), (), ()
    )


# --- rejections ------------------------------------------------------------------------------------------


def rejection(
    seq: int, lead: int, reason: str, to: Stage = Stage.RECYCLED, department: str = "inside_sales"
) -> Rejection:
    return Rejection(seq, lead, jst(7, 10), Stage.SAL, to, reason, "メモ", "田中", department, 1)


def verdict(
    seq: int,
    lead: int,
    reason: str,
    status: RejectionStatus,
    to: Stage = Stage.RECYCLED,
    department: str = "inside_sales",
) -> RejectionVerdict:
    charge, charged_to = {
        RejectionStatus.UNDISPUTED: (Charge.LEAD_QUALITY, "marketing"),
        RejectionStatus.UPHELD: (Charge.LEAD_QUALITY, "marketing"),
        RejectionStatus.OVERTURNED: (Charge.SALES_ACCEPTANCE, department),
        RejectionStatus.PENDING: (None, None),
    }[status]
    return RejectionVerdict(rejection(seq, lead, reason, to, department), status, None, charge, charged_to)


U, P, UP, OV = RejectionStatus.UNDISPUTED, RejectionStatus.PENDING, RejectionStatus.UPHELD, RejectionStatus.OVERTURNED
ITEMS = [
    ChargedRejection(verdict(10, 1, "no_budget", U), "ad", after_late_clock=True),
    ChargedRejection(verdict(11, 2, "no_budget", UP), "ad", after_late_clock=False),
    ChargedRejection(verdict(12, 3, "no_budget", U), "seminar", after_late_clock=False),
    ChargedRejection(verdict(13, 4, "bad_timing", U), None, after_late_clock=True),
    ChargedRejection(verdict(14, 5, "out_of_target", U, Stage.DISQUALIFIED), "ad", after_late_clock=False),
    ChargedRejection(verdict(15, 6, "bad_timing", OV), "ad", after_late_clock=False),
    ChargedRejection(verdict(16, 7, "bad_timing", OV, department="field_sales"), "web", after_late_clock=True),
    ChargedRejection(verdict(17, 8, "no_budget", P), "ad", after_late_clock=False),
]


def test_rejections_by_reason_name_their_sources_most_first() -> None:
    lines = reasons(ITEMS[:5])
    assert [(r.kind, r.code, r.count, r.sources, r.after_late_clock, r.entries) for r in lines] == [
        ("recycle", "no_budget", 3, (("ad", 2), ("seminar", 1)), 1, (10, 11, 12)),
        ("recycle", "bad_timing", 1, ((None, 1),), 1, (13,)),
        ("disqualify", "out_of_target", 1, (("ad", 1),), 0, (14,)),
    ]


def test_undisputed_and_upheld_rejections_are_marketings_overturned_ones_the_rejecters_pending_nobodys() -> None:
    (marketing,) = charged(ITEMS, "marketing")
    assert (marketing.charge, marketing.count, marketing.after_late_clock) == (Charge.LEAD_QUALITY, 5, 2)
    (inside,) = charged(ITEMS, "inside_sales")
    assert (inside.charge, inside.count, [r.entries for r in inside.reasons]) == (Charge.SALES_ACCEPTANCE, 1, [(15,)])
    (field,) = charged(ITEMS, "field_sales")
    assert (field.count, field.after_late_clock) == (1, 1)
    assert sum(c.count for d in ("marketing", "inside_sales", "field_sales") for c in charged(ITEMS, d)) == 7  # not 17


# --- a missed KPI ------------------------------------------------------------------------------------------


def items(counted: list[bool], waited_hours: list[float] | None = None) -> Items:
    n = len(counted)
    none = np.full(n, -1, dtype=np.int64)
    waited = none if waited_hours is None else np.array([int(h * 3_600_000_000) for h in waited_hours], dtype=np.int64)
    return Items(
        lead=np.arange(1, n + 1, dtype=np.int64),
        at=np.arange(n, dtype=np.int64),
        counted=np.array(counted, dtype=np.bool_),
        waited=waited,
        days=none,
        version=np.ones(n, dtype=np.int64),
        owner=none,
        clock=none,
        department=none,
    )


def result(
    kpi: Kpi,
    numerator: int,
    denominator: int,
    target: float | None = None,
    previous: tuple[int, int] = (0, 0),
    group: str | None = None,
    owners: tuple[str, ...] = ("inside_sales",),
    department: str | None = None,
) -> KpiResult:
    unit = DEFINITIONS[kpi].unit.value

    def figure(n: int, d: int) -> Figure:
        if unit == "count":
            return Figure(float(n), n, n)
        return Figure(n / d if d else None, n, d)

    return KpiResult(
        kpi=kpi,
        figure=figure(numerator, denominator),
        previous=figure(*previous),
        owners=owners,
        target=Target(target, target, KpiPeriod.QUARTER, owners[0]) if target is not None else None,
        items=items([True] * numerator + [False] * (denominator - numerator)),
        group=group,
        department=department,
    )


@pytest.mark.parametrize(
    ("kpi", "numerator", "denominator", "target", "expected"),
    [
        (Kpi.MQL_TO_SQL_RATE, 99, 369, 0.3, 12),  # 0.3 × 369 = 110.7: 111 SQLs needed
        (Kpi.MQL_TO_SQL_RATE, 2, 10, 0.3, 1),  # 0.3 × 10 is 3, not 3.0000000000000004: one more, not two
        (Kpi.MQL_TO_SQL_RATE, 3, 6, 0.5, 0),  # met
        (Kpi.RECYCLE_RATE, 5, 10, 0.3, 2),  # lower is better: at most 3 recycles of 10
        (Kpi.MQL_COUNT, 8, 8, 300, 292),
        (Kpi.NEGLECTED_LEADS, 5, 5, 2, 3),
        (Kpi.SLA_COMPLIANCE, 6, 9, 0.9, 3),  # 8.1: 9 met needed
        (Kpi.TIME_TO_FIRST_CONTACT_HOURS, 3, 3, 24, None),  # a wait: no count of items makes a median
        (Kpi.MQL_TO_SQL_RATE, 2, 10, None, None),  # no target
        (Kpi.MQL_TO_SQL_RATE, 0, 0, 0.3, None),  # no leads
    ],
)
def test_how_many_items_short_of_the_target(
    kpi: Kpi, numerator: int, denominator: int, target: float | None, expected: int | None
) -> None:
    assert short_by(result(kpi, numerator, denominator, target)) == expected


def test_a_counts_change_by_source_adds_up() -> None:
    total = result(Kpi.MQL_COUNT, 8, 8, previous=(2, 2))
    groups = [
        result(Kpi.MQL_COUNT, 2, 2, previous=(1, 1), group="seminar"),
        result(Kpi.MQL_COUNT, 4, 4, previous=(1, 1), group="ad"),
        result(Kpi.MQL_COUNT, 0, 0, group="exhibition"),  # in neither period: left out
        result(Kpi.MQL_COUNT, 2, 2, group=None),
    ]
    found = volume(total, groups)
    assert [(v.group, v.now.numerator, v.before.numerator) for v in found.lines] == [
        ("ad", 4, 1),
        ("seminar", 2, 1),
        (None, 2, 0),
    ]
    assert (found.change, found.mix, found.within) == (6, None, None)


@pytest.mark.parametrize(
    ("now", "before", "change", "mix", "within"),
    [
        # ad 1/4 (was 1/1), seminar 0/1 (0/1), web_form 1/1 (new): mix (4/6 − 1/2)·1 + (1/6 − 1/2)·0 + 1/6·1,
        # within 4/6·(1/4 − 1)
        (
            {"ad": (1, 4), "seminar": (0, 1), "web_form": (1, 1)},
            {"ad": (1, 1), "seminar": (0, 1)},
            -1 / 6,
            1 / 3,
            -1 / 2,
        ),
        # ad 1/4 (was 1/2); seminar gone (was 1/1): mix (1 − 2/3)·1/2 + (0 − 1/3)·1, within 1·(1/4 − 1/2)
        ({"ad": (1, 4)}, {"ad": (1, 2), "seminar": (1, 1)}, 1 / 4 - 2 / 3, -1 / 6, -1 / 4),
        # the same mix, every rate down by 10 points: all of it within sources
        ({"ad": (2, 10), "seminar": (4, 10)}, {"ad": (3, 10), "seminar": (5, 10)}, -0.1, 0.0, -0.1),
    ],
)
def test_a_rates_change_splits_into_source_mix_and_within_sources(
    now: dict[str, tuple[int, int]], before: dict[str, tuple[int, int]], change: float, mix: float, within: float
) -> None:
    def total(figures: dict[str, tuple[int, int]]) -> tuple[int, int]:
        return sum(n for n, _ in figures.values()), sum(d for _, d in figures.values())

    row = result(Kpi.MQL_TO_SQL_RATE, *total(now), previous=total(before))
    groups = [
        result(Kpi.MQL_TO_SQL_RATE, *now.get(s, (0, 0)), previous=before.get(s, (0, 0)), group=s)
        for s in sorted(set(now) | set(before))
    ]
    found = volume(row, groups)
    assert found.change == pytest.approx(change)
    assert (found.mix, found.within) == (pytest.approx(mix), pytest.approx(within))
    assert found.mix + found.within == pytest.approx(found.change)  # type: ignore[operator]


def test_a_rate_without_a_previous_figure_has_no_split() -> None:
    found = volume(result(Kpi.MQL_TO_SQL_RATE, 1, 2), [result(Kpi.MQL_TO_SQL_RATE, 1, 2, group="ad")])
    assert (found.change, found.mix, found.within) == (None, None, None)


def decision(lead: int, against: bool, status: RejectionStatus | None = None, **fields: Any) -> Decision:
    found = verdict(100 + lead, lead, fields.pop("reason", "no_budget"), status) if status is not None else None
    return Decision(lead, jst(7, 10), against, verdict=found, **fields)


DECISIONS = [
    decision(1, False),
    decision(2, True, U, source="ad", to_stage=Stage.RECYCLED, late_clocks=("is_first_contact",)),
    decision(3, True, UP, source="ad", to_stage=Stage.RECYCLED),
    decision(4, True, OV, source="seminar", to_stage=Stage.RECYCLED, reason="bad_timing"),
    decision(5, True, P, source="ad", to_stage=Stage.RECYCLED, late_clocks=("is_first_contact", "mql_handoff")),
    decision(6, True, to_stage=Stage.RECYCLED),  # marketing recycling its own MQL: no rejection
    decision(7, True, to_stage=Stage.LEAD),
    decision(8, False, late_clocks=("mql_handoff",)),
]


def test_the_items_against_the_target_by_what_they_were_add_up() -> None:
    found = quality(DECISIONS)
    assert found.against == 6
    assert [(q.fault, q.charged_to, q.count, q.leads) for q in found.lines] == [
        (Fault.LEAD_QUALITY, "marketing", 2, (2, 3)),
        (Fault.SALES_ACCEPTANCE, "inside_sales", 1, (4,)),
        (Fault.PENDING, None, 1, (5,)),
        (Fault.NO_REJECTION, None, 2, (6, 7)),
    ]
    assert sum(q.count for q in found.lines) == found.against
    (no_budget,) = found.lines[0].reasons
    assert (no_budget.count, no_budget.sources, no_budget.after_late_clock) == (2, (("ad", 2),), 1)
    assert found.lines[3].moves == ((Stage.LEAD, 1), (Stage.RECYCLED, 1))


def test_the_items_after_a_late_clock_of_the_step() -> None:
    found = speed(DECISIONS, ("is_first_contact", "mql_handoff"))
    assert (found.items, found.late, found.against, found.against_late) == (8, 3, 6, 2)
    assert found.by_clock == (("is_first_contact", 2), ("mql_handoff", 1))  # lead 5 counts under both
    assert found.leads == (2, 5)
    assert (found.against_share_late, found.against_share_on_time) == (pytest.approx(2 / 3), pytest.approx(4 / 5))
    assert speed([], ()).against_share_late is None


def test_against_the_target_depends_on_the_kind_of_kpi() -> None:
    rate = result(Kpi.MQL_TO_SQL_RATE, 2, 3, 0.5)
    assert against_target(rate).tolist() == [False, False, True]  # the decision that did not reach SQL
    recycled = result(Kpi.RECYCLE_RATE, 2, 3, 0.3)
    assert against_target(recycled).tolist() == [True, True, False]  # the recycles
    waits = KpiResult(
        Kpi.TIME_TO_FIRST_CONTACT_HOURS,
        Figure(30.0, 3, 3),
        Figure(None, 0, 0),
        ("inside_sales",),
        Target(24, 24, KpiPeriod.QUARTER, "inside_sales"),
        items([True] * 3, [10, 30, 48]),
    )
    assert against_target(waits).tolist() == [False, True, True]  # longer than 24 h
    assert against_target(result(Kpi.MQL_COUNT, 3, 3, 10)).tolist() == [False, False, False]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (jst(4, 1, 0), jst(7, 1, 0), [1]),  # Q2: v1 from 5/1
        (jst(4, 1, 0), jst(10, 1, 0), [1, 2]),  # Q2 and Q3: v2 from 8/1
        (jst(8, 2, 0), jst(10, 1, 0), [2]),
        (jst(3, 1, 0), jst(4, 1, 0), []),  # before any pact
        (jst(4, 1, 0), jst(5, 1), []),  # v1 only from the end on
    ],
)
def test_the_versions_in_force_in_a_stretch(start: datetime, end: datetime, expected: list[int]) -> None:
    activations = [(2, jst(8, 1)), (1, jst(5, 1)), (3, None)]  # v3: a draft never signed
    assert versions_in_force(activations, start, end) == expected


def test_a_department_answers_for_its_own_rows_and_the_kpis_it_owns_alone_or_jointly() -> None:
    joint = result(Kpi.MQL_TO_SQL_RATE, 1, 2, owners=("marketing", "inside_sales"))
    mine = result(Kpi.SLA_COMPLIANCE, 1, 2, owners=("marketing",), department="marketing")
    theirs = result(Kpi.SLA_COMPLIANCE, 1, 2, owners=("inside_sales",), department="inside_sales")
    total = result(Kpi.SLA_COMPLIANCE, 2, 4, owners=("marketing", "inside_sales"))
    grouped = replace(joint, by=GroupBy.SOURCE, group="ad")  # a group's row: the total is the one answered for
    assert owned([joint, mine, theirs, total, grouped], "marketing") == [joint, mine]
    assert owned([joint, mine, theirs, total, grouped], "inside_sales") == [joint, theirs]
