"""PostgreSQL: an activity's lead and inbox row are checked once per statement, not once per row.

`activities` is the table bulk imports and webhooks fill: a million rows for one Marketo extract.
Its two foreign keys ran PostgreSQL's referential trigger for every row, each a lookup that also
locks the parent row: 40 of the 58 ms that COPY took for 5,000 activities (docs/benchmarks.md).
Here the same rule is checked by one statement-level trigger over the rows a statement added
or changed (its transition table), a set-based anti-join: 12 ms for the same batch.

The rule is kept whole: an insert or update naming a lead or inbox row that does not exist
fails with `foreign_key_violation` under the old constraint's name, and so does deleting a lead
or inbox row that activities still name. What the row locks also gave, a parent deleted by
another transaction while an activity naming it is being added, cannot happen in leadpact: leads
and inbox rows are never deleted (merges keep the absorbed lead), and their ids never change.

SQLite keeps its foreign keys: they cost little there, and the schema declares them
(adapters/db/tables.py; tests/integration/test_migrations.py knows of this difference).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (constraint, column, parent table)
PARENTS = (
    ("fk_activities_lead_id_leads", "lead_id", "leads"),
    ("fk_activities_inbox_id_inbox", "inbox_id", "inbox"),
)

CHECK_ADDED = """
CREATE FUNCTION activities_parents_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM added AS a WHERE NOT EXISTS (SELECT 1 FROM leads AS l WHERE l.id = a.lead_id)) THEN
        RAISE EXCEPTION 'insert or update on table "activities" violates foreign key constraint '
            '"fk_activities_lead_id_leads": no such lead'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_activities_lead_id_leads',
                  TABLE = 'activities';
    END IF;
    IF EXISTS (
        SELECT 1 FROM added AS a
        WHERE a.inbox_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM inbox AS i WHERE i.id = a.inbox_id)
    ) THEN
        RAISE EXCEPTION 'insert or update on table "activities" violates foreign key constraint '
            '"fk_activities_inbox_id_inbox": no such inbox row'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_activities_inbox_id_inbox',
                  TABLE = 'activities';
    END IF;
    RETURN NULL;
END
$$
"""

# One function for both parents: TG_ARGV[0] is the column of activities that names the parent.
CHECK_REMOVED = """
CREATE FUNCTION activities_parents_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    named boolean;
BEGIN
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM removed AS r JOIN activities AS a ON a.%I = r.id)', TG_ARGV[0]
    ) INTO named;
    IF named THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "activities"',
            TG_TABLE_NAME, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[1], TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in PARENTS:
        op.drop_constraint(name, "activities", type_="foreignkey")
    op.execute(CHECK_ADDED)
    op.execute(CHECK_REMOVED)
    for event, table in (("INSERT", "NEW TABLE AS added"), ("UPDATE", "NEW TABLE AS added")):
        op.execute(
            f"CREATE TRIGGER activities_{event.lower()}_parents AFTER {event} ON activities "
            f"REFERENCING {table} FOR EACH STATEMENT EXECUTE FUNCTION activities_parents_exist()"
        )
    for name, column, parent in PARENTS:
        op.execute(
            f"CREATE TRIGGER {parent}_delete_activities AFTER DELETE ON {parent} REFERENCING OLD TABLE AS removed "
            f"FOR EACH STATEMENT EXECUTE FUNCTION activities_parents_kept('{column}', '{name}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for _, _, parent in PARENTS:
        op.execute(f"DROP TRIGGER {parent}_delete_activities ON {parent}")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER activities_{event}_parents ON activities")
    op.execute("DROP FUNCTION activities_parents_kept()")
    op.execute("DROP FUNCTION activities_parents_exist()")
    for name, column, parent in PARENTS:
        op.create_foreign_key(name, "activities", parent, [column], ["id"])
