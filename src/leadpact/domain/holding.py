"""Time held: how long each department held leads, read from the ledger's stage moves and assignments.

A lead is **held** while it waits in a funnel stage for someone to act on it: `mql`, `sal`, `sql`,
`opportunity`. Nurture (`lead`, `recycled`) and outcomes (`won`, `lost`, `disqualified`) are
nobody's wait. Each moment a lead is held is charged to one department (`holder`):

* the department owning the stage (`lifecycle.OWNING_ROLE`): an MQL nobody has taken yet is
  marketing's, an SQL field sales' from the moment it becomes one;
* unless the lead's owner then belongs to another department that may move the lead on from
  the stage (the allowed-transitions table): an MQL assigned to an inside sales rep is inside
  sales' to work from the assignment, as the pact's first-contact clock holds it to.

The moments of one lead held by one department in a row make a **holding** (an MQL an inside sales
rep accepts into SAL stays one holding). Times are business time on the pact calendar, counted
in business days: a business day's hours when the pact sets business hours, else 24 hours.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.funnel import Floats, grouped_quantile
from leadpact.domain.history import NEVER, STAGES, Bools, Int8s, Int64s
from leadpact.domain.lifecycle import ALLOWED, Stage, owning_department
from leadpact.domain.pact import Pact
from leadpact.domain.sla import business_times

HELD: Final[tuple[Stage, ...]] = (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)


def holder(pact: Pact, stage: Stage, owner_department: str | None) -> str | None:
    """The department holding a lead in `stage` whose owner is of `owner_department` (None: no owner,
    or an owner who is not a user any more); None when the stage is nobody's wait."""
    if stage not in HELD:
        return None
    if owner_department is not None and pact.department(owner_department) is not None:
        roles = pact.roles_of(owner_department)
        if any(roles & move.roles for (frm, _), move in ALLOWED.items() if frm is stage):
            return owner_department
    return owning_department(pact, stage)


def business_day(calendar: BusinessCalendar) -> timedelta:
    """How long a business day is: its business hours, or the whole day."""
    if calendar.opens is not None and calendar.closes is not None:
        today = datetime(2000, 1, 1)
        return datetime.combine(today, calendar.closes) - datetime.combine(today, calendar.opens)
    return timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Segments:
    """Stretches of leads in one stage with one owner: the lead, the stage's code, the department
    holding it (a position in the departments given to `segments`, -1: nobody), and when the stretch
    began and ended (µs; NEVER: it has not ended)."""

    lead: Int64s
    stage: Int8s
    department: Int64s
    start: Int64s
    end: Int64s

    def __len__(self) -> int:
        return len(self.lead)

    def take(self, index: Bools | Int64s) -> Segments:
        return Segments(self.lead[index], self.stage[index], self.department[index], self.start[index], self.end[index])


def holders(pact: Pact, departments: Sequence[str], teams: Sequence[str | None]) -> Int64s:
    """The holder of each (stage code, owner code + 1) as a position in `departments` (-1: nobody);
    `teams` is each owner's department, and the last stage row stands for no stage at all."""
    table = np.full((len(STAGES) + 1, len(teams) + 1), -1, dtype=np.int64)
    position = {d: i for i, d in enumerate(departments)}
    for s, stage in enumerate(STAGES):
        for o, team in enumerate((None, *teams)):
            found = holder(pact, stage, team)
            table[s, o] = position.get(found, -1) if found is not None else -1
    return table


def segments(
    transitions: tuple[Int64s, Int64s, Int8s],
    assignments: tuple[Int64s, Int64s, Int64s],
    table: Int64s,
) -> Segments:
    """Cut every lead's history at each stage move and assignment; each stretch in between gets the
    lead's stage and owner then, and its holder from `table` (`holders`). `transitions` are (lead,
    instant, stage code moved to), `assignments` (lead, instant, owner code), both in recorded order.

    Stretches of no length and stretches nobody holds are left out.
    """
    t_lead, t_at, t_to = transitions
    a_lead, a_at, a_owner = assignments
    n = len(t_lead)
    lead = np.concatenate((t_lead, a_lead)).astype(np.int64)
    at = np.concatenate((t_at, a_at)).astype(np.int64)
    is_move = np.concatenate((np.ones(n, dtype=np.bool_), np.zeros(len(a_lead), dtype=np.bool_)))
    order = np.lexsort((at, lead))  # stable; at one instant, moves first (stretches of no length, left out)
    lead, at, is_move, source = lead[order], at[order], is_move[order], order
    if len(lead) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Segments(empty, empty.astype(np.int8), empty, empty, empty)
    positions = np.arange(len(lead))
    last_move = np.maximum.accumulate(np.where(is_move, positions, -1))
    last_assignment = np.maximum.accumulate(np.where(is_move, -1, positions))
    stage = _carried(t_to.astype(np.int64), source[np.maximum(last_move, 0)], _same(lead, last_move))
    owner = _carried(a_owner, source[np.maximum(last_assignment, 0)] - n, _same(lead, last_assignment))
    end = np.full(len(lead), NEVER, dtype=np.int64)
    follows = lead[1:] == lead[:-1]
    end[:-1] = np.where(follows, at[1:], NEVER)
    department = table[stage, owner + 1]  # stage -1 reads the last row: nobody
    keep = (department >= 0) & (end > at)
    return Segments(lead[keep], stage[keep].astype(np.int8), department[keep], at[keep], end[keep])


def _same(lead: Int64s, last: Int64s) -> Bools:
    """Where the latest point `last` (a position, -1: none) is of the same lead as the point itself."""
    found: Bools = (last >= 0) & (lead[np.maximum(last, 0)] == lead)
    return found


