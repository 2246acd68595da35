"""Clocks stopped late: a partial index, so that each SLA sweep finds them without reading every clock.

A sweep records the clocks past due: those still running (the open clocks' index) and those
that stopped after their due time and were not recorded yet. Asked in one statement with an OR,
neither engine could use an index for it, and every clock ever run was read at every sweep. The
sweep now asks twice; this index serves the second question, over late stops only. No table
changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATE_STOP = sa.text("stopped_at > due_at")


def upgrade() -> None:
    op.create_index("ix_clocks_stopped_late", "clocks", ["due_at"], sqlite_where=LATE_STOP, postgresql_where=LATE_STOP)


def downgrade() -> None:
    op.drop_index("ix_clocks_stopped_late", table_name="clocks")
