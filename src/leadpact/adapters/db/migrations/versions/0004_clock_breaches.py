"""Late clocks, each recorded once by the sweep that found it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clock_breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clock_run", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("pact_version", sa.Integer(), nullable=False),
        sa.Column("responsible", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("owner_department", sa.String(length=64), nullable=True),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["clock_run"], ["clocks.id"], name=op.f("fk_clock_breaches_clock_run_clocks")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_clock_breaches_lead_id_leads")),
        sa.ForeignKeyConstraint(
            ["pact_version"], ["pact_versions.version"], name=op.f("fk_clock_breaches_pact_version_pact_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_breaches")),
        sa.UniqueConstraint("clock_run", name=op.f("uq_clock_breaches_clock_run")),
    )
    op.create_index(op.f("ix_clock_breaches_lead_id"), "clock_breaches", ["lead_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_clock_breaches_lead_id"), table_name="clock_breaches")
    op.drop_table("clock_breaches")
