"""The composition root: settings in, engine, store factory and clock out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from leadpact.adapters.db.engine import make_engine, upgrade
from leadpact.adapters.db.store import Store
from leadpact.config import Settings
from leadpact.domain.clock import Clock


class SystemClock:
    """The wall clock, in UTC. The only place leadpact reads the current time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    clock: Clock

    def store(self) -> Store:
        """A fresh unit of work."""
        return Store(self.engine)


def bootstrap(settings: Settings, clock: Clock | None = None, migrate: bool = True) -> App:
    """Build the engine and bring the schema up to date (the embedded default needs no setup step)."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    return App(settings=settings, engine=engine, clock=clock or SystemClock())
