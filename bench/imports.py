"""W4 (CSV import of activity rows) and W10 (the same on PostgreSQL), beside their baselines.

The file is a Marketo Bulk Activity Extract (the format a team imports in bulk): 1 M rows at
tier L over 100 k leads that the store already holds, scored, as after a lead import. Baselines
(reference §5.2): the same rows parsed only (the csv module, and pyarrow's multithreaded reader:
the ceilings), and a tuned raw `executemany` of them into the same two tables with the same
indexes, lead ids looked up in a dict, one commit per 5 k rows, the write-ahead log checkpointed as
far apart as ours: what a hand-written loader with no checks, no quarantine, no scoring and no
resume would do.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyarrow import csv as arrow_csv
from sqlalchemy import Engine

from bench.generate import Tier
from bench.workloads import Variant
from leadpact.adapters.db.driver import IMPORT_CHECKPOINT_PAGES
from leadpact.adapters.db.engine import make_engine, upgrade
from leadpact.adapters.db.store import Store
from leadpact.adapters.pact_yaml import read_pact_file
from leadpact.domain.clock import FixedClock
from leadpact.services.imports import ImportReport, import_file
from leadpact.services.pacts import approve_pact, propose_pact
from leadpact.services.rescore import rescore_active
from leadpact.services.users import add_user

NOW = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
START = datetime(2026, 4, 1, tzinfo=UTC)
TYPES = [
    ("1", "www.example.co.jp/pricing"),
    ("1", "www.example.co.jp/blog/dx"),
    ("1", "www.example.co.jp/"),
    ("2", "資料請求フォーム"),
    ("10", "秋のメールマガジン"),
    ("11", "秋のメールマガジン"),
]
HEADER = [
    "marketoGUID",
    "leadId",
    "activityDate",
    "activityTypeId",
    "campaignId",
    "primaryAttributeValueId",
    "primaryAttributeValue",
    "attributes",
]
BATCH = 5_000
# A HubSpot contacts export as the UI writes it (labels), for W4-leads.
CONTACT_HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Contact owner",
    "Company Name",
    "Job Title",
    "Industry",
    "Number of Employees",
    "State/Region",
    "Lifecycle Stage",
    "Lead Status",
    "Create Date",
    "Became a Lead Date",
    "Became a Marketing Qualified Lead Date",
]
STAGES = ["lead", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "subscriber"]
PREFECTURES = ["東京都", "大阪府", "愛知県", "福岡県", "北海道"]


def sizes(tier: Tier) -> tuple[int, int]:
    """(activity rows, leads) for W4 at this tier: a tenth of the tier's events and leads."""
    return tier.events // 10, tier.leads // 10


