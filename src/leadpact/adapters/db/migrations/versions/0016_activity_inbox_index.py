"""Activities: an index by the inbox row that brought them.

An import cut off (a crash, `kill -9`) resumes by reading back, for each batch committed before
the cut-off, the activities its rows became: activities joined to their inbox rows. Without this
index both engines read every activity in the store for each such batch, so resuming the second
half of a million-row file took twice as long as importing all of it, and longer the more
activities the store holds. Inbox ids grow with each batch, so new entries land at the end of
the index. No table changes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_activities_inbox_id", "activities", ["inbox_id"])


def downgrade() -> None:
    op.drop_index("ix_activities_inbox_id", table_name="activities")
