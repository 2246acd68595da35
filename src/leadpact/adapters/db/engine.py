"""Engines for the store: SQLite (the embedded default) and PostgreSQL (a team server).

SQLite gets WAL, foreign keys and a busy timeout on every connection; writes start
with BEGIN IMMEDIATE so two processes queue instead of failing with SQLITE_BUSY on
lock upgrade (see the lost-update measurements in the performance reference).

PostgreSQL plans every statement with its own parameters (`plan_cache_mode`): the bulk paths
pass arrays of a handful to thousands of ids (`= ANY(%s)`), and the generic plan psycopg's
prepared statements fall back to after five runs scanned all of lead_refs for each batch of an
import, comparing every row with every id of the array (half a second a batch at 100 k leads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")


SQLITE_CACHE_KIB = 128 * 1024


def make_engine(url: str, durable: bool = False) -> Engine:
    """An engine for `url`, with SQLite configured for safe concurrent use.

    `durable`: every SQLite commit is synced to disk before it returns (synchronous=FULL), for
    writes acknowledged to a sender that will not send them again (webhook deliveries). Otherwise
    commits survive a crash of the process but not of the machine (NORMAL: checkpoints sync).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite opens transactions itself and late; take manual control so
            # that `begin` below decides the transaction mode (SQLAlchemy's recipe).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            cursor.execute("PRAGMA busy_timeout=30000")
            # 128 MiB of page cache instead of SQLite's 2 MiB: a bulk unit of work reads rows
            # and then writes them back (the incremental rescore reads 10 k score rows of a
            # 1 M-lead store and updates them), and with 2 MiB every page was fetched twice
            # (docs/benchmarks.md, W3). The cache fills only as pages are used, and SQLite
            # drops it whenever another connection has committed, so memory follows the work.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c plan_cache_mode=force_custom_plan"})


def make_reading_engine(url: str) -> Engine:
    """An engine for a process that only reads: each statement sees the last committed state and
    takes no lock a writer would wait for (no BEGIN IMMEDIATE on SQLite; autocommit on PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _autocommit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # no transaction held between statements

        return engine
    return make_engine(url).execution_options(isolation_level="AUTOCOMMIT")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def schema_is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current == head


def upgrade(engine: Engine) -> None:
    """Migrate the store to the newest schema (a no-op when it is current)."""
    if not schema_is_current(engine):
        command.upgrade(alembic_config(engine), "head")
