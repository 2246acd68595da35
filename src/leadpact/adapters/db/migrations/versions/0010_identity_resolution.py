"""Identity resolution: companies, a lead's other e-mail addresses, merges and what each moved.

New tables only; no existing table changes. Stores migrated before this revision were
normalised with plus-addressing `keep`, which is what a missing identity_policy row means.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("name_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("name_key", name=op.f("uq_companies_name_key")),
    )
    op.create_table(
        "company_domains",
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name=op.f("fk_company_domains_company_id_companies")),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_company_domains")),
    )
    op.create_index(op.f("ix_company_domains_company_id"), "company_domains", ["company_id"])
    op.create_table(
        "lead_companies",
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name=op.f("fk_lead_companies_company_id_companies")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_companies_lead_id_leads")),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_companies")),
    )
    op.create_index(op.f("ix_lead_companies_company_id"), "lead_companies", ["company_id"])
    op.create_table(
        "identity_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("absorbed_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("merged_at", sa.BigInteger(), nullable=False),
        sa.Column("merged_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("merge_seq", sa.Integer(), nullable=True),
        sa.Column("undone_at", sa.BigInteger(), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.Column("undo", sa.JSON(), nullable=True),
        sa.Column("unmerge_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["absorbed_id"], ["leads.id"], name=op.f("fk_identity_merges_absorbed_id_leads")),
        sa.ForeignKeyConstraint(["survivor_id"], ["leads.id"], name=op.f("fk_identity_merges_survivor_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_merges")),
    )
    op.create_index(op.f("ix_identity_merges_survivor_id"), "identity_merges", ["survivor_id"])
    op.create_index(
        "ix_identity_merges_absorbed",
        "identity_merges",
        ["absorbed_id"],
        unique=True,
        sqlite_where=sa.text("undone_at IS NULL"),
        postgresql_where=sa.text("undone_at IS NULL"),
    )
    op.create_table(
        "identity_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merge_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=16), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("system", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["merge_id"], ["identity_merges.id"], name=op.f("fk_identity_moves_merge_id_identity_merges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_moves")),
    )
    op.create_index(op.f("ix_identity_moves_merge_id"), "identity_moves", ["merge_id"])
    op.create_table(
        "lead_emails",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("merge_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_emails_lead_id_leads")),
        sa.ForeignKeyConstraint(
            ["merge_id"], ["identity_merges.id"], name=op.f("fk_lead_emails_merge_id_identity_merges")
        ),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_lead_emails")),
    )
    op.create_index(op.f("ix_lead_emails_lead_id"), "lead_emails", ["lead_id"])
    op.create_table(
        "identity_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plus_addressing", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_policy")),
    )


def downgrade() -> None:
    op.drop_table("identity_policy")
    op.drop_index(op.f("ix_lead_emails_lead_id"), table_name="lead_emails")
    op.drop_table("lead_emails")
    op.drop_index(op.f("ix_identity_moves_merge_id"), table_name="identity_moves")
    op.drop_table("identity_moves")
    op.drop_index("ix_identity_merges_absorbed", table_name="identity_merges")
    op.drop_index(op.f("ix_identity_merges_survivor_id"), table_name="identity_merges")
    op.drop_table("identity_merges")
    op.drop_index(op.f("ix_lead_companies_company_id"), table_name="lead_companies")
    op.drop_table("lead_companies")
    op.drop_index(op.f("ix_company_domains_company_id"), table_name="company_domains")
    op.drop_table("company_domains")
    op.drop_table("companies")
