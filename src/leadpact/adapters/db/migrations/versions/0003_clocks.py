"""Handoff clocks: one row per clock started for a lead, with what it was started under.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("pact_version", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("responsible", sa.String(length=64), nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("due_soon", sa.Float(), nullable=False),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
        sa.Column("stopped_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_clocks_lead_id_leads")),
        sa.ForeignKeyConstraint(
            ["pact_version"], ["pact_versions.version"], name=op.f("fk_clocks_pact_version_pact_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clocks")),
        sa.UniqueConstraint("lead_id", "clock_id", "started_at", name="uq_clocks_lead_id_clock_id_started_at"),
    )
    op.create_index(op.f("ix_clocks_lead_id"), "clocks", ["lead_id"])
    op.create_index(
        "ix_clocks_open_due_at",
        "clocks",
        ["due_at"],
        sqlite_where=sa.text("stopped_at IS NULL"),
        postgresql_where=sa.text("stopped_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_clocks_open_due_at", table_name="clocks")
    op.drop_index(op.f("ix_clocks_lead_id"), table_name="clocks")
    op.drop_table("clocks")
