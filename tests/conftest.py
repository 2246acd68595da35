"""Fixtures: a fresh migrated store per test on SQLite, and on PostgreSQL when it is configured.

SQLite: the migrations run once per session into a template file; each test gets a copy.
PostgreSQL (LEADPACT_TEST_POSTGRES_URL): a database of our own is created next to the
given one, migrated once, and emptied before each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from leadpact.adapters.db.engine import make_engine, upgrade
from leadpact.adapters.db.tables import metadata
from leadpact.bootstrap import App, bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from tests.receivers import Far, far_ends

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PACT = ROOT / "examples" / "pact.yaml"
PG_URL = os.environ.get("LEADPACT_TEST_POSTGRES_URL")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "leadpact.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("LEADPACT_TEST_POSTGRES_URL is not set")
    name = f"leadpact_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def empty_postgres(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text("INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each store test runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_database")
    empty_postgres(url)
    return url


@pytest.fixture
def app(database_url: str, clock: FixedClock) -> Iterator[App]:
    built = bootstrap(Settings(database_url=database_url), clock=clock)
    yield built
    built.engine.dispose()


@pytest.fixture
def engine(app: App) -> Engine:
    return app.engine


@pytest.fixture
def far() -> Iterator[Far]:
    """Local receivers for every channel type, started for the test and stopped after it."""
    with far_ends() as ends:
        yield ends