def _carried(values: Int64s, rows: Int64s, valid: Bools) -> Int64s:
    """`values[rows]` where `valid`, -1 elsewhere (and everywhere when there are no values)."""
    if len(values) == 0:
        return np.full(len(rows), -1, dtype=np.int64)
    found: Int64s = np.where(valid, values[np.where(valid, rows, 0)], -1)
    return found


@dataclass(frozen=True, slots=True)
class Holdings:
    """Spans of one lead held by one department in a row (consecutive segments merged), or, as stays,
    in one stage as well."""

    lead: Int64s
    department: Int64s
    stage: Int8s  # the stage it began in (a stay's stage)
    start: Int64s
    end: Int64s  # NEVER: still held


def holdings(found: Segments, stays: bool = False) -> Holdings:
    """Merge each lead's consecutive segments held by the same department (`stays`: and in the same stage)."""
    if len(found) == 0:
        return Holdings(found.lead, found.department, found.stage, found.start, found.end)
    new = np.ones(len(found), dtype=np.bool_)
    new[1:] = (
        (found.lead[1:] != found.lead[:-1])
        | (found.department[1:] != found.department[:-1])
        | (found.start[1:] != found.end[:-1])
    )
    if stays:
        new[1:] |= found.stage[1:] != found.stage[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(found)) - 1
    return Holdings(found.lead[first], found.department[first], found.stage[first], found.start[first], found.end[last])


@dataclass(frozen=True, slots=True)
class StageHeld:
    """One stage of a department's time held: the business days within the period, and its stays there
    (a lead's time in the stage held by the department) that ended in the period, with their median."""

    stage: Stage
    business_days: float
    ended: int = 0
    ended_median: float | None = None


@dataclass(frozen=True, slots=True)
class Held:
    """How long one department held leads in a period (up to now, when the period is not over)."""

    department: str
    leads: int  # leads it held at some moment of the period
    business_days: float  # the business time it held them within the period, in business days
    stages: tuple[StageHeld, ...]  # the same, by stage (they add up to `business_days`)
    ended: int  # holdings that ended in the period
    ended_median: float | None  # their median length in business days, whole (also before the period)
    still: int  # holdings still running at the end of the period (or now)
    still_median: float | None  # their median length so far, in business days
    still_leads: tuple[int, ...]  # the leads of those


def held(
    found: Segments,
    departments: Sequence[str],
    calendar: BusinessCalendar,
    start: int,
    end: int,
    now: int,
) -> tuple[Held, ...]:
    """Per department of `departments`, how long it held leads in [start, end) as of `now` (µs)."""
    until = min(end, now)
    day = business_day(calendar) // timedelta(microseconds=1)
    inside = found.take((found.start < until) & (found.end > start))
    clipped_start = np.maximum(inside.start, start)
    clipped_end = np.minimum(inside.end, until)
    time = _business(calendar, clipped_start, clipped_end) / day
    spans = holdings(found)
    ended, still, length = _lengths(spans, calendar, start, end, until, day)
    count = len(departments)
    ended_median = grouped_quantile(length[ended], spans.department[ended], count, 0.5)
    still_median = grouped_quantile(length[still], spans.department[still], count, 0.5)
    stays = holdings(found, stays=True)
    stay_ended, _, stay_length = _lengths(stays, calendar, start, end, until, day)
    cell = stays.department * len(STAGES) + stays.stage
    stay_median = grouped_quantile(stay_length[stay_ended], cell[stay_ended], count * len(STAGES), 0.5)
    stay_count = np.bincount(cell[stay_ended], minlength=count * len(STAGES))
    out = []
    for code, name in enumerate(departments):
        mine = inside.department == code
        by_stage = []
        for stage in HELD:
            at_stage = mine & (inside.stage == STAGES.index(stage))
            k = code * len(STAGES) + STAGES.index(stage)
            if at_stage.any() or stay_count[k]:
                by_stage.append(
                    StageHeld(stage, float(time[at_stage].sum()), int(stay_count[k]), _number(stay_median[k]))
                )
        still_here = still & (spans.department == code)
        out.append(
            Held(
                department=name,
                leads=len(np.unique(inside.lead[mine])),
                business_days=float(time[mine].sum()),
                stages=tuple(by_stage),
                ended=int((ended & (spans.department == code)).sum()),
                ended_median=_number(ended_median[code]),
                still=int(still_here.sum()),
                still_median=_number(still_median[code]),
                still_leads=tuple(int(i) for i in np.unique(spans.lead[still_here])),
            )
        )
    return tuple(out)


def _lengths(
    spans: Holdings, calendar: BusinessCalendar, start: int, end: int, until: int, day: int
) -> tuple[Bools, Bools, Floats]:
    """Which spans ended in [start, end), which still run at its end (or now), and the length in business
    days of those: whole for the ended ones, up to `until` for the others."""
    ended = (spans.end >= start) & (spans.end < end)
    still = (spans.start < until) & (spans.end >= end)  # a span ends by now at the latest, or never
    whole = np.where(ended, spans.end, until)
    chosen = ended | still
    length = np.zeros(len(spans.lead), dtype=np.float64)
    length[chosen] = _business(calendar, spans.start[chosen], whole[chosen]) / day
    return ended, still, length


def _business(calendar: BusinessCalendar, start: Int64s, end: Int64s) -> Floats:
    if len(start) == 0:
        return np.zeros(0, dtype=np.float64)
    found: npt.NDArray[np.int64] = business_times(calendar, start.view("datetime64[us]"), end.view("datetime64[us]"))
    return found.astype(np.float64)


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
