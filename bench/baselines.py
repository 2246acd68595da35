"""The baselines our scoring is held against: a plain Python fold, and SQL in SQLite and in DuckDB;
and the one the clock sweep is held against (W7): a per-clock loop over the days with jpholiday.

Each computes what the batch engine computes for the example pact (state at as_of, totals at
as_of and at T), so that the comparison is of equal work; `agreement` checks they do. The SQL
is written by hand for the example pact, as a developer would; it is not a general engine.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import jpholiday
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from leadpact.domain.lead import scoring_attributes
from leadpact.domain.pact import Pact
from leadpact.domain.scoring import SECONDS_PER_DAY, attribute_scores, glob_regex

DAY_MICROS = 1_000_000 * SECONDS_PER_DAY


@dataclass(slots=True)
class LeadState:
    as_of: int | None = None
    raw: dict[str, float] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)
    actions: set[str] = field(default_factory=set)


def naive_fold(
    pact: Pact,
    activities: Iterable[tuple[int, str, int, str]],
    decode: Callable[[str], object],
) -> dict[int, LeadState]:
    """One pass over (lead, type, µs, property text) rows in arrival order; the fold, written plainly."""
    by_type: dict[str, list[tuple[str, float, float | None, re.Pattern[str] | None]]] = {}
    for rule in pact.scoring.behaviour:
        pattern = re.compile(glob_regex(rule.match.glob)) if rule.match else None
        by_type.setdefault(rule.activity, []).append((rule.id, rule.points, rule.half_life_days, pattern))
    half_life = {r.id: r.half_life_days for r in pact.scoring.behaviour}
    states: dict[int, LeadState] = {}
    for lead, kind, at, text in activities:
        state = states.get(lead)
        if state is None:
            state = states[lead] = LeadState()
        state.actions.add(kind)
        rules = by_type.get(kind)
        if not rules:
            continue
        value: object = None
        decoded = False
        hits = []
        for rule_id, points, hl, pattern in rules:
            if pattern is not None:
                if not decoded:
                    value, decoded = (decode(text) if text else None), True
                if value is None or pattern.fullmatch(str(value)) is None:
                    continue
            hits.append((rule_id, points, hl))
        if not hits:
            continue
        if state.as_of is None or at > state.as_of:
            if state.as_of is not None:
                shift = (at - state.as_of) / DAY_MICROS
                for rule_id in state.raw:
                    h = half_life[rule_id]
                    if h is not None:
                        state.raw[rule_id] *= 0.5 ** (shift / h)
            state.as_of = at
        lag = (state.as_of - at) / DAY_MICROS
        for rule_id, points, hl in hits:
            state.raw[rule_id] = state.raw.get(rule_id, 0.0) + points * (1.0 if hl is None else 0.5 ** (lag / hl))
            state.matches[rule_id] = state.matches.get(rule_id, 0) + 1
    return states


def naive_totals(
    pact: Pact, states: dict[int, LeadState], leads: Iterable[tuple[int, str | None, dict[str, Any]]], at: int
) -> dict[int, tuple[float, float, float]]:
    """Per lead: (total at as_of, total at `at`, attribute points)."""
    out = {}
    for lead, email, attributes in leads:
        fit = math.fsum(r.points for r in attribute_scores(pact, scoring_attributes(email, attributes)))
        state = states.get(lead)
        behaviour = behaviour_at = 0.0
        if state is not None and state.as_of is not None:
            elapsed = max(0, at - state.as_of) / DAY_MICROS
            for rule in pact.scoring.behaviour:
                raw = state.raw.get(rule.id, 0.0)
                later = raw * (1.0 if rule.half_life_days is None else 0.5 ** (elapsed / rule.half_life_days))
                behaviour += raw if rule.cap is None else min(raw, rule.cap)
                behaviour_at += later if rule.cap is None else min(later, rule.cap)
        out[lead] = (behaviour + fit, behaviour_at + fit, fit)
    return out


def state_json(state: LeadState) -> str:
    return json.dumps({"raw": state.raw, "matches": state.matches, "actions": sorted(state.actions)})


# --- SQL, for the example pact ------------------------------------------------------------------


def _rules_values(pact: Pact) -> str:
    rows = []
    for r in pact.scoring.behaviour:
        rows.append(
            f"('{r.id}', '{r.activity}', {int(r.match is not None)}, {float(r.points)}, {_number(r.cap)}, "
            f"{_number(r.half_life_days)})"
        )
    return ", ".join(rows)


def _number(value: float | None) -> str:
    return "NULL" if value is None else repr(float(value))


def scoring_sql(pact: Pact, at: int, dialect: str) -> list[str]:
    """Statements that leave temp tables `per_rule` and `totals` (lead_id, as_of, total, total_at, actions).

    Inputs: `a(lead_id, type, occurred_at, url)` and `l(lead_id, email_domain, industry, employees,
    title, is_competitor)` with plain (decoded) values, the domain derived as the snapshot derives it.
    """
    glob = "url GLOB '*/pricing*'" if dialect == "sqlite" else f"regexp_full_match(url, '{glob_regex('*/pricing*')}')"
    actions = "group_concat(DISTINCT type)" if dialect == "sqlite" else "list(DISTINCT type ORDER BY type)"
    title = (
        " OR ".join(f"instr(title, '{t}') > 0" for t in ("部長", "課長", "本部長", "取締役", "Manager", "Director"))
        if dialect == "sqlite"
        else "regexp_matches(title, '部長|課長|本部長|取締役|Manager|Director')"
    )
    domain = "email_domain"
    least = "min" if dialect == "sqlite" else "least"
    return [
        "DROP TABLE IF EXISTS per_rule",
        "DROP TABLE IF EXISTS totals",
        f"""CREATE TEMP TABLE per_rule AS
        WITH rules(rule_id, activity, globbed, points, cap, hl) AS (VALUES {_rules_values(pact)}),
        hits AS (
            SELECT a.lead_id, a.occurred_at AS t, r.rule_id, r.points, r.hl
            FROM a JOIN rules r ON r.activity = a.type
            WHERE r.globbed = 0 OR {glob}
        ),
        latest AS (SELECT lead_id, max(t) AS as_of FROM hits GROUP BY lead_id)
        SELECT h.lead_id, h.rule_id, s.as_of, count(*) AS matches,
               sum(h.points * CASE WHEN h.hl IS NULL THEN 1.0
                   ELSE pow(0.5, (s.as_of - h.t) / {DAY_MICROS} / h.hl) END) AS raw
        FROM hits h JOIN latest s ON s.lead_id = h.lead_id
        GROUP BY h.lead_id, h.rule_id, s.as_of""",
        f"""CREATE TEMP TABLE totals AS
        WITH rules(rule_id, activity, globbed, points, cap, hl) AS (VALUES {_rules_values(pact)}),
        decayed AS (
            SELECT p.lead_id, p.as_of, r.cap, p.raw,
                   p.raw * CASE WHEN r.hl IS NULL THEN 1.0
                       ELSE pow(0.5, (CASE WHEN {at} > p.as_of THEN {at} - p.as_of ELSE 0 END) / {DAY_MICROS} / r.hl)
                   END AS later
            FROM per_rule p JOIN rules r ON r.rule_id = p.rule_id
        ),
        behaviour AS (
            SELECT lead_id, max(as_of) AS as_of,
                   sum(CASE WHEN cap IS NULL THEN raw ELSE {least}(raw, cap) END) AS now,
                   sum(CASE WHEN cap IS NULL THEN later ELSE {least}(later, cap) END) AS later
            FROM decayed GROUP BY lead_id
        ),
        acts AS (SELECT lead_id, {actions} AS actions FROM a GROUP BY lead_id),
        fit AS (
            SELECT lead_id,
                (CASE WHEN trim(industry) IN ('製造業', '情報通信業', '卸売業') THEN 15 ELSE 0 END)
              + (CASE WHEN CAST(employees AS DOUBLE) >= 100 THEN 10 ELSE 0 END)
              + (CASE WHEN {title} THEN 10 ELSE 0 END)
              + (CASE WHEN {domain} IN ('gmail.com', 'yahoo.co.jp', 'outlook.jp', 'hotmail.co.jp', 'icloud.com')
                      THEN -20 ELSE 0 END)
              + (CASE WHEN is_competitor THEN -100 ELSE 0 END) AS points
            FROM l
        )
        SELECT l.lead_id, b.as_of, coalesce(b.now, 0) AS behaviour, f.points AS attributes,
               coalesce(b.now, 0) + f.points AS total, coalesce(b.later, 0) + f.points AS total_at, c.actions
        FROM l JOIN fit f ON f.lead_id = l.lead_id
        LEFT JOIN behaviour b ON b.lead_id = l.lead_id
        LEFT JOIN acts c ON c.lead_id = l.lead_id""",
    ]


@dataclass(frozen=True, slots=True)
class PlainTables:
    """The snapshot with its JSON members decoded, as SQL baselines get it (decoding not timed)."""

    activities: pa.Table  # lead_id, type, occurred_at, url
    leads: pa.Table  # lead_id, email_domain, industry, employees, title, is_competitor


def plain_tables(activities: pa.Table, leads: pa.Table, fields: tuple[str, ...]) -> PlainTables:
    with duckdb.connect() as con:
        con.register("acts", activities)
        con.register("people", leads)
        plain_acts = con.sql(
            "SELECT lead_id, type, occurred_at, json_extract_string(NULLIF(p0, ''), '$') AS url FROM acts"
        ).to_arrow_table()
        column = {name: f"f{i}" for i, name in enumerate(fields)}
        plain_leads = con.sql(
            f"SELECT lead_id, json_extract_string(NULLIF({column['email_domain']}, ''), '$') AS email_domain, "
            f"json_extract_string(NULLIF({column['industry']}, ''), '$') AS industry, "
            f"TRY_CAST(json_extract_string(NULLIF({column['employees']}, ''), '$') AS DOUBLE) AS employees, "
            f"json_extract_string(NULLIF({column['title']}, ''), '$') AS title, "
            f"coalesce(json_extract_string(NULLIF({column['is_competitor']}, ''), '$') = 'true', false) "
            "AS is_competitor FROM people"
        ).to_arrow_table()
    return PlainTables(plain_acts, plain_leads)


def load_sqlite(tables: PlainTables) -> sqlite3.Connection:
    """An in-memory SQLite database holding the plain tables (loading is not part of the timing)."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE a (lead_id INTEGER, type TEXT, occurred_at INTEGER, url TEXT)")
    connection.execute(
        "CREATE TABLE l (lead_id INTEGER PRIMARY KEY, email_domain TEXT, industry TEXT, employees REAL, title TEXT, "
        "is_competitor INTEGER)"
    )
    connection.executemany(
        "INSERT INTO a VALUES (?, ?, ?, ?)", zip(*tables.activities.to_pydict().values(), strict=True)
    )
    connection.executemany(
        "INSERT INTO l VALUES (?, ?, ?, ?, ?, ?)", zip(*tables.leads.to_pydict().values(), strict=True)
    )
    connection.commit()
    return connection


