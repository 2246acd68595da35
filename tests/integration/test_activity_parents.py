"""An activity names a lead and an inbox row that exist, on both engines: SQLite by its foreign keys,
PostgreSQL by statement-level triggers (migration 0012), whichever way the rows are written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.store import Store
from leadpact.bootstrap import App

NO_SUCH = 999_999


def one_activity(app: App) -> tuple[int, int]:
    """A lead with one imported activity: (lead id, inbox id)."""
    with Store(app.engine) as store:
        lead_id = store.leads.create("parents@example.co.jp", app.clock.now())
        store.imported_activities.add("marketo", app.clock.now(), [("p-1", lead_id, "1", 1_000, "{}", "digest")])
        store.commit()
    with app.engine.connect() as c:
        inbox_id = c.execute(select(t.activities.c.inbox_id)).scalar_one()
    return lead_id, inbox_id


def named(app: App, refused: IntegrityError, column: str) -> None:
    """On PostgreSQL, the refusal names the constraint the trigger stands for, as a foreign key's would."""
    if app.engine.dialect.name == "postgresql":
        parent = {"lead_id": "leads", "inbox_id": "inbox"}[column]
        assert refused.orig.diag.constraint_name == f"fk_activities_{column}_{parent}"  # type: ignore[union-attr]


def test_an_activity_is_written_when_its_lead_and_inbox_row_exist(app: App) -> None:
    lead_id, inbox_id = one_activity(app)
    with app.engine.connect() as c:
        assert c.execute(select(t.activities.c.lead_id, t.activities.c.inbox_id)).all() == [(lead_id, inbox_id)]


@pytest.mark.parametrize("column", ["lead_id", "inbox_id"])
def test_an_insert_naming_a_missing_parent_is_refused(app: App, column: str) -> None:
    lead_id, inbox_id = one_activity(app)
    row = {"lead_id": lead_id, "type": "1", "occurred_at": app.clock.now(), "properties": {}, "inbox_id": inbox_id}
    row[column] = NO_SUCH
    with pytest.raises(IntegrityError) as refused, app.engine.begin() as c:
        c.execute(insert(t.activities).values(row))
    named(app, refused.value, column)


@pytest.mark.parametrize("column", ["lead_id", "inbox_id"])
def test_an_update_naming_a_missing_parent_is_refused(app: App, column: str) -> None:
    one_activity(app)
    with pytest.raises(IntegrityError) as refused, app.engine.begin() as c:
        c.execute(update(t.activities).values({column: NO_SUCH}))
    named(app, refused.value, column)


def test_the_bulk_path_refuses_a_missing_lead_and_keeps_nothing(app: App) -> None:
    one_activity(app)
    rows = [("p-2", NO_SUCH, "1", 2_000, "{}", "digest")]
    with pytest.raises(IntegrityError) as refused, Store(app.engine) as store:  # COPY on PostgreSQL
        store.imported_activities.add("marketo", app.clock.now() + timedelta(seconds=1), rows)
        store.commit()
    named(app, refused.value, "lead_id")
    with app.engine.connect() as c:
        assert c.execute(select(t.inbox.c.event_id)).scalars().all() == ["p-1"]


@pytest.mark.parametrize("table", ["leads", "inbox"])
def test_a_parent_that_activities_name_cannot_be_deleted(app: App, table: str) -> None:
    lead_id, inbox_id = one_activity(app)
    parent = t.metadata.tables[table]
    with pytest.raises(IntegrityError) as refused, app.engine.begin() as c:
        if table == "leads":  # only the activity still names the lead
            for other in (t.lead_scores, t.lead_emails, t.lead_refs):
                c.execute(delete(other))
        c.execute(delete(parent).where(parent.c.id == (lead_id if table == "leads" else inbox_id)))
    assert refused.value.orig is not None
    if app.engine.dialect.name == "postgresql":  # the check that refused it is the activities' one
        assert (
            refused.value.orig.diag.constraint_name
            == f"fk_activities_{'lead_id_leads' if table == 'leads' else 'inbox_id_inbox'}"
        )  # type: ignore[attr-defined]
