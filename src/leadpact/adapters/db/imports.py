"""Repositories of the import path: runs, quarantine, and the bulk insert of imported activities.

Never commits: the import service commits each batch with its counts and its quarantine
rows, so a run's `last_line` always says how far its committed batches reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from sqlalchemy import Connection, insert, select, update

from leadpact.adapters.db import driver
from leadpact.adapters.db import tables as t
from leadpact.adapters.db.tables import to_micros

RUNNING, DONE = "running", "done"


@dataclass(frozen=True, slots=True)
class ImportRun:
    id: int
    format: str
    file_name: str
    fingerprint: str
    header: str
    encoding: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    last_line: int
    rows: int
    created: int
    updated: int
    unchanged: int
    quarantined: int


@dataclass(frozen=True, slots=True)
class Counts:
    """What one committed batch added to its run."""

    last_line: int
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    id: int
    run_id: int
    file_name: str
    line: int
    last_line: int
    column: str | None
    reason: str
    raw: str
    recorded_at: datetime


class ImportRuns:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def unfinished(self, fingerprint: str, format: str) -> ImportRun | None:
        """The newest run of this very file and format that was cut off before it finished."""
        query = (
            select(t.import_runs)
            .where(
                t.import_runs.c.fingerprint == fingerprint,
                t.import_runs.c.format == format,
                t.import_runs.c.status == RUNNING,
            )
            .order_by(t.import_runs.c.id.desc())
        )
        row = self.c.execute(query).first()
        return ImportRun(**row._mapping) if row else None

    def others_unfinished(self, run_id: int | None) -> list[ImportRun]:
        """Runs other than `run_id` that have not finished, oldest first: cut off (or running right now)."""
        c = t.import_runs.c
        query = select(t.import_runs).where(c.status == RUNNING).order_by(c.id)
        if run_id is not None:
            query = query.where(c.id != run_id)
        return [ImportRun(**row._mapping) for row in self.c.execute(query)]

    def finished_before(self, fingerprint: str, format: str) -> bool:
        """Whether a run of this very file and format has finished before (importing it again recognises its rows)."""
        c = t.import_runs.c
        query = select(c.id).where(c.fingerprint == fingerprint, c.format == format, c.status != RUNNING).limit(1)
        return self.c.execute(query).first() is not None

    def start(self, format: str, file_name: str, fingerprint: str, header: str, encoding: str, at: datetime) -> int:
        result = self.c.execute(
            insert(t.import_runs).values(
                format=format,
                file_name=file_name,
                fingerprint=fingerprint,
                header=header,
                encoding=encoding,
                status=RUNNING,
                started_at=at,
                last_line=0,
                rows=0,
                created=0,
                updated=0,
                unchanged=0,
                quarantined=0,
            )
        )
        (run_id,) = result.inserted_primary_key or (0,)
        return int(run_id)

    def advance(self, run_id: int, counts: Counts) -> None:
        c = t.import_runs.c
        self.c.execute(
            update(t.import_runs)
            .where(c.id == run_id)
            .values(
                last_line=counts.last_line,
                rows=c.rows + counts.rows,
                created=c.created + counts.created,
                updated=c.updated + counts.updated,
                unchanged=c.unchanged + counts.unchanged,
                quarantined=c.quarantined + counts.quarantined,
            )
        )

    def finish(self, run_id: int, at: datetime) -> None:
        self.c.execute(update(t.import_runs).where(t.import_runs.c.id == run_id).values(status=DONE, finished_at=at))

    def get(self, run_id: int) -> ImportRun | None:
        row = self.c.execute(select(t.import_runs).where(t.import_runs.c.id == run_id)).first()
        return ImportRun(**row._mapping) if row else None

    def recent(self, limit: int = 20) -> list[ImportRun]:
        query = select(t.import_runs).order_by(t.import_runs.c.id.desc()).limit(limit)
        return [ImportRun(**row._mapping) for row in self.c.execute(query)]


class Quarantine:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(
        self,
        run_id: int,
        fingerprint: str,
        file_name: str,
        rows: Sequence[tuple[int, int, str | None, str, str]],
        at: datetime,
    ) -> None:
        """Keep bad records (line, last line, column, reason, raw); one already kept for this file is left."""
        if not rows:
            return
        columns = ("run_id", "fingerprint", "file_name", "line", "last_line", "column_name", "reason", "raw")
        driver.execute_many(
            self.c,
            driver.insert_sql(self.c, "quarantine", (*columns, "recorded_at"))
            + " ON CONFLICT (fingerprint, line) DO NOTHING",
            [(run_id, fingerprint, file_name, *row, to_micros(at)) for row in rows],
        )

    def rows(self, run_ids: Sequence[int] | None = None, limit: int | None = None) -> list[QuarantinedRow]:
        q = t.quarantine.c
        query = select(t.quarantine).order_by(q.run_id, q.line)
        if run_ids is not None:
            query = query.where(q.run_id.in_(run_ids))
        if limit is not None:
            query = query.limit(limit)
        return [
            QuarantinedRow(
                r.id, r.run_id, r.file_name, r.line, r.last_line, r.column_name, r.reason, r.raw, r.recorded_at
            )
            for r in self.c.execute(query)
        ]


INBOX_COLUMNS = ("id", "source", "event_id", "type", "occurred_at", "received_at", "payload_hash")
ACTIVITY_COLUMNS = ("lead_id", "type", "occurred_at", "properties", "inbox_id")


class ImportedActivities:
    """Activities and their inbox rows written in two statements per batch, ids reserved first."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def rows_of(self, source: str, event_ids: Sequence[str]) -> tuple[list[int], list[str], list[int]]:
        """The activities the rows `event_ids` from `source` became, as columns: lead ids, activity
        types, occurred_at in µs (what a batch hands the run's closing fold; found through the
        activities' inbox index)."""
        if not event_ids:
            return [], [], []
        where, param = driver.in_list(self.c, list(event_ids))
        m = driver.mark(self.c)
        rows = driver.fetch(
            self.c,
            "SELECT a.lead_id, a.type, a.occurred_at FROM inbox AS i JOIN activities AS a ON a.inbox_id = i.id "
            f"WHERE i.source = {m} AND i.event_id {where}",
            (source, param),
        )
        return [int(r[0]) for r in rows], [r[1] for r in rows], [int(r[2]) for r in rows]

    def add(
        self,
        source: str,
        received_at: datetime,
        rows: Sequence[tuple[str, int, str, int, str, str]],
    ) -> None:
        """Rows of (event id, lead id, activity type, occurred at in µs, properties JSON, payload hash)."""
        if not rows:
            return
        ids = driver.reserve_ids(self.c, "inbox", len(rows))
        received = to_micros(received_at)
        # The inbox takes the rows in file order (a file imported again is recognised by its
        # ranges); activities take them in the order of their (lead, time) index, so the index's
        # pages are visited once each, in order, rather than at random.
        activities = sorted(((r[1], r[2], r[3], r[4], i) for i, r in zip(ids, rows, strict=True)), key=itemgetter(0, 2))
        if driver.is_postgres(self.c):
            # COPY: the rows stream in one round trip each table; a concurrent import of the same
            # ids fails on the inbox's unique key and its batch is retried on fresh state.
            found = driver.cursor(self.c)
            try:
                with driver.translated(self.c, "COPY inbox, activities"):
                    with found.copy(f"COPY inbox ({', '.join(INBOX_COLUMNS)}) FROM STDIN") as copy:
                        for i, r in zip(ids, rows, strict=True):
                            copy.write_row((i, source, r[0], "activity", r[3], received, r[5]))
                    with found.copy(f"COPY activities ({', '.join(ACTIVITY_COLUMNS)}) FROM STDIN") as copy:
                        for activity in activities:
                            copy.write_row(activity)
            finally:
                found.close()
            return
        driver.execute_many(
            self.c,
            driver.insert_sql(self.c, "inbox", INBOX_COLUMNS),
            [(i, source, r[0], "activity", r[3], received, r[5]) for i, r in zip(ids, rows, strict=True)],
        )
        driver.execute_many(self.c, driver.insert_sql(self.c, "activities", ACTIVITY_COLUMNS), activities)
