"""Time held by department: who holds a lead in each stage, and the business days each department held leads.

The calendar is the example pact's: Tokyo, Monday to Friday, no business hours (a business day
counts 24 h). The week of 2026-07-06 (Monday) has no holiday; 7/11 and 7/12 are a weekend.

    lead 1  lead→mql Mon 7/6 10:00 · 田中 (IS) 12:00 · mql→sal Tue 7/7 10:00 · sal→sql Thu 7/9 10:00
            · 鈴木 (FS) 16:00 · sql→opportunity Mon 7/13 10:00 · opportunity→won Wed 7/15 10:00
    lead 2  lead→mql Fri 7/10 10:00, never taken
    lead 3  lead→mql Fri 7/3 10:00 · 山本 (IS) 11:00 · mql→recycled Wed 7/8 10:00

Held, by department: marketing lead 1 7/6 10–12 (2 h), lead 2 from 7/10 10:00, lead 3 7/3 10–11;
inside sales lead 1 7/6 12:00 → 7/9 10:00 (mql 22 h, sal 48 h), lead 3 7/3 11:00 → 7/8 10:00 (71 h);
field sales lead 1 from 7/9 10:00 (the SQL is field sales' before 鈴木 has it) to the win.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.history import STAGES, micros
from leadpact.domain.holding import Held, StageHeld, holder, holders, holdings, segments
from leadpact.domain.holding import held as held_by
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import Department, Role
from tests.factories import example_document

JST = ZoneInfo("Asia/Tokyo")
PACT = example_document().pact
CALENDAR = BusinessCalendar.of(PACT.calendar)
DEPARTMENTS = ("marketing", "inside_sales", "field_sales")
OWNERS = ("山本", "田中", "鈴木")
TEAMS = ("inside_sales", "inside_sales", "field_sales")
SMALL = PACT.model_copy(
    update={
        "departments": (
            Department(id="marketing", name="マーケティング部", roles=(Role.MARKETING,)),
            Department(id="sales", name="営業部", roles=(Role.INSIDE_SALES, Role.FIELD_SALES)),
        )
    }
)


def jst(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JST)


@pytest.mark.parametrize(
    ("stage", "owner", "expected"),
    [
        (Stage.MQL, None, "marketing"),  # nobody has taken it: marketing still holds it
        (Stage.MQL, "inside_sales", "inside_sales"),  # an IS rep has it: theirs to work
        (Stage.MQL, "field_sales", "marketing"),  # field sales may not move an MQL on
        (Stage.MQL, "marketing", "marketing"),
        (Stage.MQL, "gone", "marketing"),  # not a department of the pact
        (Stage.SAL, None, "inside_sales"),
        (Stage.SAL, "field_sales", "inside_sales"),
        (Stage.SQL, "inside_sales", "field_sales"),  # before field sales takes it, the SQL is still theirs
        (Stage.SQL, "field_sales", "field_sales"),
        (Stage.OPPORTUNITY, None, "field_sales"),
        (Stage.LEAD, "inside_sales", None),  # nurture is nobody's wait
        (Stage.RECYCLED, None, None),
        (Stage.WON, "field_sales", None),
        (Stage.LOST, "field_sales", None),
        (Stage.DISQUALIFIED, None, None),
    ],
)
def test_who_holds_a_lead(stage: Stage, owner: str | None, expected: str | None) -> None:
    assert holder(PACT, stage, owner) == expected


@pytest.mark.parametrize(
    ("stage", "owner", "expected"),
    [
        (Stage.MQL, "sales", "sales"),
        (Stage.MQL, None, "marketing"),
        (Stage.SAL, None, "sales"),
        (Stage.SQL, None, "sales"),
    ],
)
def test_one_sales_department_with_both_roles_holds_every_sales_stage(
    stage: Stage, owner: str | None, expected: str
) -> None:
    assert holder(SMALL, stage, owner) == expected


def history(until: datetime | None = None) -> tuple[tuple[object, ...], tuple[object, ...]]:
    moves = [
        (1, jst(7, 6), "mql"),
        (1, jst(7, 7), "sal"),
        (1, jst(7, 9), "sql"),
        (1, jst(7, 13), "opportunity"),
        (1, jst(7, 15), "won"),
        (2, jst(7, 10), "mql"),
        (3, jst(7, 3), "mql"),
        (3, jst(7, 8), "recycled"),
    ]
    assigned = [(1, jst(7, 6, 12), "田中"), (1, jst(7, 9, 16), "鈴木"), (3, jst(7, 3, 11), "山本")]
    moves = [m for m in moves if until is None or m[1] <= until]
    assigned = [a for a in assigned if until is None or a[1] <= until]
    transitions = (
        np.array([m[0] for m in moves], dtype=np.int64),
        micros(m[1] for m in moves),
        np.array([STAGES.index(Stage(m[2])) for m in moves], dtype=np.int8),
    )
    owners = (
        np.array([a[0] for a in assigned], dtype=np.int64),
        micros(a[1] for a in assigned),
        np.array([OWNERS.index(a[2]) for a in assigned], dtype=np.int64),
    )
    return transitions, owners


def test_each_stretch_between_moves_and_assignments_is_held_by_one_department() -> None:
    transitions, owners = history()
    found = segments(transitions, owners, holders(PACT, DEPARTMENTS, TEAMS))  # type: ignore[arg-type]
    rows = list(zip(found.lead.tolist(), found.stage.tolist(), found.department.tolist(), strict=True))
    mql, sal, sql, opportunity = (STAGES.index(s) for s in (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY))
    marketing, inside, field = 0, 1, 2
    assert rows == [
        (1, mql, marketing),
        (1, mql, inside),
        (1, sal, inside),
        (1, sql, field),  # 田中 still has it, but only field sales may move an SQL on
        (1, sql, field),
        (1, opportunity, field),
        (2, mql, marketing),
        (3, mql, marketing),
        (3, mql, inside),
    ]  # won and recycled are nobody's
    spans = holdings(found)
    assert list(zip(spans.lead.tolist(), spans.department.tolist(), strict=True)) == [
        (1, marketing),
        (1, inside),
        (1, field),
        (2, marketing),
        (3, marketing),
        (3, inside),
    ]
    assert spans.end[2] == micros([jst(7, 15)])[0] and spans.end[3] > micros([jst(12, 31)])[0]  # lead 2: still held


H = 1 / 24  # an hour, in business days


def test_time_held_in_a_week_after_it() -> None:
    transitions, owners = history()
    found = segments(transitions, owners, holders(PACT, DEPARTMENTS, TEAMS))  # type: ignore[arg-type]
    start, end = (int(micros([at])[0]) for at in (jst(7, 6, 0), jst(7, 13, 0)))
    marketing, inside, field = held_by(found, DEPARTMENTS, CALENDAR, start, end, int(micros([jst(7, 20, 9)])[0]))
    # lead 1 2 h, lead 2 Fri 10:00 → the week's end 14 h (the weekend is off); lead 3's hour was before the week
    assert marketing == Held(
        "marketing", 2, pytest.approx(16 * H), (StageHeld(Stage.MQL, pytest.approx(16 * H), 1, pytest.approx(2 * H)),),
        ended=1, ended_median=pytest.approx(2 * H), still=1, still_median=pytest.approx(14 * H), still_leads=(2,),
    )  # fmt: skip
    # lead 1 22 h in mql and 48 h in sal; lead 3 Mon 00:00 → Wed 10:00 58 h in the week (71 h in all)
    assert inside == Held(
        "inside_sales", 2, pytest.approx(128 * H),
        (
            StageHeld(Stage.MQL, pytest.approx(80 * H), 2, pytest.approx(46.5 * H)),  # stays of 22 h and 71 h
            StageHeld(Stage.SAL, pytest.approx(48 * H), 1, pytest.approx(48 * H)),
        ),
        ended=2, ended_median=pytest.approx(70.5 * H), still=0, still_median=None, still_leads=(),
    )  # fmt: skip
    # lead 1 from Thu 10:00 to the week's end: 38 h, all of them in sql (one stay, whoever had it), which
    # goes on to 7/13, and its holding to 7/15
    assert field == Held(
        "field_sales", 1, pytest.approx(38 * H), (StageHeld(Stage.SQL, pytest.approx(38 * H), 0, None),),
        ended=0, ended_median=None, still=1, still_median=pytest.approx(38 * H), still_leads=(1,),
    )  # fmt: skip


def test_time_held_in_a_week_not_over_yet_counts_up_to_now() -> None:
    now = jst(7, 9, 13)
    transitions, owners = history(until=now)  # the history as it stood then
    found = segments(transitions, owners, holders(PACT, DEPARTMENTS, TEAMS))  # type: ignore[arg-type]
    start, end = (int(micros([at])[0]) for at in (jst(7, 6, 0), jst(7, 13, 0)))
    marketing, inside, field = held_by(found, DEPARTMENTS, CALENDAR, start, end, int(micros([now])[0]))
    assert (marketing.business_days, marketing.ended, marketing.still) == (pytest.approx(2 * H), 1, 0)
    assert (inside.business_days, inside.ended, inside.ended_median) == (
        pytest.approx(128 * H),
        2,
        pytest.approx(70.5 * H),
    )
    assert (field.business_days, field.still, field.still_median) == (pytest.approx(3 * H), 1, pytest.approx(3 * H))


def test_nothing_held_is_zero_with_no_median() -> None:
    empty = np.zeros(0, dtype=np.int64)
    found = segments((empty, empty, empty.astype(np.int8)), (empty, empty, empty), holders(PACT, DEPARTMENTS, TEAMS))
    for row in held_by(found, DEPARTMENTS, CALENDAR, 0, 10**15, 10**15):
        assert (row.leads, row.business_days, row.stages, row.ended_median, row.still_median) == (
            0,
            0.0,
            (),
            None,
            None,
        )
