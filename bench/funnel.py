"""W8: funnel KPIs over a million leads' history, beside a hand-written DuckDB query and SQLite SQL.

The work, the same in every variant and checked equal: from the ledger's stage moves (lead,
instant, recorded order, from and to stage), as they come out of the store in recorded order,

* **cohort × stage conversion**: for every monthly cohort (the Tokyo month of each lead's first
  MQL), how many of its leads reached SAL, SQL, an opportunity and a win at or after that
  first MQL (a stage or any above it: skipped stages count as passed);
* **median time in stage**: per stage, the median time from entering it to the lead's next move,
  over every stay that ended.

Variants:

* ours: `History.of` (folding and sorting the columns) + `Journeys.of` + `cohort_funnel` +
  `time_in_stage`: what `leadpact kpi` runs, from the columns in memory;
* the DuckDB reference: one hand-written SQL query per figure over the same columns as Arrow;
* SQLite SQL: the same queries in an in-memory SQLite holding the same rows, with an index on
  (lead, at, seq) (loading and indexing not timed: favourable to it);
* ours, every figure of `leadpact kpi` for one quarter (both periods, all KPIs) from the columns;
* ours end to end from the store: what `leadpact kpi` does before printing (`services.kpis.report`:
  reading the history out of a SQLite store file, then every figure), and the read alone.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from bench.generate import JST, Tier, funnel_history, funnel_store_file
from bench.workloads import SLOW, Variant, _runs_note, timed
from leadpact.adapters.db.engine import make_engine
from leadpact.adapters.db.store import Store
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.funnel import FUNNEL, CohortFunnel, Journeys, StageTime, cohort_funnel, stays, time_in_stage
from leadpact.domain.history import NEVER, STAGES, Assignments, Contacts, History, LeadGroups, Runs, Transitions
from leadpact.domain.kpis import View, kpi_report
from leadpact.domain.pact import Pact
from leadpact.domain.period import parse_period
from leadpact.services.kpis import report

NOW = datetime(2026, 10, 1, 9, 0, tzinfo=JST)
JST_OFFSET_MICROS = 9 * 3_600_000_000  # Tokyo keeps +09:00 all year: the references shift by it
HOUR_MICROS = 3_600_000_000
# stage code → funnel rank, as `domain.funnel.RANK` (lost ranks as an opportunity)
RANK_SQL = "CASE stage WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3 WHEN 4 THEN 4 WHEN 6 THEN 4 WHEN 5 THEN 5 ELSE 0 END"
# t (seq, lead_id, ts, frm, stage): the moves; stage codes as `domain.history.STAGES` (1 is mql)
FUNNEL_SQL = """
WITH r AS (SELECT lead_id, ts, {rank} AS rank FROM t),
first_mql AS (SELECT lead_id, min(ts) AS m FROM t WHERE stage = 1 GROUP BY lead_id),
reach AS (
    SELECT f.lead_id, f.m,
           min(CASE WHEN r.rank >= 2 THEN r.ts END) AS r2,
           min(CASE WHEN r.rank >= 3 THEN r.ts END) AS r3,
           min(CASE WHEN r.rank >= 4 THEN r.ts END) AS r4,
           min(CASE WHEN r.rank >= 5 THEN r.ts END) AS r5
    FROM first_mql f JOIN r ON r.lead_id = f.lead_id AND r.ts >= f.m
    GROUP BY f.lead_id, f.m
)
SELECT {month} AS month, count(*), count(r2), count(r3), count(r4), count(r5)
FROM reach GROUP BY month ORDER BY month
"""
DUCKDB_MONTH = f"strftime(make_timestamp(m + {JST_OFFSET_MICROS}), '%Y-%m')"
SQLITE_MONTH = f"strftime('%Y-%m', (m + {JST_OFFSET_MICROS}) / 1000000, 'unixepoch')"
DUCKDB_STAYS = """
SELECT stage, count(*) AS stays, median(next_ts - ts) AS median_us FROM (
    SELECT stage, ts, lead(ts) OVER (PARTITION BY lead_id ORDER BY ts, seq) AS next_ts FROM t
) WHERE next_ts IS NOT NULL GROUP BY stage ORDER BY stage
"""
# SQLite has no median: the middle one or two of each stage's sorted stays, averaged.
SQLITE_STAYS = """
WITH s AS (
    SELECT stage, lead(ts) OVER (PARTITION BY lead_id ORDER BY ts, seq) - ts AS d FROM t
), ranked AS (
    SELECT stage, d, row_number() OVER (PARTITION BY stage ORDER BY d) AS i, count(*) OVER (PARTITION BY stage) AS n
    FROM s WHERE d IS NOT NULL
)
SELECT stage, max(n), avg(d) FROM ranked WHERE i IN ((n + 1) / 2, (n + 2) / 2) GROUP BY stage ORDER BY stage
"""

Funnel = tuple[dict[str, list[int]], dict[int, tuple[int, float]]]  # months → reached; stage → (stays, median h)


def _empty(cls: Any, width: int) -> Any:
    none = np.zeros(0, dtype=np.int64)
    return cls(*([none] * width))


def _ours(columns: Transitions, calendar: BusinessCalendar) -> tuple[CohortFunnel, tuple[StageTime, ...]]:
    history = History.of(columns, _empty(Contacts, 3), _empty(Assignments, 3), _empty(Runs, 7), LeadGroups.of({}))
    journeys = Journeys.of(history)
    return cohort_funnel(journeys, calendar, -NEVER, NEVER), time_in_stage(stays(history))


def _from_ours(found: tuple[CohortFunnel, tuple[StageTime, ...]]) -> Funnel:
    funnel, staying = found
    months = dict(zip(funnel.months, funnel.reached.tolist(), strict=True))
    times = {STAGES.index(s.stage): (s.stays, s.median_hours or 0.0) for s in staying if s.stays}
    return months, times


def _from_sql(months: list[tuple[Any, ...]], times: list[tuple[Any, ...]]) -> Funnel:
    return (
        {str(m): [int(v) for v in rest] for m, *rest in months},
        {int(stage): (int(n), float(median) / HOUR_MICROS) for stage, n, median in times},
    )


def _mismatches(ours: Funnel, theirs: Funnel) -> int:
    """How many cohort cells and stage medians differ (medians beyond a millisecond)."""
    months = set(ours[0]) | set(theirs[0])
    cells = sum(ours[0].get(m) != theirs[0].get(m) for m in months)
    stages = set(ours[1]) | set(theirs[1])
    medians = sum(
        s not in ours[1]
        or s not in theirs[1]
        or ours[1][s][0] != theirs[1][s][0]
        or abs(ours[1][s][1] - theirs[1][s][1]) > 1e-3 / 3600
        for s in stages
    )
    return cells + medians


def w8(tier: Tier, pact: Pact, cache: Path) -> dict[str, Any]:
    history = funnel_history(tier)
    calendar = BusinessCalendar.of(pact.calendar)
    columns = Transitions(
        lead=history.lead, at=history.at, frm=history.frm, to=history.to, version=history.version,
        imported=history.imported,
    )  # fmt: skip
    variants: list[Variant] = []
    agreement: dict[str, int] = {}

    steps: list[dict[str, float]] = []

    def ours() -> tuple[CohortFunnel, tuple[StageTime, ...]]:
        started = time.perf_counter()
        h = History.of(columns, _empty(Contacts, 3), _empty(Assignments, 3), _empty(Runs, 7), LeadGroups.of({}))
        sorted_at = time.perf_counter()
        journeys = Journeys.of(h)
        journeys_at = time.perf_counter()
        funnel = cohort_funnel(journeys, calendar, -NEVER, NEVER)
        funnel_at = time.perf_counter()
        staying = time_in_stage(stays(h))
        steps.append(
            {
                "sort": sorted_at - started,
                "journeys": journeys_at - sorted_at,
                "cohort_funnel": funnel_at - journeys_at,
                "time_in_stage": time.perf_counter() - funnel_at,
            }
        )
        return funnel, staying

    best, times, found = timed(ours, warm=True)
    step = min(steps[1:], key=lambda s: sum(s.values()))
    variants.append(
        Variant(
            "ours: History.of + Journeys + cohort_funnel + time_in_stage",
            best,
            times,
            _runs_note(times, True),
            {"steps": step},
        )  # fmt: skip
    )
    mine = _from_ours(found)

    table = pa.table(
        {"seq": history.seq, "lead_id": history.lead, "ts": history.at, "frm": history.frm, "stage": history.to}
    )
    duck = duckdb.connect()
    duck.register("t", table)
    funnel_sql = FUNNEL_SQL.format(rank=RANK_SQL, month=DUCKDB_MONTH)

    def reference() -> Funnel:
        return _from_sql(duck.execute(funnel_sql).fetchall(), duck.execute(DUCKDB_STAYS).fetchall())

    best, times, theirs = timed(reference, slow=SLOW, warm=True)
    variants.append(Variant("DuckDB SQL reference (over the same columns as Arrow)", best, times,
                            _runs_note(times, True)))  # fmt: skip
    agreement["DuckDB SQL reference"] = _mismatches(mine, theirs)
    duck.close()

    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE t (seq INTEGER, lead_id INTEGER, ts INTEGER, frm INTEGER, stage INTEGER)")
    lite.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
        zip(history.seq.tolist(), history.lead.tolist(), history.at.tolist(), history.frm.tolist(),
            history.to.tolist(), strict=True),
    )  # fmt: skip
    lite.execute("CREATE INDEX t_lead_ts ON t (lead_id, ts, seq)")
    lite_sql = FUNNEL_SQL.format(rank=RANK_SQL, month=SQLITE_MONTH)

    def in_sqlite() -> Funnel:
        return _from_sql(lite.execute(lite_sql).fetchall(), lite.execute(SQLITE_STAYS).fetchall())

    best, times, theirs = timed(in_sqlite, slow=SLOW)
    variants.append(Variant("SQLite SQL (in memory, indexed on lead, at)", best, times, _runs_note(times)))
    agreement["SQLite SQL"] = _mismatches(mine, theirs)
    lite.close()

    sorted_history = History.of(
        columns, _empty(Contacts, 3), _empty(Assignments, 3), _empty(Runs, 7), LeadGroups.of({})
    )
    quarter = parse_period("2026-Q3")
    best, times, _ = timed(lambda: kpi_report(sorted_history, pact, calendar, quarter, View.COHORT, NOW), warm=True)
    variants.append(Variant("ours: every leadpact kpi figure of 2026-Q3 (cohort view, both quarters)", best, times,
                            _runs_note(times, True)))  # fmt: skip

    source = funnel_store_file(history, pact, cache)
    work = cache / f"work-funnel-{tier.name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copy(source, work)
    engine = make_engine(f"sqlite:///{work}")

    def read() -> History:
        with Store(engine) as store:
            return store.history.read()

    best, times, _ = timed(read, slow=SLOW, warm=True)
    variants.append(Variant("ours: reading the history out of the SQLite store", best, times,
                            _runs_note(times, True)))  # fmt: skip
    best, times, _ = timed(lambda: report(engine, NOW, "2026-Q3"), slow=SLOW, warm=True)
    variants.append(Variant("ours end to end: leadpact kpi --period 2026-Q3 before printing", best, times,
                            _runs_note(times, True)))  # fmt: skip
    engine.dispose()
    return {
        "variants": variants,
        "leads": tier.leads,
        "transitions": len(history),
        "cohorts": len(mine[0]),
        "imported": int(history.imported.sum()),
        "stages": {STAGES[s].value: stays for s, (stays, _) in sorted(mine[1].items())},
        "funnel_total": dict(zip([s.value for s in FUNNEL], found[0].total().tolist(), strict=True)),
        "agreement_mismatches": agreement,
        "note": "the references get the columns already in memory (SQLite loaded and indexed untimed); "
        "cohort months in Tokyo time",
    }
