"""Migrations are the schema: upgrading an empty store gives exactly the tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.engine import make_engine, schema_is_current, upgrade
from leadpact.bootstrap import App

# On PostgreSQL these are checked once per statement by triggers, not as foreign keys (migration 0012).
PER_STATEMENT = {"fk_activities_lead_id_leads", "fk_activities_inbox_id_inbox"}


def test_the_migrated_schema_matches_the_declared_tables(app: App) -> None:
    postgres = app.engine.dialect.name == "postgresql"

    def compared(_: object, name: str | None, kind: str, *__: object) -> bool:
        return not (postgres and kind == "foreign_key_constraint" and name in PER_STATEMENT)

    with app.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": compared})
        assert compare_metadata(context, t.metadata) == []


def test_the_ledger_starts_at_the_genesis_hash(app: App) -> None:
    with app.engine.connect() as connection:
        assert connection.execute(select(t.ledger_head.c.seq, t.ledger_head.c.hash)).one() == (0, "0" * 64)


def test_upgrading_a_current_store_is_a_no_op(app: App) -> None:
    assert schema_is_current(app.engine)
    upgrade(app.engine)
    assert schema_is_current(app.engine)


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
