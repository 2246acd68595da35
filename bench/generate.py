"""Deterministic synthetic data for the benchmarks: leads, their attributes and their activities.

Fixed seeds; no network. Per-lead activity is lognormal (median about 7, p99 about 50), with
a few bot leads doing 1–10 k page views each and about 5 % of leads never active. The event
mix follows the example pact (page views, e-mail clicks, downloads, seminars, forms, requests)
plus types no rule scores. Timestamps are uniform over the 25 months before `END`.

The same data is produced two ways: as an in-memory Arrow snapshot in the batch engine's
layout (W1) and as a migrated SQLite store file (W2, W3), cached under the bench cache dir.
W7 has a store of its own: leads, each with one open handoff clock (`open_clocks`).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex

from leadpact.adapters.analytics.scoring import Snapshot, SnapshotLayout
from leadpact.adapters.db import tables
from leadpact.adapters.db.engine import make_engine, upgrade
from leadpact.adapters.db.tables import from_micros, to_micros
from leadpact.domain.calendar import BusinessCalendar, whole_days
from leadpact.domain.pact import Deadline, DeadlineUnit, Pact

GENERATOR_VERSION = 1  # bump when the data changes, so cached store files are rebuilt
SEED = 20_261_001
END = datetime(2026, 10, 1, tzinfo=UTC)
START = END - timedelta(days=761)  # 25 months
END_MICROS = to_micros(END)
START_MICROS = to_micros(START)

TYPES = (
    ("page_view", 0.50),
    ("email_click", 0.15),
    ("email_open", 0.10),  # not scored
    ("document_download", 0.08),
    ("form_submit", 0.06),  # not scored
    ("seminar_registered", 0.04),  # not scored
    ("seminar_attended", 0.03),
    ("consultation_request", 0.015),
    ("quote_request", 0.01),
    ("unsubscribed", 0.015),
)
INDUSTRIES = ("製造業", "情報通信業", "卸売業", "小売業", "サービス業", "金融業", "建設業", "医療・福祉")
TITLES = ("部長", "課長", "本部長", "取締役", "担当", "主任", "IT Manager", "Director of Sales", "Engineer", "")
PREFECTURES = ("東京都", "大阪府", "愛知県", "神奈川県", "福岡県", "北海道", "宮城県", "広島県")
FREE_MAIL = ("gmail.com", "yahoo.co.jp", "outlook.jp", "hotmail.co.jp", "icloud.com")


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    leads: int
    events: int


TIERS = {
    "S": Tier("S", 10_000, 100_000),
    "M": Tier("M", 100_000, 1_000_000),
    "L": Tier("L", 1_000_000, 10_000_000),
}

Int64s = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Dataset:
    """Column arrays for one tier; lead ids are 1..leads, rows in arrival (not time) order."""

    tier: Tier
    lead_id: Int64s
    type_code: npt.NDArray[np.int8]
    occurred_at: Int64s
    detail: npt.NDArray[np.int32]  # URL / document / campaign / seminar number, by type
    emails: list[str]
    attributes: list[dict[str, Any]]
    bots: int

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(t for t, _ in TYPES)

    def url(self, number: int) -> str:
        return _url(number)


def _url(number: int) -> str:
    # about 12 % of the URL pool are pricing pages, in the shapes real sites use
    if number % 25 == 0:
        return "https://www.example.co.jp/pricing"
    if number % 25 == 1:
        return f"https://www.example.co.jp/pricing/plan-{number % 7}?utm_source=mail"
    if number % 25 == 2:
        return f"https://www.example.co.jp/ja/pricing#faq-{number % 11}"
    return f"https://www.example.co.jp/{('products', 'blog', 'cases', 'news')[number % 4]}/{number}"


URL_POOL = 3_000


def dataset(tier: Tier) -> Dataset:
    """The tier's data, always the same for the same tier."""
    rng = np.random.default_rng(SEED + tier.leads)
    n = tier.leads
    bots = max(2, n // 10_000)
    bot_ids = rng.choice(np.arange(1, n + 1), size=bots, replace=False)
    bot_counts = rng.integers(1_000, 10_001, size=bots)
    human_budget = tier.events - int(bot_counts.sum())
    weights = rng.lognormal(mean=np.log(7.0), sigma=0.85, size=n)
    weights[bot_ids - 1] = 0.0
    weights[rng.random(n) < 0.05] = 0.0  # never active
    counts = np.floor(weights / weights.sum() * human_budget).astype(np.int64)
    short = human_budget - int(counts.sum())
    active = np.flatnonzero(weights > 0)
    np.add.at(counts, rng.choice(active, size=short, replace=True), 1)
    counts[bot_ids - 1] = bot_counts
    lead_id = np.repeat(np.arange(1, n + 1, dtype=np.int64), counts)
    total = len(lead_id)
    probabilities = np.array([p for _, p in TYPES])
    type_code = rng.choice(len(TYPES), size=total, p=probabilities / probabilities.sum()).astype(np.int8)
    is_bot = np.isin(lead_id, bot_ids)
    type_code[is_bot & (rng.random(total) < 0.95)] = 0  # bots mostly view pages
    occurred_at = rng.integers(START_MICROS, END_MICROS, size=total, dtype=np.int64)
    detail = rng.integers(0, URL_POOL, size=total).astype(np.int32)
    order = rng.permutation(total)  # arrival order, not time or lead order

    emails, attributes = [], []
    companies = max(100, n // 50)
    domain_pick = rng.integers(0, companies, size=n)
    free_pick = rng.random(n) < 0.2
    industry = rng.integers(0, len(INDUSTRIES) + 1, size=n)
    employees = np.round(rng.lognormal(mean=np.log(80), sigma=1.3, size=n)).astype(np.int64)
    title = rng.integers(0, len(TITLES), size=n)
    prefecture = rng.integers(0, len(PREFECTURES), size=n)
    competitor = rng.random(n) < 0.005
    for i in range(n):
        domain = FREE_MAIL[domain_pick[i] % len(FREE_MAIL)] if free_pick[i] else f"c{domain_pick[i]}.co.jp"
        emails.append(f"lead{i + 1}@{domain}")
        item: dict[str, Any] = {"prefecture": PREFECTURES[prefecture[i]], "employees": int(employees[i])}
        if industry[i] < len(INDUSTRIES):
            item["industry"] = INDUSTRIES[industry[i]]
        if TITLES[title[i]]:
            item["title"] = TITLES[title[i]]
        if competitor[i]:
            item["is_competitor"] = True
        attributes.append(item)
    return Dataset(
        tier=tier,
        lead_id=lead_id[order],
        type_code=type_code[order],
        occurred_at=occurred_at[order],
        detail=detail[order],
        emails=emails,
        attributes=attributes,
        bots=bots,
    )


def properties(kind: str, detail: int) -> dict[str, Any]:
    if kind == "page_view":
        return {"url": _url(detail)}
    if kind == "email_click":
        return {"campaign": f"c{detail % 40}", "url": _url(detail)}
    if kind == "document_download":
        return {"document": f"wp-{detail % 60}"}
    if kind.startswith("seminar"):
        return {"seminar": f"s{detail % 30}"}
    return {}


def snapshot(data: Dataset, pact: Pact) -> Snapshot:
    """The data as `ArrowStore.read_snapshot` hands it over (text dictionary-encoded), built without a store."""
    layout = SnapshotLayout.of(pact)
    if layout.properties != ("url",):
        raise ValueError("the generator only knows the example pact's url property")
    types = pa.array(list(data.types), type=pa.string())
    url_json = pa.array([json.dumps(_url(i), ensure_ascii=False) for i in range(URL_POOL)] + [""])
    glob_types = {r.activity for r in pact.scoring.behaviour if r.match is not None}
    needs_url = np.isin(data.type_code, [i for i, t in enumerate(data.types) if t in glob_types])
    url_index = np.where(needs_url, data.detail, URL_POOL)
    activities = pa.table(
        {
            "lead_id": pa.array(data.lead_id),
            "type": pa.DictionaryArray.from_arrays(pa.array(data.type_code.astype(np.int32)), types),
            "occurred_at": pa.array(data.occurred_at),
            "p0": pa.DictionaryArray.from_arrays(pa.array(url_index.astype(np.int32)), url_json),
        }
    )
    columns: dict[str, Any] = {
        "lead_id": pa.array(np.arange(1, data.tier.leads + 1, dtype=np.int64)),
        "email": pa.array(data.emails),
    }
    for i, name in enumerate(layout.fields):
        columns[f"f{i}"] = pa.array(
            [json.dumps(a[name], ensure_ascii=False) if name in a else "" for a in data.attributes]
        )
    return Snapshot.of(layout, activities, pa.table(columns))


def store_file(data: Dataset, pact: Pact, cache: Path) -> Path:
    """A migrated SQLite store holding the data and the pact as version 1 (built once, then cached)."""
    path = cache / f"store-{data.tier.name}-g{GENERATOR_VERSION}.db"
    if path.exists():
        return path
    partial = _migrated(path.with_suffix(".partial"))
    with closing(sqlite3.connect(partial, isolation_level=None)) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        # Loading is faster without the index; it is rebuilt below exactly as the migration made it.
        connection.execute("DROP INDEX ix_activities_lead_id_occurred_at")
        connection.execute("BEGIN")
        at = to_micros(END)
        connection.execute(
            "INSERT INTO users (id, name, department, email, is_manager, is_active, created_at) "
            "VALUES (1, 'bench', 'marketing', NULL, 1, 1, ?)",
            (at,),
        )
        _activate(connection, pact, at)
        bant = json.dumps({"confirmed": [], "facts": {}})
        connection.executemany(
            "INSERT INTO leads (id, email, attributes, stage, stage_changed_at, owner_id, bant, created_at, "
            "updated_at, version) VALUES (?, ?, ?, 'lead', ?, NULL, ?, ?, ?, 1)",
            (
                (i + 1, email, json.dumps(attributes, ensure_ascii=False), at, bant, at, at)
                for i, (email, attributes) in enumerate(zip(data.emails, data.attributes, strict=True))
            ),
        )
        connection.executemany(
            "INSERT INTO activities (lead_id, type, occurred_at, properties) VALUES (?, ?, ?, ?)",
            _activity_rows(data),
        )
        connection.execute("CREATE INDEX ix_activities_lead_id_occurred_at ON activities (lead_id, occurred_at)")
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # closed: the last connection to close removes the -wal and -shm files
    partial.rename(path)
    return path


def _migrated(partial: Path) -> Path:
    """A fresh store file at `partial`, migrated to the head revision (leftovers of a broken build removed)."""
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{partial}")
    upgrade(engine)
    engine.dispose()
    return partial


def _activate(connection: sqlite3.Connection, pact: Pact, at: int) -> None:
    """Store `pact` as version 1, active, proposed by user 1."""
    document = json.dumps(pact.model_dump(mode="json", by_alias=True), ensure_ascii=False)
    connection.execute(
        "INSERT INTO pact_versions (version, content_hash, source_text, document, proposed_by, proposed_at, "
        "status, activated_at) VALUES (1, ?, '', ?, 1, ?, 'active', ?)",
        ("0" * 64, document, at, at),
    )


def _activity_rows(data: Dataset) -> Iterator[tuple[int, str, int, str]]:
    kinds = data.types
    # the JSON text per (type, detail) is shared: the pool is small
    cache: dict[tuple[int, int], str] = {}
    for lead, code, at, detail in zip(
        data.lead_id.tolist(), data.type_code.tolist(), data.occurred_at.tolist(), data.detail.tolist(), strict=True
    ):
        text = cache.get((code, detail))
        if text is None:
            text = cache[(code, detail)] = json.dumps(properties(kinds[code], detail), ensure_ascii=False)
        yield lead, kinds[code], at, text


def new_events(data: Dataset, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` fresh activities for existing leads in the last week, some arriving out of order (W3)."""
    rng = np.random.default_rng(SEED + seed)
    leads = rng.integers(1, data.tier.leads + 1, size=count)
    codes = rng.choice(len(TYPES), size=count, p=[p for _, p in TYPES])
    week = 7 * 86_400 * 1_000_000
    times = rng.integers(END_MICROS - week, END_MICROS, size=count)
    details = rng.integers(0, URL_POOL, size=count)
    return [
        {
            "lead_id": int(lead),
            "type": data.types[code],
            "occurred_at": from_micros(int(at)),
            "properties": properties(data.types[code], int(detail)),
        }
        for lead, code, at, detail in zip(leads, codes, times, details, strict=True)
    ]


# --- W7: open handoff clocks -----------------------------------------------------------------------

CLOCKS_VERSION = 2  # bump when the clock data or its store's layout changes, so cached clock stores are rebuilt
JST = ZoneInfo("Asia/Tokyo")
SWEEP_AT = datetime(2026, 10, 1, 9, 0, tzinfo=JST)  # W7 judges the clocks as of this instant
HOUR_MICROS = 3_600 * 1_000_000
DAY_MICROS = 24 * HOUR_MICROS
# (clock id, share of open clocks, responsible, owner's department, the lead's stage)
CLOCK_MIX = (
    ("mql_handoff", 0.25, "marketing", None, "mql"),
    ("is_first_contact", 0.55, "inside_sales", "inside_sales", "mql"),
    ("fs_meeting", 0.20, "field_sales", "field_sales", "sql"),
)
BENCH_USERS = (("marketing", 5), ("inside_sales", 20), ("field_sales", 10))


@dataclass(frozen=True, slots=True)
class OpenClocks:
    """W7's clocks, one open clock per lead (lead i + 1 holds clock i), plus the stopped clocks before it."""

    tier: Tier
    kind: npt.NDArray[np.int8]  # index into CLOCK_MIX
    started_at: Int64s  # µs since the epoch, UTC
    due_at: Int64s
    owner: Int64s  # user id, 0 for none
    stopped: list[tuple[int, int, int, int, int]]  # (lead, kind, started µs, due µs, stopped µs)


def open_clocks(tier: Tier, pact: Pact) -> OpenClocks:
    """One open clock per lead, always the same for the same tier.

    Two thirds started over the year before `SWEEP_AT` (2025-10 to 2026-09: the year end and
    Golden Week included), nearly all of them long breached; a third in its last ten days: running,
    due soon and freshly breached. A quarter are marketing's 24-hour handoff, the rest business-day
    deadlines (3 for inside sales' first contact, 5 for field sales' meeting). A lead waiting for
    inside sales has its handoff clock stopped; one waiting for field sales, both earlier clocks.
    """
    rng = np.random.default_rng(SEED + 7 + tier.leads)
    n = tier.leads
    calendar = BusinessCalendar.of(pact.calendar)
    deadlines = {c.id: c.deadline for c in pact.clocks}
    kind = rng.choice(len(CLOCK_MIX), size=n, p=[share for _, share, *_ in CLOCK_MIX]).astype(np.int8)
    now = to_micros(SWEEP_AT)
    old = rng.integers(now - 365 * DAY_MICROS, now - 7 * DAY_MICROS, size=n)
    recent = rng.integers(now - 10 * DAY_MICROS, now, size=n)
    started = np.where(rng.random(n) < 2 / 3, old, recent)
    due = np.empty(n, dtype=np.int64)
    for k, (clock_id, *_) in enumerate(CLOCK_MIX):
        rows = kind == k
        due[rows] = _due(calendar, deadlines[clock_id], started[rows])
    first_ids = {department: 1 + sum(c for _, c in BENCH_USERS[:i]) for i, (department, _) in enumerate(BENCH_USERS)}
    counts = dict(BENCH_USERS)
    owner = np.zeros(n, dtype=np.int64)
    for k, (_, _, _, department, _) in enumerate(CLOCK_MIX):
        if department is not None:
            rows = kind == k
            owner[rows] = first_ids[department] + rng.integers(0, counts[department], size=int(rows.sum()))
    stopped: list[tuple[int, int, int, int, int]] = []
    gaps = rng.integers(HOUR_MICROS, 3 * DAY_MICROS, size=(n, 2))
    for k in (1, 2):  # the clocks that came before the open one: each stopped when the next one started
        rows = np.flatnonzero(kind == k)
        stop_at = started[rows]
        for earlier in range(k - 1, -1, -1):
            start_at = stop_at - gaps[rows, earlier]
            clock_due = _due(calendar, deadlines[CLOCK_MIX[earlier][0]], start_at)
            stopped.extend(
                zip(
                    (rows + 1).tolist(),
                    [earlier] * len(rows),
                    start_at.tolist(),
                    clock_due.tolist(),
                    stop_at.tolist(),
                    strict=True,
                )
            )
            stop_at = start_at
    return OpenClocks(tier, kind, started, due, owner, stopped)


def _due(calendar: BusinessCalendar, deadline: Deadline, started: Int64s) -> Int64s:
    """`calendar.due` for an array of starts (µs), with the calendar's array functions."""
    if deadline.unit is DeadlineUnit.HOURS:
        return started + int(deadline.amount * HOUR_MICROS)
    days = calendar.due_days(
        calendar.local_days(started.view("datetime64[us]")), np.full(len(started), whole_days(deadline))
    )
    distinct, position = np.unique(days, return_inverse=True)
    ends = np.array([to_micros(calendar.end_of(date.fromisoformat(str(d)))) for d in distinct], dtype=np.int64)
    return ends[position]


def clock_store_file(clocks: OpenClocks, pact: Pact, cache: Path) -> Path:
    """A migrated SQLite store holding W7's leads, users and clocks (built once, then cached)."""
    path = cache / f"store-clocks-{clocks.tier.name}-c{CLOCKS_VERSION}.db"
    if path.exists():
        return path
    partial = _migrated(path.with_suffix(".partial"))
    calendar = BusinessCalendar.of(pact.calendar)
    deadlines = {c.id: c.deadline for c in pact.clocks}
    for i in range(0, clocks.tier.leads, max(1, clocks.tier.leads // 997)):  # the generator's dues are the calendar's
        start = from_micros(int(clocks.started_at[i]))
        assert to_micros(calendar.due(start, deadlines[CLOCK_MIX[clocks.kind[i]][0]])) == clocks.due_at[i]
    at = to_micros(SWEEP_AT)
    stops = {c.id: json.dumps([e.value for e in c.stop]) for c in pact.clocks}
    shares = {c.id: c.due_soon for c in pact.clocks}
    with closing(sqlite3.connect(partial, isolation_level=None)) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        # Loading is faster without the indexes; they are built afterwards as the migrations define them.
        indexes = [str(CreateIndex(i).compile(dialect=sqlite_dialect.dialect())) for i in tables.clocks.indexes]
        for index in tables.clocks.indexes:
            connection.execute(f"DROP INDEX {index.name}")
        connection.execute("BEGIN")
        user = 0
        for department, count in BENCH_USERS:
            for k in range(count):
                user += 1
                connection.execute(
                    "INSERT INTO users (id, name, department, email, is_manager, is_active, created_at) "
                    "VALUES (?, ?, ?, NULL, ?, 1, ?)",
                    (user, f"{department}-{k + 1}", department, k == 0, at),
                )
        _activate(connection, pact, at)
        bant = json.dumps({"confirmed": [], "facts": {}})
        companies = max(100, clocks.tier.leads // 50)
        connection.executemany(
            "INSERT INTO leads (id, email, attributes, stage, stage_changed_at, owner_id, bant, created_at, "
            "updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                (
                    lead,
                    f"lead{lead}@c{lead % companies}.co.jp",
                    f'{{"company": "c{lead % companies}"}}',
                    CLOCK_MIX[kind][4],
                    started,
                    owner or None,
                    bant,
                    started,
                    started,
                )
                for lead, kind, started, owner in zip(
                    range(1, clocks.tier.leads + 1),
                    clocks.kind.tolist(),
                    clocks.started_at.tolist(),
                    clocks.owner.tolist(),
                    strict=True,
                )
            ),
        )
        by = {"mql_handoff": "assigned", "is_first_contact": "first_contact"}
        open_ones = zip(
            range(1, clocks.tier.leads + 1),
            clocks.kind.tolist(),
            clocks.started_at.tolist(),
            clocks.due_at.tolist(),
            [None] * clocks.tier.leads,
            strict=True,
        )
        connection.executemany(
            "INSERT INTO clocks (lead_id, clock_id, pact_version, started_at, due_at, responsible, stops, due_soon, "
            "stopped_at, stopped_by) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    lead,
                    clock,
                    s,
                    d,
                    CLOCK_MIX[k][2],
                    stops[clock],
                    shares[clock],
                    e,
                    by[clock] if e is not None else None,
                )
                for lead, k, s, d, e in itertools.chain(clocks.stopped, open_ones)
                for clock in (CLOCK_MIX[k][0],)
            ),
        )
        for index in indexes:
            connection.execute(index)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    return path


# --- W8: the funnel's history ----------------------------------------------------------------------

FUNNEL_VERSION = 1  # bump when the transitions or their store's layout change, so cached stores are rebuilt
PACT_V2_AT = to_micros(END - timedelta(days=183))  # entries from then on were made under pact version 2
IMPORTED_BEFORE = to_micros(START + timedelta(days=183))  # entries before then came from the MA, imported
# From each stage: (next stage, share, median delay in days). The shares follow the reference's
# conversion rates (§5.1: MQL→SAL 70 %, SAL→SQL 60 %, SQL→Opp 50 %, won 25 %); a tenth of the
# accepted MQLs skip SAL; recycled leads come back as MQLs, up to twice.
MOVES: dict[str, tuple[tuple[str, float, float], ...]] = {
    "lead": (("mql", 0.38, 20.0), ("disqualified", 0.15, 30.0), ("sql", 0.02, 15.0)),
    "mql": (("sal", 0.63, 1.0), ("sql", 0.07, 2.0), ("recycled", 0.20, 3.0), ("disqualified", 0.10, 3.0)),
    "sal": (("sql", 0.60, 5.0), ("recycled", 0.40, 10.0)),
    "sql": (("opportunity", 0.50, 4.0), ("recycled", 0.35, 10.0), ("disqualified", 0.15, 10.0)),
    "opportunity": (("won", 0.25, 30.0), ("lost", 0.75, 40.0)),
    "lost": (("recycled", 0.30, 60.0),),
    "recycled": (("mql", 0.45, 45.0),),
}
SOURCES = ("web_form", "seminar", "exhibition", "referral", "ad")


@dataclass(frozen=True, slots=True)
class FunnelHistory:
    """W8's stage moves in recorded order (imported history first, then leadpact's own as it was
    recorded: mostly in time order, 2 % of entries recorded late). Stages are codes of
    `leadpact.domain.history.STAGES`; instants µs since the epoch."""

    tier: Tier
    seq: Int64s
    lead: Int64s
    at: Int64s
    frm: npt.NDArray[np.int8]
    to: npt.NDArray[np.int8]
    version: Int64s
    imported: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.lead)


def funnel_history(tier: Tier) -> FunnelHistory:
    """Every lead's path through the funnel over the 25 months before `END`, always the same for a tier."""
    from leadpact.domain.history import stage_code

    rng = np.random.default_rng(SEED + 8 + tier.leads)
    n = tier.leads
    lead = np.arange(1, n + 1, dtype=np.int64)
    at = rng.integers(START_MICROS, END_MICROS, size=n)  # when each lead appeared
    state = np.full(n, stage_code("lead"), dtype=np.int8)
    comebacks = np.zeros(n, dtype=np.int8)
    parts: list[tuple[Int64s, Int64s, npt.NDArray[np.int8], npt.NDArray[np.int8]]] = []
    while len(lead):
        roll = rng.random(len(lead))
        nxt = np.full(len(lead), -1, dtype=np.int8)
        delay = np.zeros(len(lead))
        for frm, moves in MOVES.items():
            here = state == stage_code(frm)
            low = 0.0
            for to, share, days in moves:
                chosen = here & (roll >= low) & (roll < low + share)
                nxt[chosen] = stage_code(to)
                delay[chosen] = days
                low += share
        again = (state == stage_code("recycled")) & (nxt == stage_code("mql"))
        nxt[again & (comebacks >= 2)] = -1
        comebacks += again
        when = at + (rng.lognormal(0.0, 0.8, len(lead)) * delay * DAY_MICROS).astype(np.int64)
        moved = (nxt >= 0) & (when < END_MICROS)
        parts.append((lead[moved], when[moved], state[moved], nxt[moved]))
        lead, at, state, comebacks = lead[moved], when[moved], nxt[moved], comebacks[moved]
    leads = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[1] for p in parts])
    frm = np.concatenate([p[2] for p in parts])
    to = np.concatenate([p[3] for p in parts])
    imported = times < IMPORTED_BEFORE
    # recorded: the imported history at once, then leadpact's own entries as they came, a few late
    recorded = np.where(imported, times - END_MICROS, times)
    late = ~imported & (rng.random(len(times)) < 0.02)
    recorded[late] += rng.integers(HOUR_MICROS, 7 * DAY_MICROS, size=int(late.sum()))
    order = np.argsort(recorded, kind="stable")
    return FunnelHistory(
        tier=tier,
        seq=np.arange(1, len(order) + 1, dtype=np.int64),
        lead=leads[order],
        at=times[order],
        frm=frm[order],
        to=to[order],
        version=np.where(times[order] >= PACT_V2_AT, 2, 1).astype(np.int64),
        imported=imported[order],
    )


def funnel_store_file(history: FunnelHistory, pact: Pact, cache: Path) -> Path:
    """A migrated SQLite store holding W8's leads (with a source and a size) and their stage moves as
    ledger entries under pact versions 1 and 2 (built once, then cached)."""
    from leadpact.domain.history import STAGES

    path = cache / f"store-funnel-{history.tier.name}-f{FUNNEL_VERSION}.db"
    if path.exists():
        return path
    partial = _migrated(path.with_suffix(".partial"))
    rng = np.random.default_rng(SEED + 9 + history.tier.leads)
    at = END_MICROS
    with closing(sqlite3.connect(partial, isolation_level=None)) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        indexes = [str(CreateIndex(i).compile(dialect=sqlite_dialect.dialect())) for i in tables.ledger_entries.indexes]
        for index in tables.ledger_entries.indexes:
            connection.execute(f"DROP INDEX {index.name}")
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO users (id, name, department, email, is_manager, is_active, created_at) "
            "VALUES (1, 'bench', 'marketing', NULL, 1, 1, ?)",
            (at,),
        )
        _activate(connection, pact, at)
        document = json.dumps(pact.model_dump(mode="json", by_alias=True), ensure_ascii=False)
        connection.execute(
            "INSERT INTO pact_versions (version, content_hash, source_text, document, proposed_by, proposed_at, "
            "status, activated_at) VALUES (2, ?, '', ?, 1, ?, 'active', ?)",
            ("1" * 64, document, PACT_V2_AT, PACT_V2_AT),
        )
        connection.execute("UPDATE pact_versions SET status = 'superseded' WHERE version = 1")
        sources = rng.integers(0, len(SOURCES), size=history.tier.leads)
        employees = rng.choice((20, 80, 150, 450, 2500), size=history.tier.leads)
        bant = json.dumps({"confirmed": [], "facts": {}})
        connection.executemany(
            "INSERT INTO leads (id, email, attributes, stage, stage_changed_at, owner_id, bant, created_at, "
            "updated_at, version) VALUES (?, NULL, ?, 'lead', ?, NULL, ?, ?, ?, 1)",
            (
                (i + 1, f'{{"source": "{SOURCES[s]}", "employees": {e}}}', at, bant, at, at)
                for i, (s, e) in enumerate(zip(sources.tolist(), employees.tolist(), strict=True))
            ),
        )
        names = [s.value for s in STAGES]
        connection.executemany(
            "INSERT INTO ledger_entries (seq, lead_id, kind, from_stage, to_stage, owner, at, recorded_at, actor, "
            "department, pact_version, evidence, reason, note, override, imported, prev_hash, hash) "
            "VALUES (?, ?, 'transition', ?, ?, NULL, ?, ?, 'bench', 'marketing', ?, '{}', NULL, NULL, 0, ?, '', ?)",
            (
                (seq, lead, names[f], names[t], when, when, version, imported, f"{seq:064x}")
                for seq, lead, f, t, when, version, imported in zip(
                    history.seq.tolist(),
                    history.lead.tolist(),
                    history.frm.tolist(),
                    history.to.tolist(),
                    history.at.tolist(),
                    history.version.tolist(),
                    history.imported.tolist(),
                    strict=True,
                )
            ),
        )
        for index in indexes:
            connection.execute(index)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    return path
