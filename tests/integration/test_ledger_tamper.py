"""`ledger verify` finds an entry changed behind leadpact's back."""

from __future__ import annotations

from sqlalchemy import delete, update

from leadpact.adapters.db import tables as t
from leadpact.bootstrap import App
from leadpact.services.ingest import ingest
from leadpact.services.ledger import verify_ledger
from tests.factories import lines, sign_example_pact
from tests.integration.test_ingest import marketing_events, qualified_lead


def test_an_intact_ledger_verifies(app: App) -> None:
    qualified_lead(app)
    checked, broken = verify_ledger(app.store())
    assert (checked, broken) == (3, None)


def test_altered_evidence_is_found_at_its_entry(app: App) -> None:
    qualified_lead(app)
    with app.engine.begin() as c:
        c.execute(update(t.ledger_entries).where(t.ledger_entries.c.seq == 1).values(evidence={"score": {"total": 99}}))
    checked, broken = verify_ledger(app.store())
    assert checked == 0 and broken is not None and broken.seq == 1 and not broken.broken_link


def test_a_deleted_entry_breaks_the_link_of_the_next(app: App) -> None:
    qualified_lead(app)
    with app.engine.begin() as c:
        c.execute(delete(t.ledger_entries).where(t.ledger_entries.c.seq == 2))
    checked, broken = verify_ledger(app.store())
    assert checked == 1 and broken is not None and broken.seq == 3 and broken.broken_link


def test_a_deleted_newest_entry_is_found_through_the_head(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    with app.engine.begin() as c:
        c.execute(delete(t.ledger_entries).where(t.ledger_entries.c.seq == 1))
    checked, broken = verify_ledger(app.store())
    assert broken is not None and broken.seq == 1