def run_sqlite(connection: sqlite3.Connection, pact: Pact, at: int) -> int:
    for statement in scoring_sql(pact, at, "sqlite"):
        connection.execute(statement)
    return int(connection.execute("SELECT count(*) FROM totals").fetchone()[0])


def sqlite_totals(connection: sqlite3.Connection) -> dict[int, tuple[float, float]]:
    return {row[0]: (row[1], row[2]) for row in connection.execute("SELECT lead_id, total, total_at FROM totals")}


def run_duckdb(tables: PlainTables, pact: Pact, at: int) -> pa.Table:
    with duckdb.connect() as con:
        con.register("a", tables.activities)
        con.register("l", tables.leads)
        for statement in scoring_sql(pact, at, "duckdb"):
            con.execute(statement).fetchall()
        return con.sql("SELECT lead_id, total, total_at FROM totals ORDER BY lead_id").to_arrow_table()


@dataclass(frozen=True, slots=True)
class Encoded:
    """Integer columns for the NumPy ceiling: one row per (activity, rule it hits)."""

    lead: npt.NDArray[np.int64]
    rule: npt.NDArray[np.int64]
    at: npt.NDArray[np.int64]
    fit: npt.NDArray[np.float64]
    leads: int


def numpy_ceiling(encoded: Encoded, pact: Pact, at: int) -> npt.NDArray[np.float64]:
    """Total at `at` per lead: decayed points summed straight to `at` by bincount (no state, no as_of)."""
    rules = pact.scoring.behaviour
    points = np.array([r.points for r in rules])
    per_day = np.array([0.0 if r.half_life_days is None else 1.0 / r.half_life_days for r in rules])
    caps = np.array([math.inf if r.cap is None else r.cap for r in rules])
    weights = points[encoded.rule] * np.exp2(-(at - encoded.at) / DAY_MICROS * per_day[encoded.rule])
    sums = np.bincount(encoded.lead * len(rules) + encoded.rule, weights=weights, minlength=encoded.leads * len(rules))
    total: npt.NDArray[np.float64] = np.minimum(sums.reshape(encoded.leads, len(rules)), caps).sum(axis=1)
    return total + encoded.fit


# --- W7 ---------------------------------------------------------------------------------------------

JST = ZoneInfo("Asia/Tokyo")


def is_year_end(day: date) -> bool:
    """The example pact's company closure, 12/29–1/3, as a developer would hard-code it."""
    return (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)


def jpholiday_loop(clocks: Iterable[tuple[datetime, datetime, float]], now: datetime) -> list[tuple[str, int]]:
    """Each open clock's state and business days late, one clock at a time, walking the days with jpholiday.

    The way the sweep is written without a vectorised calendar: per clock, compare the times;
    for a breached clock, walk from the day it fell due to today and count the weekdays that
    are neither a national holiday (`jpholiday.is_holiday`) nor the company's year-end closure.
    """
    today = now.astimezone(JST).date()
    out = []
    for started, due, share in clocks:
        if now > due:
            day = (due - timedelta(microseconds=1)).astimezone(JST).date()  # a midnight due time ends the day before
            late = 0
            while day < today:
                day += timedelta(days=1)
                if day.weekday() < 5 and not jpholiday.is_holiday(day) and not is_year_end(day):
                    late += 1
            out.append(("breached", late))
        elif due - now <= (due - started) * share:
            out.append(("due_soon", 0))
        else:
            out.append(("running", 0))
    return out
