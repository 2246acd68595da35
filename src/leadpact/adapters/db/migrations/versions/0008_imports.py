"""Import runs and the quarantine of rows that could not be read.

An import run is one file of one format being applied in committed batches; `last_line` is
the last line of the newest committed batch, so a run cut off (kill -9, a crash) resumes
after it. Quarantine keeps each bad record once per file (by the file's fingerprint and the
record's line), with its raw text to fix and import again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_index("ix_import_runs_fingerprint", "import_runs", ["fingerprint", "format"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["import_runs.id"], name=op.f("fk_quarantine_run_id_import_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint("fingerprint", "line", name="uq_quarantine_fingerprint_line"),
    )
    op.create_index("ix_quarantine_run_id", "quarantine", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_run_id", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_import_runs_fingerprint", table_name="import_runs")
    op.drop_table("import_runs")
