"""Alembic environment: runs on the engine handed in by leadpact (or LEADPACT_DATABASE_URL)."""

from __future__ import annotations

import os

from alembic import context

from leadpact.adapters.db.engine import make_engine
from leadpact.adapters.db.tables import metadata

config = context.config
engine = config.attributes.get("engine") or make_engine(
    os.environ.get("LEADPACT_DATABASE_URL", "sqlite:///leadpact.db")
)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