def activity_file(cache: Path, rows: int, leads: int, encoding: str) -> Path:
    path = cache / f"w4-activities-{rows}-{encoding}.csv"
    if path.exists():
        return path
    rng = random.Random(4)
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            at = START + timedelta(seconds=i * 15_552_000 // rows)  # six months, in time order
            kind, primary = TYPES[rng.randrange(len(TYPES))]
            attributes = json.dumps({"Client IP Address": f"203.0.113.{i % 250}"}) if kind == "1" else ""
            writer.writerow(
                [
                    f"w4-{i}",
                    rng.randint(1, leads),
                    at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    kind,
                    1000 + i % 40,
                    i % 97,
                    primary,
                    attributes,
                ]
            )
    return path


def contacts_file(cache: Path, rows: int, leads: int) -> Path:
    """A HubSpot contacts export of `rows` contacts: every other one a lead the W4 store already holds
    (same e-mail address, so the import links and updates it), the others new; owners the store's
    users, companies shared by about seven contacts each, stage history for the qualified ones."""
    path = cache / f"w4-contacts-{rows}-{leads}.csv"
    if path.exists():
        return path
    rng = random.Random(6)
    companies = max(rows // 7, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        writer.writerow(CONTACT_HEADER)
        for i in range(rows):
            known = i % 2 == 0 and i // 2 < leads
            email = f"lead{i // 2 + 1}@example.co.jp" if known else f"contact{i}@co{i % companies}.example.jp"
            stage = STAGES[rng.randrange(len(STAGES))]
            created = START + timedelta(minutes=i * 7 % 200_000)
            qualified = created + timedelta(days=rng.randint(1, 30))
            writer.writerow(
                [
                    str(200_000 + i),
                    f"名{i}",
                    "山田",
                    email,
                    rng.choice(["田中", "鈴木", ""]),
                    f"株式会社サンプル{i % companies}",
                    rng.choice(["部長", "課長", "担当"]),
                    rng.choice(["製造業", "情報通信業", "卸売業"]),
                    str(rng.randint(5, 3000)),
                    rng.choice(PREFECTURES),
                    stage,
                    "NEW",
                    created.strftime("%Y-%m-%d %H:%M"),
                    created.strftime("%Y-%m-%d %H:%M"),
                    qualified.strftime("%Y-%m-%d %H:%M") if stage not in ("lead", "subscriber") else "",
                ]
            )
    return path


def lead_store(cache: Path, leads: int) -> Path:
    """A migrated store with the example pact active and `leads` scored leads known by Marketo id."""
    path = cache / f"w4-store-{leads}.db"
    if path.exists():
        return path
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    clock = FixedClock(NOW - timedelta(days=200))
    for name, department in (("佐藤", "marketing"), ("田中", "inside_sales"), ("鈴木", "field_sales")):
        add_user(Store(engine), clock, name, department, None, True)
    document = read_pact_file(Path(__file__).resolve().parents[1] / "examples" / "pact.yaml")
    version = propose_pact(Store(engine), clock, document, "佐藤").version
    for name in ("佐藤", "田中", "鈴木"):
        approve_pact(Store(engine), clock, version, name)
    engine.dispose()
    connection = sqlite3.connect(path)
    created = int((NOW - timedelta(days=200)).timestamp() * 1_000_000)
    rng = random.Random(5)
    industries = ["製造業", "情報通信業", "卸売業", "小売業", "サービス業"]
    with connection:
        connection.executemany(
            "INSERT INTO leads (id, email, attributes, stage, stage_changed_at, bant, created_at, updated_at, version)"
            " VALUES (?, ?, ?, 'lead', ?, '{\"confirmed\": [], \"facts\": {}}', ?, ?, 1)",
            [
                (
                    i,
                    f"lead{i}@example.co.jp",
                    json.dumps({"industry": rng.choice(industries), "employees": rng.randint(5, 2000)}),
                    created,
                    created,
                    created,
                )
                for i in range(1, leads + 1)
            ],
        )
        connection.executemany(
            "INSERT INTO lead_refs (system, external_id, lead_id) VALUES ('marketo', ?, ?)",
            [(str(i), i) for i in range(1, leads + 1)],
        )
    connection.close()
    engine = make_engine(f"sqlite:///{path}")
    rescore_active(engine, NOW - timedelta(days=200))
    engine.dispose()
    return path


def _fresh(source: Path, work: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copy(source, work)
    return work


def w4(tier: Tier, cache: Path) -> dict[str, Any]:
    rows, leads = sizes(tier)
    store = lead_store(cache, leads)
    utf8 = activity_file(cache, rows, leads, "utf-8")
    sjis = activity_file(cache, rows, leads, "cp932")
    variants: list[Variant] = []
    work = _fresh(store, cache / "w4-work.db")
    engine = make_engine(f"sqlite:///{work}")
    clock = FixedClock(NOW)
    first, ours = _timed_import(engine, clock, utf8, "marketo-activities")
    assert first.created == rows and first.quarantined == 0, (first.created, first.quarantined)
    variants.append(
        Variant("ours: import (UTF-8)", ours, [ours], f"{rows / ours:,.0f} rows/s; {first.transitions} new MQLs")
    )
    again, seconds = _timed_import(engine, clock, utf8, "marketo-activities")
    assert again.created == 0 and again.unchanged == rows
    variants.append(
        Variant("ours: re-import, nothing new", seconds, [seconds], f"{rows / seconds:,.0f} rows/s; 0 new rows")
    )
    engine.dispose()

    work = _fresh(store, cache / "w4-work.db")
    engine = make_engine(f"sqlite:///{work}")
    cp932, seconds = _timed_import(engine, clock, sjis, "marketo-activities")
    assert cp932.created == rows and cp932.encoding == "cp932"
    variants.append(Variant("ours: import (CP932)", seconds, [seconds], f"{rows / seconds:,.0f} rows/s"))
    engine.dispose()

    work = _fresh(store, cache / "w4-work.db")
    seconds = _raw_executemany(work, utf8)
    variants.append(
        Variant("raw executemany, same schema", seconds, [seconds], f"{rows / seconds:,.0f} rows/s; no checks")
    )
    variants.append(_csv_parse(utf8))
    started = time.perf_counter()
    table = arrow_csv.read_csv(utf8, convert_options=arrow_csv.ConvertOptions(strings_can_be_null=False))
    seconds = time.perf_counter() - started
    variants.append(
        Variant("pyarrow read_csv, parse only", seconds, [seconds], f"{table.num_rows / seconds:,.0f} rows/s, threads")
    )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    return {"rows": rows, "leads": leads, "variants": variants}


def w4_leads(tier: Tier, cache: Path) -> dict[str, Any]:
    """A lead file: a HubSpot contacts export into the W4 store, half of it leads the store knows.

    Not a reference workload (no target): each row is a lead resolved by e-mail, company and
    HubSpot id, its attributes, stage history, owner, handoff clocks and score, so a lead file
    imports one to two orders of magnitude slower than W4's activity rows; this row keeps that
    path measured. Beside it, the csv module parsing the same file (the floor).
    """
    rows, leads = sizes(tier)[1] // 2, sizes(tier)[1]
    store = lead_store(cache, leads)
    contacts = contacts_file(cache, rows, leads)
    work = _fresh(store, cache / "w4-work.db")
    engine = make_engine(f"sqlite:///{work}")
    clock = FixedClock(NOW)
    first, ours = _timed_import(engine, clock, contacts, "hubspot-contacts")
    assert first.created + first.updated == rows and first.quarantined == 0, (first.created, first.quarantined)
    variants = [
        Variant(
            "ours: import a HubSpot contacts export",
            ours,
            [ours],
            f"{rows / ours:,.0f} rows/s; {first.created:,} created, {first.updated:,} updated, "
            f"{first.transitions:,} stage changes",
        )
    ]
    again, seconds = _timed_import(engine, clock, contacts, "hubspot-contacts")
    assert again.created == again.updated == 0 and again.unchanged == rows, (again.created, again.updated)
    variants.append(
        Variant("ours: re-import, nothing new", seconds, [seconds], f"{rows / seconds:,.0f} rows/s; 0 changed")
    )
    engine.dispose()
    variants.append(_csv_parse(contacts))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    return {"rows": rows, "leads": leads, "variants": variants}


def _timed_import(engine: Engine, clock: FixedClock, path: Path, format: str) -> tuple[ImportReport, float]:
    started = time.perf_counter()
    report = import_file(engine, clock, path, format)
    return report, time.perf_counter() - started


def _csv_parse(file: Path) -> Variant:
    """The floor: the csv module reading every row of the file, nothing else."""
    started = time.perf_counter()
    with file.open(newline="", encoding="utf-8") as stream:
        parsed = sum(1 for _ in csv.reader(stream)) - 1
    seconds = time.perf_counter() - started
    return Variant("csv module, parse only", seconds, [seconds], f"{parsed / seconds:,.0f} rows/s")


def _raw_executemany(path: Path, file: Path) -> float:
    """The baseline: the rows as parsed, straight into inbox and activities, ids preassigned, a commit per batch."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA wal_autocheckpoint={IMPORT_CHECKPOINT_PAGES}")  # tuned as ours is
    leads = dict(connection.execute("SELECT external_id, lead_id FROM lead_refs WHERE system = 'marketo'"))
    received = int(NOW.timestamp() * 1_000_000)
    started = time.perf_counter()
    (next_id,) = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM inbox").fetchone()
    with file.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        next(reader)
        while True:
            batch = [row for _, row in zip(range(BATCH), reader, strict=False)]
            if not batch:
                break
            ids = range(next_id, next_id + len(batch))
            next_id += len(batch)
            micros = [int(datetime.fromisoformat(r[2]).timestamp() * 1_000_000) for r in batch]
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT OR IGNORE INTO inbox (id, source, event_id, type, occurred_at, received_at, payload_hash) "
                "VALUES (?, 'marketo', ?, 'activity', ?, ?, '')",
                [(i, r[0], m, received) for i, r, m in zip(ids, batch, micros, strict=True)],
            )
            connection.executemany(
                "INSERT INTO activities (lead_id, type, occurred_at, properties, inbox_id) VALUES (?, ?, ?, ?, ?)",
                [
                    (leads[r[1]], r[3], m, json.dumps({"primary": r[6]}, ensure_ascii=False), i)
                    for i, r, m in zip(ids, batch, micros, strict=True)
                ],
            )
            connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def w10_store(url: str, leads: int) -> tuple[Engine, str]:
    """An emptied PostgreSQL store with the example pact and `leads` scored leads known by Marketo id,
    as W10 starts from; returns its engine and the plain psycopg URL."""
    import psycopg
    from sqlalchemy import text

    engine = make_engine(url)
    upgrade(engine)
    names = ", ".join(
        f'"{name}"'
        for name in (
            "quarantine",
            "import_runs",
            "notifications",
            "clock_breaches",
            "clocks",
            "ledger_entries",
            "lead_scores",
            "activities",
            "contacts",
            "inbox",
            "lead_refs",
            "leads",
            "pact_approvals",
            "pact_versions",
            "users",
        )
    )
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        c.execute(text("UPDATE ledger_head SET seq = 0, hash = :h WHERE id = 1"), {"h": "0" * 64})
    clock = FixedClock(NOW - timedelta(days=200))
    for name, department in (("佐藤", "marketing"), ("田中", "inside_sales"), ("鈴木", "field_sales")):
        add_user(Store(engine), clock, name, department, None, True)
    document = read_pact_file(Path(__file__).resolve().parents[1] / "examples" / "pact.yaml")
    version = propose_pact(Store(engine), clock, document, "佐藤").version
    for name in ("佐藤", "田中", "鈴木"):
        approve_pact(Store(engine), clock, version, name)
    created = int((NOW - timedelta(days=200)).timestamp() * 1_000_000)
    plain = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY leads (id, email, attributes, stage, stage_changed_at, bant, created_at, updated_at, "
            "version) FROM STDIN"
        ) as copy:
            for i in range(1, leads + 1):
                copy.write_row(
                    (
                        i,
                        f"lead{i}@example.co.jp",
                        "{}",
                        "lead",
                        created,
                        '{"confirmed": [], "facts": {}}',
                        created,
                        created,
                        1,
                    )
                )
        with cursor.copy("COPY lead_refs (system, external_id, lead_id) FROM STDIN") as copy:
            for i in range(1, leads + 1):
                copy.write_row(("marketo", str(i), i))
        cursor.execute("SELECT setval(pg_get_serial_sequence('leads', 'id'), %s)", (leads,))
    rescore_active(engine, NOW - timedelta(days=200))
    return engine, plain


def w10(tier: Tier, cache: Path, url: str) -> dict[str, Any]:
    """The W4 file imported into PostgreSQL, beside row-at-a-time inserts, executemany and a raw COPY."""
    import psycopg

    rows, leads = sizes(tier)
    utf8 = activity_file(cache, rows, leads, "utf-8")
    engine, plain = w10_store(url, leads)
    variants: list[Variant] = []
    started = time.perf_counter()
    first = import_file(engine, FixedClock(NOW), utf8, "marketo-activities")
    ours = time.perf_counter() - started
    assert first.created == rows
    variants.append(Variant("ours: import into PostgreSQL", ours, [ours], f"{rows / ours:,.0f} rows/s"))
    started = time.perf_counter()
    again = import_file(engine, FixedClock(NOW), utf8, "marketo-activities")
    seconds = time.perf_counter() - started
    assert again.created == 0
    variants.append(Variant("ours: re-import, idempotent", seconds, [seconds], f"{rows / seconds:,.0f} rows/s"))
    engine.dispose()
    parsed = _parsed(utf8)
    with psycopg.connect(plain) as connection:
        for name, load in (("raw COPY", _copy), ("executemany (pipelined)", _executemany)):
            _clear_activities(connection)
            started = time.perf_counter()
            load(connection, parsed)
            seconds = time.perf_counter() - started
            variants.append(Variant(name, seconds, [seconds], f"{rows / seconds:,.0f} rows/s; no checks"))
        _clear_activities(connection)
        sample = parsed[:2_000]
        started = time.perf_counter()
        _row_at_a_time(connection, sample)
        per_row = (time.perf_counter() - started) / len(sample)
        variants.append(
            Variant(
                "row at a time (commit each)",
                per_row * rows,
                [per_row * rows],
                f"{1 / per_row:,.0f} rows/s, timed on {len(sample):,} rows and scaled",
            )
        )
        _clear_activities(connection)
    return {"rows": rows, "leads": leads, "variants": variants}


def _parsed(file: Path) -> list[tuple[int, str, int, str, int, str]]:
    """(inbox id, event id, lead id, type, occurred µs, properties JSON) of every row, parsed beforehand."""
    found = []
    with file.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        next(reader)
        for i, r in enumerate(reader, start=10_000_000):
            micros = int(datetime.fromisoformat(r[2]).timestamp() * 1_000_000)
            found.append((i, r[0], int(r[1]), r[3], micros, json.dumps({"primary": r[6]}, ensure_ascii=False)))
    return found


def _clear_activities(connection: Any) -> None:
    """Empty the tables a baseline loads (our runs are timed before: nothing else is kept)."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE activities, inbox CASCADE")
    connection.commit()


def _copy(connection: Any, rows: list[tuple[int, str, int, str, int, str]]) -> None:
    received = int(NOW.timestamp() * 1_000_000)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            with cursor.copy(
                "COPY inbox (id, source, event_id, type, occurred_at, received_at, payload_hash) FROM STDIN"
            ) as copy:
                for r in part:
                    copy.write_row((r[0], "bench", r[1], "activity", r[4], received, ""))
            with cursor.copy("COPY activities (lead_id, type, occurred_at, properties, inbox_id) FROM STDIN") as copy:
                for r in part:
                    copy.write_row((r[2], r[3], r[4], r[5], r[0]))
            connection.commit()


def _executemany(connection: Any, rows: list[tuple[int, str, int, str, int, str]]) -> None:
    received = int(NOW.timestamp() * 1_000_000)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            cursor.executemany(
                "INSERT INTO inbox (id, source, event_id, type, occurred_at, received_at, payload_hash) "
                "VALUES (%s, 'bench', %s, 'activity', %s, %s, '') ON CONFLICT DO NOTHING",
                [(r[0], r[1], r[4], received) for r in part],
            )
            cursor.executemany(
                "INSERT INTO activities (lead_id, type, occurred_at, properties, inbox_id) VALUES (%s, %s, %s, %s, %s)",
                [(r[2], r[3], r[4], r[5], r[0]) for r in part],
            )
            connection.commit()


def _row_at_a_time(connection: Any, rows: list[tuple[int, str, int, str, int, str]]) -> None:
    received = int(NOW.timestamp() * 1_000_000)
    with connection.cursor() as cursor:
        for r in rows:
            cursor.execute(
                "INSERT INTO inbox (id, source, event_id, type, occurred_at, received_at, payload_hash) "
                "VALUES (%s, 'bench', %s, 'activity', %s, %s, '') ON CONFLICT DO NOTHING",
                (r[0], r[1], r[4], received),
            )
            cursor.execute(
                "INSERT INTO activities (lead_id, type, occurred_at, properties, inbox_id) VALUES (%s, %s, %s, %s, %s)",
                (r[2], r[3], r[4], r[5], r[0]),
            )
            connection.commit()
