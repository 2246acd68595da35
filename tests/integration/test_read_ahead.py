"""An activity import read ahead by a process of its own (services/read_ahead.py) ends exactly as one
read in-process: the same report, rows, quarantine and scores, resumed or not, and rows another
import writes while it runs are recognised, not written twice."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.importers.mapping import load_import_mapping
from leadpact.bootstrap import App, bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.services.identities import merge_leads
from leadpact.services.imports import ImportReport, import_file
from leadpact.services.rescore import rescore_active
from tests.conftest import ROOT
from tests.factories import CutOff, cut_off_after, sign_example_pact, stored_scores

DATA = ROOT / "tests" / "data"
HEADER = "marketoGUID,leadId,activityDate,activityTypeId,primaryAttributeValue,attributes"


def leads(app: App, tmp_path: Path) -> None:
    sign_example_pact(app)
    path = tmp_path / "leads.csv"
    lines = ["id,email,industry,numberOfEmployees"] + [f"{500 + i},r{i}@ahead.example.jp,製造業,300" for i in range(20)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(app.engine, app.clock, path, "marketo-leads")


def activities(path: Path, rows: int, start: int = 0) -> Path:
    lines = [HEADER]
    for i in range(start, start + rows):
        if i % 4 == 0:
            lines.append(f"r{i},{500 + i % 20},2026-09-{1 + i % 28:02d}T01:00:00Z,1,www.example.jp/pricing,")
        elif i % 4 == 1:
            lines.append(f'r{i},{500 + i % 20},2026-09-{1 + i % 28:02d}T02:00:00Z,1,www.example.jp/,"{{""a"": {i}}}"')
        else:
            lines.append(f"r{i},{500 + i % 20},2026-09-{1 + i % 28:02d}T03:00:00Z,2,資料請求フォーム,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_bad_rows(path: Path) -> Path:
    text = path.read_text(encoding="utf-8").splitlines()
    text[7] = "r6,505,2026-02-30T01:00:00Z,1,www.example.jp/,"  # no such day
    text[12] = ",505,2026-09-03T01:00:00Z,1,www.example.jp/,"  # no id
    text.insert(20, "r3,503,2026-09-09T09:00:00Z,1,www.example.jp/other,")  # r3 again, other content
    text.insert(30, "x9,505,2026-09-09T09:00:00Z,1,www.example.jp/,{not json")  # attributes that are not JSON
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def run(app: App, path: Path, **options: Any) -> ImportReport:
    mapping = load_import_mapping(DATA / "marketo" / "mapping.yaml")
    return import_file(app.engine, app.clock, path, "marketo-activities", mapping=mapping, batch_size=10, **options)


def stored(app: App) -> list[tuple[Any, ...]]:
    a, i, q = t.activities.c, t.inbox.c, t.quarantine.c
    with app.engine.connect() as c:
        rows = c.execute(
            select(i.event_id, i.payload_hash, a.lead_id, a.type, a.occurred_at, a.properties)
            .join(t.inbox, t.inbox.c.id == a.inbox_id)
            .order_by(i.event_id)
        )
        bad = c.execute(select(q.line, q.column_name, q.reason).order_by(q.line))
        return [tuple(r) for r in rows] + [tuple(r) for r in bad]


def summary(report: ImportReport) -> tuple[Any, ...]:
    problems = [(p.line, p.column, p.reason) for p in report.problems]
    return (report.rows, report.created, report.unchanged, report.quarantined, report.transitions, problems)


@pytest.mark.parametrize("read_ahead", [True, False], ids=["ahead", "in-process"])
def test_an_import_read_ahead_ends_as_one_read_in_process(app: App, tmp_path: Path, read_ahead: bool) -> None:
    leads(app, tmp_path)
    path = with_bad_rows(activities(tmp_path / "a.csv", 120))
    report = run(app, path, read_ahead=read_ahead)
    assert (report.rows, report.created, report.quarantined) == (122, 118, 4)
    assert [(p.line, p.column) for p in report.problems] == [
        (8, "activityDate"),
        (13, "marketoGUID"),
        (21, None),
        (31, "attributes"),
    ]
    assert "imported before with other content" in report.problems[2].reason
    assert report.problems[2].raw == "r3,503,2026-09-09T09:00:00Z,1,www.example.jp/other,\n"
    scores = stored_scores(app)
    rescore_active(app.engine, app.clock.now())
    assert scores == stored_scores(app)
    again = run(app, path, read_ahead=read_ahead)
    assert (again.created, again.unchanged, again.quarantined) == (0, 118, 4)


def test_both_ways_store_the_same_rows_and_quarantine(sqlite_template: Path, tmp_path: Path, clock: FixedClock) -> None:
    path = with_bad_rows(activities(tmp_path / "a.csv", 120))
    found = []
    for read_ahead in (True, False):
        database = tmp_path / f"ahead-{read_ahead}.db"
        shutil.copy(sqlite_template, database)
        app = bootstrap(Settings(database_url=f"sqlite:///{database}"), clock=clock)
        try:
            leads(app, tmp_path)
            found.append((summary(run(app, path, read_ahead=read_ahead)), stored(app)))
        finally:
            app.engine.dispose()
    assert found[0] == found[1]


def test_a_run_read_ahead_and_cut_off_resumes_exactly_once(app: App, tmp_path: Path) -> None:
    leads(app, tmp_path)
    path = activities(tmp_path / "a.csv", 200)

    with pytest.raises(CutOff):
        run(app, path, read_ahead=True, progress=cut_off_after(3))
    resumed = run(app, path, read_ahead=True)
    assert (resumed.resumed_after, resumed.rows, resumed.created, resumed.unchanged) == (31, 200, 200, 0)
    scores = stored_scores(app)
    rescore_active(app.engine, app.clock.now())
    assert scores == stored_scores(app)


def test_rows_another_import_writes_meanwhile_are_recognised_not_written_twice(app: App, tmp_path: Path) -> None:
    leads(app, tmp_path)
    path = activities(tmp_path / "a.csv", 100)
    same = activities(tmp_path / "same.csv", 30, start=40)  # rows 40–69, as the big file has them
    changed = tmp_path / "changed.csv"
    changed.write_text(HEADER + "\nr80,500,2026-09-20T05:00:00Z,1,www.example.jp/changed,\n", encoding="utf-8")
    done: list[int] = []

    def meanwhile(rows: int, position: int) -> None:
        done.append(rows)
        if len(done) == 1:  # the reader has read batches ahead as new by now
            run(app, same, read_ahead=False)
            run(app, changed, read_ahead=False)

    report = run(app, path, read_ahead=True, progress=meanwhile)
    assert (report.rows, report.created, report.unchanged, report.quarantined) == (100, 69, 30, 1)
    assert [p.line for p in report.problems] == [82]  # r80, imported meanwhile with other content
    with app.engine.connect() as c:
        assert len(c.execute(select(t.inbox.c.id)).all()) == 100  # 69 + 30 + 1: none twice


def test_rows_of_a_lead_merged_while_the_reader_is_ahead_go_to_its_survivor(app: App, tmp_path: Path) -> None:
    leads(app, tmp_path)
    path = activities(tmp_path / "a.csv", 100)  # rows 0, 20, 40 … name Marketo lead 500; 1, 21 … lead 501
    done: list[int] = []

    def meanwhile(rows: int, position: int) -> None:
        done.append(rows)
        if len(done) == 1:  # the reader has found the leads of the batches ahead by now
            merge_leads(app.engine, app.clock.now(), "r0@ahead.example.jp", "r1@ahead.example.jp", "佐藤")

    report = run(app, path, read_ahead=True, progress=meanwhile)
    assert (report.rows, report.created) == (100, 100)
    with app.engine.connect() as c:
        refs = dict(c.execute(select(t.lead_refs.c.external_id, t.lead_refs.c.lead_id)).all())
        survivor = refs["500"]
        assert refs["501"] == survivor  # the merge moved the absorbed lead's id
        per_lead = dict(c.execute(select(t.activities.c.lead_id, func.count()).group_by(t.activities.c.lead_id)).all())
    assert per_lead[survivor] == 10  # its own five rows, and the five naming 501, wherever they were read
    assert sum(per_lead.values()) == 100


@pytest.mark.parametrize("bad", [False, True], ids=["clean", "with-bad-rows"])
def test_a_file_imported_before_is_recognised_either_way(app: App, tmp_path: Path, bad: bool) -> None:
    # Importing a file again, read ahead or not: the same report, every row counted once.
    leads(app, tmp_path)
    path = activities(tmp_path / "a.csv", 120)
    if bad:
        with_bad_rows(path)
    first = run(app, path, read_ahead=False)
    reports = []
    for read_ahead in (True, False):
        done: list[int] = []
        report = run(app, path, read_ahead=read_ahead, progress=lambda rows, position, done=done: done.append(rows))
        assert sum(done) == report.rows == first.rows
        reports.append(summary(report))
    assert reports[0] == reports[1]
    assert reports[0][1:4] == (0, first.created, first.quarantined)  # created, unchanged, quarantined
