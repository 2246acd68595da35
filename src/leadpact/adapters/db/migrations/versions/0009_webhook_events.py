"""Webhook deliveries: every received event stored before it is acknowledged, and the newest applied
value of each HubSpot contact property (so a late, older value never overwrites a newer one).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("channel", "source", "event_key", name="uq_webhook_events_channel_source_event_key"),
    )
    op.create_index(
        "ix_webhook_events_pending",
        "webhook_events",
        ["id"],
        sqlite_where=sa.text("processed_at IS NULL"),
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_index(
        "ix_webhook_events_rejected",
        "webhook_events",
        ["object_id"],
        sqlite_where=sa.text("outcome = 'rejected'"),
        postgresql_where=sa.text("outcome = 'rejected'"),
    )
    op.create_table(
        "hubspot_values",
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("register", sa.String(length=120), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("object_id", "register", name=op.f("pk_hubspot_values")),
    )


def downgrade() -> None:
    op.drop_table("hubspot_values")
    op.drop_index("ix_webhook_events_rejected", table_name="webhook_events")
    op.drop_index("ix_webhook_events_pending", table_name="webhook_events")
    op.drop_table("webhook_events")
