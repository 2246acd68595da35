"""`kill -9` in the middle of `leadpact import`, at fixed points: the store stays consistent and a
re-run finishes with every row exactly once, its counts adding up to one run's."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from leadpact.bootstrap import App
from leadpact.services.imports import import_file
from leadpact.services.ledger import verify_ledger
from leadpact.services.rescore import rescore_active
from tests.factories import sign_example_pact, stored_scores
from tests.query_plans import plan_of

ROWS = 3_000
BATCH = 50  # 60 batches: room to kill between them


def activities_file(path: Path) -> None:
    lines = ["marketoGUID,leadId,activityDate,activityTypeId,primaryAttributeValue"]
    for i in range(ROWS):
        minute = i % 60
        lines.append(f"g{i},{1 + i % 300},2026-09-2{i % 9}T0{i % 10}:{minute:02d}:00Z,1,www.example.jp/page{i % 7}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def contacts_file(path: Path) -> None:
    header = "Record ID,Email,Company Name,Industry,Number of Employees,Lifecycle Stage"
    lines = [header + ",Became a Marketing Qualified Lead Date"]
    for i in range(ROWS):
        stage, became = ("marketingqualifiedlead", f"2026-09-{1 + i % 28:02d} 10:00") if i % 3 == 0 else ("lead", "")
        lines.append(f"{80000 + i},p{i}@kill.example.jp,Co {i},製造業,{10 + i},{stage},{became}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def state(app: App) -> dict[str, int]:
    """Counts read without a transaction of the app's kind: its SQLite ones start BEGIN IMMEDIATE and
    would queue behind the import's batches, while a plain read sees the last committed one at once."""
    path = app.engine.url.database
    assert path is not None
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as c:
        found = {
            name: c.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in ("leads", "activities", "inbox", "ledger_entries", "lead_refs")
        }
        found["last_line"] = c.execute("SELECT coalesce(max(last_line), 0) FROM import_runs").fetchone()[0]
    return found


@pytest.mark.parametrize(
    ("format", "write", "kill_after_line", "read_ahead"),
    [
        ("marketo-activities", activities_file, 2 * BATCH + 1, "false"),
        ("marketo-activities", activities_file, ROWS // 2, "false"),
        ("marketo-activities", activities_file, ROWS - 10 * BATCH, "false"),
        ("marketo-activities", activities_file, ROWS // 3, "true"),  # the file read by a process of its own
        ("hubspot-contacts", contacts_file, 5 * BATCH + 1, "false"),
        ("hubspot-contacts", contacts_file, ROWS // 2, "false"),
    ],
    ids=[
        "activities-early",
        "activities-middle",
        "activities-late",
        "activities-read-ahead",
        "contacts-early",
        "contacts-middle",
    ],
)
def test_a_killed_import_resumes_exactly_once(
    app: App, database_url: str, tmp_path: Path, format: str, write: object, kill_after_line: int, read_ahead: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the kill points are checked on the embedded store")
    sign_example_pact(app)
    path = tmp_path / "export.csv"
    write(path)  # type: ignore[operator]
    command = [
        sys.executable,
        "-m",
        "leadpact",
        "--db",
        database_url,
        "import",
        str(path),
        "--format",
        format,
        "--json",
    ]
    env = {**os.environ, "LEADPACT_IMPORT_BATCH_SIZE": str(BATCH), "LEADPACT_IMPORT_READ_AHEAD": read_ahead}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while state(app)["last_line"] < kill_after_line and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()

    cut = state(app)
    assert 0 < cut["last_line"] < ROWS + 1, "the import finished before it could be killed; make the file larger"
    assert (cut["last_line"] - 1) % BATCH == 0  # whole batches only: the header is line 1
    done = cut["last_line"] - 1
    with app.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert verify_ledger(app.store())[1] is None
    if format == "marketo-activities":
        assert cut["activities"] == cut["inbox"] == done  # each committed batch landed whole
    else:
        assert cut["leads"] == done

    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["resumed_after_line"] == cut["last_line"]
    assert (report["rows"], report["created"], report["quarantined"]) == (ROWS, ROWS, 0)  # one run's worth
    final = state(app)
    if format == "marketo-activities":
        assert final["activities"] == final["inbox"] == ROWS
        assert final["leads"] == 300
        settled = stored_scores(app)  # the rows committed before the kill count too
        rescore_active(app.engine, app.clock.now())
        assert settled == stored_scores(app)
    else:
        assert final["leads"] == final["lead_refs"] == ROWS
        assert final["ledger_entries"] == ROWS // 3  # one imported MQL entry per MQL row, none twice
    assert verify_ledger(app.store())[1] is None
    again = json.loads(subprocess.run(command, env=env, capture_output=True, text=True).stdout)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, ROWS)


def test_a_resumed_import_recalls_each_committed_batch_through_an_index(app: App, tmp_path: Path) -> None:
    """A resumed run reads back, batch by batch, the activities the rows committed before the cut-off became.
    Joined to the inbox through no index, both engines read every activity in the store for each
    batch: resuming half of a million-row file took twice as long as importing all of it."""
    sign_example_pact(app)
    path = tmp_path / "export.csv"
    activities_file(path)
    import_file(app.engine, app.clock, path, "marketo-activities", batch_size=BATCH)

    def recall() -> None:
        with app.store() as store:
            leads, _, _ = store.imported_activities.rows_of("marketo", [f"g{i}" for i in range(BATCH)])
            assert len(leads) == BATCH

    plan = plan_of(app.engine, "activities", recall)
    assert "ix_activities_inbox_id" in plan, plan
