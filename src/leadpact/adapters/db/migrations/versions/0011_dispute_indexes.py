"""Rejections and disputes: partial indexes over the ledger for the feedback report and dispute list.

A rejection is a ledger transition to recycled or disqualified; disputes and their resolutions
are ledger entries of their own kinds. Both are read by a few statements that would otherwise
scan the whole ledger. No table changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REJECTIONS = sa.text("kind = 'transition' AND to_stage IN ('recycled', 'disqualified')")
DISPUTES = sa.text("kind IN ('dispute', 'resolution')")


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_rejections",
        "ledger_entries",
        ["at"],
        sqlite_where=REJECTIONS,
        postgresql_where=REJECTIONS,
    )
    op.create_index(
        "ix_ledger_entries_disputes",
        "ledger_entries",
        ["lead_id"],
        sqlite_where=DISPUTES,
        postgresql_where=DISPUTES,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_disputes", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_rejections", table_name="ledger_entries")
