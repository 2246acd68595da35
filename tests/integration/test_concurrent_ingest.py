"""Two processes ingesting the same file at once apply every event exactly once."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.events import read_lines
from leadpact.bootstrap import App, bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.services.ingest import ingest
from leadpact.services.ledger import verify_ledger
from tests.factories import qualifying_leads_file, sign_example_pact

START = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
LEADS = 400  # enough batches that the two writers overlap


def _ingest_file(url: str, path: str) -> tuple[int, int]:
    app = bootstrap(Settings(database_url=url), clock=FixedClock(START), migrate=False)
    with open(path, "rb") as stream:
        report = ingest(app.engine, app.clock, read_lines(stream), batch_size=50)
    app.engine.dispose()
    return report.created, report.unchanged


def test_two_writers_on_one_file_apply_each_event_once(app: App, database_url: str, tmp_path: Path) -> None:
    sign_example_pact(app)
    path = tmp_path / "events.jsonl"
    total = qualifying_leads_file(path, LEADS, START)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(_ingest_file, [(database_url, str(path))] * 2)
    assert sum(created for created, _ in results) == total
    assert sum(created + unchanged for created, unchanged in results) == 2 * total
    with app.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(t.leads)).scalar_one() == LEADS
        assert c.execute(select(func.count()).select_from(t.activities)).scalar_one() == 3 * LEADS
        mqls = select(func.count()).select_from(t.ledger_entries).where(t.ledger_entries.c.to_stage == "mql")
        assert c.execute(mqls).scalar_one() == LEADS
    assert verify_ledger(app.store()) == (LEADS, None)
