"""Each lead's path through the funnel, cohort × stage conversion, and time in stage.

The funnel's stages are ranked: MQL 1, SAL 2, SQL 3, opportunity 4 (lost too: a lost deal was an
opportunity), won 5; lead, recycled and disqualified are outside it (0). A lead **reaches** a
stage when it enters that stage or any stage ranked above it: a lead moved from MQL straight to
SQL has passed SAL (inside sales took it), one imported straight into an opportunity has passed
SQL. The one exception is MQL itself: a lead that never entered `mql` is no MQL, whatever it
reached (an SQL a rep found on their own, a stage imported without its MQL date); the KPIs
count it apart (`sql_without_mql`) so that marketing's numbers never include it (docs/kpis.md).

`Journeys.of` finds, for every lead at once, its first MQL and what it reached after it; the
columns are sorted by lead, so each "first per lead" is a mask over sorted rows, not a loop.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.history import NEVER, STAGES, Bools, History, Int8s, Int64s, gather, stage_code
from leadpact.domain.lifecycle import Stage

Floats = npt.NDArray[np.float64]

FUNNEL: Final[tuple[Stage, ...]] = (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON)  # ranks 1–5
_RANKS = {Stage.MQL: 1, Stage.SAL: 2, Stage.SQL: 3, Stage.OPPORTUNITY: 4, Stage.WON: 5, Stage.LOST: 4}
# By stage code; the last entry answers code -1 (no stage).
RANK: Final = np.array([_RANKS.get(stage, 0) for stage in STAGES] + [0], dtype=np.int8)

MQL, SAL, SQL = stage_code("mql"), stage_code("sal"), stage_code("sql")
OPPORTUNITY, WON, LOST = stage_code("opportunity"), stage_code("won"), stage_code("lost")
RECYCLED, DISQUALIFIED = stage_code("recycled"), stage_code("disqualified")


def rank(codes: Int8s) -> Int8s:
    """The funnel rank of each stage code."""
    ranked: Int8s = RANK[codes]
    return ranked


def firsts(lead: Int64s) -> Bools:
    """Where each lead's first row is, in rows sorted by lead."""
    found = np.ones(len(lead), dtype=np.bool_)
    found[1:] = lead[1:] != lead[:-1]
    return found


def _first_per_lead(size: int, lead: Int64s, rows: npt.NDArray[np.intp]) -> Int64s:
    """Per lead id, the first of `rows` (positions in lead-sorted order) that is its, or -1."""
    first = np.full(size, -1, dtype=np.int64)
    picked = rows[firsts(lead[rows])]
    first[lead[picked]] = picked
    return first


def _instants(at: Int64s, rows: Int64s) -> Int64s:
    """The instants of `rows` (NEVER where a row is -1)."""
    return gather(at, rows, NEVER)


@dataclass(frozen=True, slots=True)
class Journeys:
    """Every lead's path (index: lead id); instants in µs, NEVER where it did not happen."""

    first_mql: Int64s  # its first entry into `mql`
    first_mql_row: Int64s  # that entry's position among the transitions (-1: none)
    reached: Int64s  # (leads, 6): column r, the first instant at or after its first MQL it reached rank r
    recycled: Int64s  # the first time, at or after its first MQL, sales sent it back (mql/sal/sql → recycled)
    re_mql: Int64s  # the first time it came back from `recycled` as an MQL after its first MQL
    first_contact: Int64s  # its first contact at or after its first MQL
    first_sql_row: Int64s  # its first entry into SQL or beyond, whatever came before (-1: none)

    @classmethod
    def of(cls, history: History) -> Journeys:
        t, size = history.transitions, history.size
        rows = np.arange(len(t))
        first_mql_row = _first_per_lead(size, t.lead, rows[t.to == MQL])
        first_mql = _instants(t.at, first_mql_row)
        ranked = rank(t.to)
        after = t.at >= first_mql[t.lead]  # rows at or after their lead's first MQL (none without one)
        reached = np.full((size, 6), NEVER, dtype=np.int64)
        reached[:, 1] = first_mql
        for r in range(2, 6):
            reached[:, r] = _instants(t.at, _first_per_lead(size, t.lead, rows[after & (ranked >= r)]))
        sent_back = after & (t.to == RECYCLED) & np.isin(t.frm, (MQL, SAL, SQL))
        came_back = (t.to == MQL) & (t.frm == RECYCLED) & (rows != first_mql_row[t.lead])
        c = history.contacts
        contacted = np.flatnonzero(c.at >= first_mql[c.lead]) if len(c) else np.zeros(0, dtype=np.intp)
        return cls(
            first_mql=first_mql,
            first_mql_row=first_mql_row,
            reached=reached,
            recycled=_instants(t.at, _first_per_lead(size, t.lead, rows[sent_back])),
            re_mql=_instants(t.at, _first_per_lead(size, t.lead, rows[came_back])),
            first_contact=_instants(c.at, _first_per_lead(size, c.lead, contacted)),
            first_sql_row=_first_per_lead(size, t.lead, rows[ranked >= 3]),
        )


