"""Driver-level SQL for the bulk paths: plain tuples through the unit of work's own connection.

SQLAlchemy's parameter processing costs several microseconds a row; a bulk import or rescore
of a million rows cannot pay it. These helpers run statements on the DB-API connection under
the `Store`'s transaction, with the placeholder and list-parameter syntax of each driver.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def mark(connection: Connection) -> str:
    """The driver's parameter placeholder (psycopg: %s, sqlite3: ?)."""
    return "%s" if is_postgres(connection) else "?"


def insert_sql(connection: Connection, table: str, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) VALUES (…)` with one driver placeholder per column."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark(connection)] * len(columns))})"


def in_list(connection: Connection, values: Sequence[Any]) -> tuple[str, Any]:
    """`column {sql}` tests membership of `values` with one parameter: a JSON array.

    On PostgreSQL too: psycopg writes a list parameter element by element, with a regular
    expression per element to decide its quoting (10 ms for 5,000 ids); `json.dumps` is one C call.
    """
    if is_postgres(connection):
        if values and isinstance(values[0], int):
            return "IN (SELECT value::bigint FROM jsonb_array_elements_text(%s::jsonb))", json.dumps(list(values))
        return "IN (SELECT jsonb_array_elements_text(%s::jsonb))", json.dumps(list(values))
    return "IN (SELECT value FROM json_each(?))", json.dumps(list(values))


def unnest(columns: Sequence[tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """PostgreSQL: `unnest(...)` of columns of (type, values), each passed as one parameter.

    Numbers go as one comma-joined text (`N` for NULL) and fixed-width bytes as one bytea cut
    apart on the server, for the reason `in_list` gives: a list of 5,000 score states took
    30 ms to send as an array parameter.
    """
    parts: list[str] = []
    params: list[Any] = []
    for kind, values in columns:
        if kind == "bytea":
            width = len(values[0]) if values else 0
            assert all(len(v) == width for v in values), "unnest() cuts bytea values of one width"
            parts.append(
                "(SELECT array_agg(substring(%s::bytea FROM (g - 1) * %s + 1 FOR %s) ORDER BY g) "
                "FROM generate_series(1, %s) AS g)"
            )
            params += [b"".join(values), width, width, len(values)]
        else:
            parts.append(f"string_to_array(%s, ',', 'N')::{kind}[]")
            params.append(",".join("N" if v is None else repr(v) for v in values))
    return f"unnest({', '.join(parts)})", params


def cursor(connection: Connection) -> Any:
    """A cursor of the unit of work's own driver connection (same transaction): plain tuples."""
    return connection.connection.cursor()


@contextmanager
def translated(connection: Connection, sql: str) -> Iterator[None]:
    """The driver's own errors raised as SQLAlchemy's (`IntegrityError`, `OperationalError`), as a
    statement run through SQLAlchemy raises them: a unit of work retried on a conflict
    (services/lifecycle.retrying) catches those, whichever way the statement went."""
    try:
        yield
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, connection.dialect.loaded_dbapi.Error) from exc


def _announce(connection: Connection, found: Any, sql: str, params: Any, many: bool) -> None:
    """Tell SQLAlchemy's `before_cursor_execute` listeners of a statement run here, as it tells them
    of its own: the plan tests (tests/query_plans.py) see every statement a repository issues."""
    if connection.dispatch.before_cursor_execute:
        connection.dispatch.before_cursor_execute(connection, found, sql, params, None, many)


def fetch(connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    found = cursor(connection)
    try:
        with translated(connection, sql):
            _announce(connection, found, sql, tuple(params), False)
            found.execute(sql, tuple(params))
            return list(found.fetchall())
    finally:
        found.close()


def json_value(stored: Any) -> Any:
    """A JSON column's value as read through `fetch`: text on SQLite; psycopg hands it over decoded."""
    return json.loads(stored) if isinstance(stored, str | bytes) else stored


def execute_many(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run `sql` once per row; returns the rows it changed in all (both drivers sum them)."""
    if not rows:
        return 0
    found = cursor(connection)
    try:
        with translated(connection, sql):
            _announce(connection, found, sql, rows, True)
            found.executemany(sql, rows)
            return int(found.rowcount)
    finally:
        found.close()


def reserve_ids(connection: Connection, table: str, count: int) -> list[int]:
    """`count` fresh primary keys of `table`, for rows inserted with their ids in one statement.

    SQLite: the unit of work holds the write lock (BEGIN IMMEDIATE), so the ids after the
    largest are free. PostgreSQL: drawn from the table's sequence, so concurrent writers never
    collide.
    """
    if count == 0:
        return []
    if is_postgres(connection):
        # The sequence's name in a sub-select, found once: as a plain call it was looked up for
        # every id drawn (11 ms of 5,000, against 2 ms).
        rows = fetch(
            connection,
            f"SELECT nextval((SELECT pg_get_serial_sequence('{table}', 'id'))::regclass) FROM generate_series(1, %s)",
            (count,),
        )
        return [int(r[0]) for r in rows]
    ((top,),) = fetch(connection, f"SELECT coalesce(max(id), 0) FROM {table}")
    return list(range(int(top) + 1, int(top) + 1 + count))


IMPORT_CACHE_KIB = 32 * 1024
# A bulk job checkpoints the write-ahead log every 128 MiB instead of SQLite's 4 MiB: each
# checkpoint syncs the database file, and with 4 MiB every 5,000-row batch of a million-row import
# paid one (16 s of a 44 s import at tier L), writing the same hot index and score pages back again
# and again. The log is on disk; readers still see every commit.
IMPORT_CHECKPOINT_PAGES = 32_768


def bulk_cache(connection: Connection) -> None:
    """Give a SQLite connection that runs a long bulk job a smaller page cache than the default 128 MiB,
    and checkpoints further apart (`IMPORT_CHECKPOINT_PAGES`).

    A million-row import touches more pages than any cache holds, so the big cache only filled up:
    the same import took as long with 32 MiB and peaked 100 MB lower (docs/imports.md). The setting
    stays with the pooled connection, which a command line process does not share.
    """
    if not is_postgres(connection):
        connection.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        connection.exec_driver_sql(f"PRAGMA wal_autocheckpoint={IMPORT_CHECKPOINT_PAGES}")
