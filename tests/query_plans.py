"""What the engine plans for a repository's query: for tests that an index serves it.

A query the planner answers by reading a whole table runs fine on a test's handful of rows and
slows down as the table grows, which no test of behaviour sees. These tests capture the statement
a repository method issues and ask the engine how it would run it with the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event


def plan_of(engine: Engine, table: str, call: Callable[[], Any], verb: str = "SELECT", having: str = "") -> str:
    """The plan of the one statement on `table` that `call` issues (a SELECT, or `verb`; with `having`
    in its text), as one line of text. On
    PostgreSQL sequential scans are off: with a test's few rows, a scan would always be cheapest,
    so what is checked is that an index can serve the query at all."""
    issued: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if f" {table}" in statement and statement.lstrip().upper().startswith(verb) and having in statement:
            issued.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ((statement, parameters),) = issued
    with engine.connect() as c:
        if c.dialect.name == "postgresql":
            c.exec_driver_sql("SET enable_seqscan = off")
            return " ".join(r[0] for r in c.exec_driver_sql("EXPLAIN " + statement, parameters))
        return " ".join(r[-1] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
