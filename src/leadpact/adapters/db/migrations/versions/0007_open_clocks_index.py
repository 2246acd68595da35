"""The open clocks' partial index covers what the board and the sweep read of them.

ix_clocks_open_due_at held only the due time: every other column of an open clock was a
random visit to its table row (1.3 s for a million open clocks; docs/benchmarks.md, W7).
The new index holds the due time first, as before, then the start, pact version, due-soon
share, responsible department and lead: the board's columnar read, the sweep's counts and
its check of the newest start read the index alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["due_at", "started_at", "pact_version", "due_soon", "responsible", "lead_id"]


def upgrade() -> None:
    op.drop_index("ix_clocks_open_due_at", table_name="clocks")
    op.create_index(
        "ix_clocks_open",
        "clocks",
        COLUMNS,
        sqlite_where=sa.text("stopped_at IS NULL"),
        postgresql_where=sa.text("stopped_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_clocks_open", table_name="clocks")
    op.create_index(
        "ix_clocks_open_due_at",
        "clocks",
        ["due_at"],
        sqlite_where=sa.text("stopped_at IS NULL"),
        postgresql_where=sa.text("stopped_at IS NULL"),
    )
