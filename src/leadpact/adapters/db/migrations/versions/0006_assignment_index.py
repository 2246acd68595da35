"""Assignments by owner: routing reads each rep's newest assignment and today's count.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASSIGNMENTS = sa.text("kind = 'assignment'")


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_assignments",
        "ledger_entries",
        ["owner", "at"],
        sqlite_where=ASSIGNMENTS,
        postgresql_where=ASSIGNMENTS,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_assignments", table_name="ledger_entries")
