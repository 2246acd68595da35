"""Score states become fixed-width binary records (adapters/db/score_state.py) instead of JSON.

Scores are derived data: the stored rows are emptied, not converted (a JSON state cannot be
laid out without its pact version's rule order, which a migration should not interpret).
Until `leadpact rescore` runs, each lead's score is recomputed from its activities when it is
shown or touched.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM lead_scores")
    with op.batch_alter_table("lead_scores") as batch:
        batch.drop_column("state")
        batch.add_column(sa.Column("state", sa.LargeBinary(), nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM lead_scores")
    with op.batch_alter_table("lead_scores") as batch:
        batch.drop_column("state")
        batch.add_column(sa.Column("state", sa.JSON(), nullable=False))
