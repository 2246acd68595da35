"""`kill -9` in the middle of an ingest leaves a consistent store, and a re-run finishes exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.bootstrap import App
from leadpact.services.ledger import verify_ledger
from tests.factories import qualifying_leads_file, sign_example_pact

START = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
LEADS = 5000  # about 2 s of ingest: time to kill it in the middle


def counts(app: App) -> tuple[int, int, int, int]:
    with app.engine.connect() as c:
        return tuple(  # type: ignore[return-value]
            c.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.inbox, t.leads, t.activities, t.ledger_entries)
        )


def test_a_killed_ingest_resumes_exactly_once(app: App, database_url: str, tmp_path: Path) -> None:
    sign_example_pact(app)
    path = tmp_path / "events.jsonl"
    total = qualifying_leads_file(path, LEADS, START)
    command = [sys.executable, "-m", "leadpact", "--db", database_url, "ingest", str(path)]
    env = {**os.environ, "LEADPACT_INGEST_BATCH_SIZE": "100"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while counts(app)[0] < 300 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    applied, leads, activities, entries = counts(app)
    assert applied < total, "the ingest finished before it could be killed; make the file larger"
    assert applied % 100 == 0  # whole batches only
    assert activities == applied - leads  # each batch's activities landed with their inbox rows
    assert verify_ledger(app.store())[1] is None
    if database_url.startswith("sqlite"):
        with app.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert f"{total - applied} created, {applied} unchanged, 0 rejected" in finished.stdout
    assert counts(app) == (total, LEADS, 3 * LEADS, LEADS)
    assert verify_ledger(app.store()) == (LEADS, None)