def grouped_quantile(values: Floats, groups: Int64s, count: int, q: float) -> Floats:
    """The q-quantile of `values` within each group 0..count-1 (NaN for an empty group).

    Linear interpolation between the two nearest ranks, as a spreadsheet's PERCENTILE.INC (and
    MEDIAN at q = 0.5): the median of 1, 2, 3, 4 is 2.5; the 0.9-quantile of 1…10 is 9.1.
    """
    order = np.lexsort((values, groups))
    ordered = values[order]
    sizes = np.bincount(groups, minlength=count)[:count]
    starts = np.cumsum(sizes) - sizes
    position = starts + q * np.maximum(sizes - 1, 0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, starts + sizes - 1)
    found = np.full(count, np.nan)
    some = sizes > 0
    fraction = position[some] - low[some]
    found[some] = ordered[low[some]] + fraction * (ordered[high[some]] - ordered[low[some]])
    return found


@dataclass(frozen=True, slots=True)
class CohortFunnel:
    """Monthly cohorts (the local month of each lead's first MQL) and how many of each reached each stage."""

    months: tuple[str, ...]  # "2026-07", oldest first
    reached: Int64s  # (months, 5): leads of the cohort that reached FUNNEL[i] after their first MQL

    def total(self) -> Int64s:
        totals: Int64s = self.reached.sum(axis=0) if len(self.months) else np.zeros(len(FUNNEL), dtype=np.int64)
        return totals


def cohort_funnel(journeys: Journeys, calendar: BusinessCalendar, start: int, end: int) -> CohortFunnel:
    """Cohort × stage conversion of the leads whose first MQL falls in [start, end) (µs)."""
    first = journeys.first_mql
    leads = np.flatnonzero((first >= start) & (first < end))
    if leads.size == 0:
        return CohortFunnel((), np.zeros((0, len(FUNNEL)), dtype=np.int64))
    month = calendar.local_days(first[leads].view("datetime64[us]")).astype("datetime64[M]")
    months, cohort = np.unique(month, return_inverse=True)
    reached = journeys.reached[leads, 1:] < NEVER
    counts = np.stack([np.bincount(cohort[reached[:, i]], minlength=len(months)) for i in range(len(FUNNEL))], axis=1)
    return CohortFunnel(tuple(str(m) for m in months), counts.astype(np.int64))


@dataclass(frozen=True, slots=True)
class Stays:
    """Completed stays in a stage: the stage's code, the lead, and when the stay began and ended (µs)."""

    stage: Int8s
    lead: Int64s
    entered: Int64s
    left: Int64s


def stays(history: History) -> Stays:
    """Every stay that ended: from a transition into a stage to the lead's next transition."""
    t = history.transitions
    closed = np.flatnonzero(t.lead[1:] == t.lead[:-1])  # each row followed by a row of its lead
    return Stays(stage=t.to[closed], lead=t.lead[closed], entered=t.at[closed], left=t.at[closed + 1])


@dataclass(frozen=True, slots=True)
class StageTime:
    """How long leads stayed in one stage: the completed stays counted, and their median (wall clock)."""

    stage: Stage
    stays: int
    median_hours: float | None


def time_in_stage(found: Stays, keep: Bools | None = None) -> tuple[StageTime, ...]:
    """The median stay of each stage, over the stays `keep` selects (all when None)."""
    chosen = found if keep is None else Stays(*(getattr(found, f)[keep] for f in ("stage", "lead", "entered", "left")))
    known = chosen.stage >= 0
    stage = chosen.stage[known].astype(np.int64)
    hours = (chosen.left[known] - chosen.entered[known]) / 3.6e9
    sizes = np.bincount(stage, minlength=len(STAGES))
    medians = grouped_quantile(hours, stage, len(STAGES), 0.5)
    return tuple(
        StageTime(s, int(sizes[i]), None if np.isnan(medians[i]) else float(medians[i])) for i, s in enumerate(STAGES)
    )
