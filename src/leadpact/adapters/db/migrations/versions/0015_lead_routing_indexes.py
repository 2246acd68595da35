"""Leads: an index of MQLs by when they became one, and one of leads by owner.

`leadpact route` (often run from cron) lists the MQLs waiting for inside sales, oldest first,
and `sla board --owner` the running clocks of one owner's leads. Both read every lead: a
million rows with their attributes on each run. The MQLs' index holds only the leads in that
stage; the owner index serves every "leads this person holds". No table changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MQL = sa.text("stage = 'mql'")


def upgrade() -> None:
    op.create_index("ix_leads_owner_id", "leads", ["owner_id"])
    op.create_index("ix_leads_mql", "leads", ["stage_changed_at", "id"], sqlite_where=MQL, postgresql_where=MQL)


def downgrade() -> None:
    op.drop_index("ix_leads_mql", table_name="leads")
    op.drop_index("ix_leads_owner_id", table_name="leads")
