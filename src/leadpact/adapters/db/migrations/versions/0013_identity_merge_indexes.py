"""Identity merges: every merge a lead took part in, and the last undo, found through indexes.

Resolving the leads of a webhook delivery or an import batch asks which of them an admin
separated (undone merges naming them, as survivor or absorbed), and an import read ahead asks
at each batch whether any merge or undo happened since its leads were found (the newest merge
id and undo seq). `absorbed_id` was indexed only for merges in force (a partial unique index)
and `unmerge_seq` not at all, so both questions read every merge ever made. No table changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_identity_merges_absorbed_id", "identity_merges", ["absorbed_id"])
    op.create_index("ix_identity_merges_unmerge_seq", "identity_merges", ["unmerge_seq"])


def downgrade() -> None:
    op.drop_index("ix_identity_merges_unmerge_seq", table_name="identity_merges")
    op.drop_index("ix_identity_merges_absorbed_id", table_name="identity_merges")
