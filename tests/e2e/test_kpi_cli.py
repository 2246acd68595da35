"""`leadpact kpi` as a user drives it, on the hand-built history of tests/integration/test_kpis.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from tests.factories import example_text
from tests.integration.test_kpis import HANDOFF_STOPS_AT_ASSIGNMENT, email, events

NOW = "2026-10-01T09:00+09:00"


@pytest.fixture
def db(sqlite_url: str, tmp_path: Path) -> str:
    people = [("佐藤", "marketing", True), ("田中", "inside_sales", False), ("鈴木", "field_sales", True)]
    people += [("山本", "inside_sales", False), ("小林", "inside_sales", True)]  # the history's overrides need managers
    for name, department, manager in people:
        assert run(sqlite_url, "user", "add", name, "--department", department, *(["--manager"] * manager))[0] == 0
    pact = tmp_path / "pact.yaml"
    pact.write_text(example_text(HANDOFF_STOPS_AT_ASSIGNMENT), encoding="utf-8")
    assert run(sqlite_url, "pact", "propose", str(pact), "--by", "佐藤")[0] == 0
    for name in ("佐藤", "田中", "鈴木"):
        assert run(sqlite_url, "pact", "approve", "1", "--by", name)[0] == 0
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events()) + "\n", encoding="utf-8")
    assert run(sqlite_url, "ingest", str(path))[0] == 0
    for stage, at in (("mql", "2026-07-08 10:00"), ("sql", "2026-07-10 10:00")):
        export = tmp_path / f"lead6-{stage}.csv"
        export.write_text(
            f"record_id,email,source,employees,stage,stage_changed_at\nK-6,{email(6)},web_form,300,{stage},{at}\n",
            encoding="utf-8",
        )
        assert run(sqlite_url, "import", str(export), "--format", "generic")[0] == 0
    return sqlite_url


def test_the_table_in_japanese_and_english(db: str) -> None:
    code, out, _ = run(db, "kpi", "--period", "2026-Q3", "--now", NOW)
    assert code == 0
    assert "共通KPI 2026-Q3(2026-07-01〜2026-09-30、Asia/Tokyo)" in out
    assert "初めてMQLになったリード 6件" in out and "前期 2026-Q2" in out
    assert "MQL→SQL 転換率" in out and "50.0%" in out and "3/6" in out and "30.0%" in out and "✓ 達成" in out
    assert "初回接触までの時間" in out and "48.0h" in out and "3/6件 · p90 94.4h · 2営業日" in out
    assert "部門 インサイドセールス部" in out and "✗ 未達" in out
    assert "コホート別ファネル" in out and "2026-07" in out
    code, out, _ = run(db, "--lang", "en", "kpi", "--period", "2026-Q3", "--view", "period", "--now", NOW)
    assert code == 0 and "period view: the moves and decisions made in the period" in out
    assert "MQL → SAL acceptance rate" in out and "6 of 7" in out
    assert "Stage entries by month" in out


def test_json_and_csv(db: str) -> None:
    code, out, _ = run(db, "kpi", "--period", "2026-Q3", "--now", NOW, "--format", "json", "--by", "source")
    assert code == 0
    found = json.loads(out)
    assert found["period"] == {
        "label": "2026-Q3",
        "start": "2026-06-30T15:00:00+00:00",
        "end": "2026-09-30T15:00:00+00:00",
        "timezone": "Asia/Tokyo",
    }
    assert (found["view"], found["by"], found["neglected_at"]) == ("cohort", "source", "2026-09-30T15:00:00+00:00")
    total = next(k for k in found["kpis"] if k["kpi"] == "mql_to_sql_rate" and k["by"] is None)
    assert (total["value"], total["numerator"], total["denominator"], total["met"]) == (0.5, 3, 6, True)
    assert total["target"] == {"value": 0.3, "stated": 0.3, "per": "quarter", "owner": "inside_sales"}
    assert total["previous"]["value"] == 0.0 and total["change"] == 0.5 and total["owners"] == ["inside_sales"]
    ad = next(k for k in found["kpis"] if k["kpi"] == "mql_count" and k["group"] == "ad")
    assert (ad["value"], ad["previous"]["value"]) == (3, 1)
    assert found["funnel"]["months"] == ["2026-07", "2026-09"]
    assert found["funnel"]["reached"] == [[5, 5, 3, 1, 1], [1, 0, 0, 0, 0]]
    code, out, _ = run(db, "kpi", "--period", "2026-Q3", "--now", NOW, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    sla = next(r for r in rows if r["kpi"] == "sla_compliance" and r["department"] == "inside_sales")
    assert (sla["numerator"], sla["denominator"], sla["target"], sla["met"]) == ("3", "4", "0.9", "false")


def test_the_leads_behind_a_figure(db: str) -> None:
    code, out, _ = run(db, "kpi", "--period", "2026-Q3", "--now", NOW, "--leads", "recycle_rate", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [(r["email"], r["counted"]) for r in listed["leads"] if r["counted"]] == [(email(2), True), (email(3), True)]
    code, out, _ = run(db, "kpi", "--period", "2026-Q3", "--now", NOW, "--leads", "neglected_leads")
    assert code == 0 and "放置リード(期末時点) の根拠となるリード 1件" in out and email(3) in out
    assert "mql_handoff (marketing)" in out


def test_bad_input_names_the_valid_choices(db: str) -> None:
    code, _, err = run(db, "kpi", "--period", "2026-13")
    assert code == 2 and "period '2026-13': there is no month 13; write one of: 2026, 2026-H1" in err
    code, _, err = run(db, "kpi", "--by", "region")
    assert code == 2 and "unknown group-by field 'region'; choose one of: source, campaign, segment, owner" in err
    code, _, err = run(db, "kpi", "--leads", "mql_rate")
    assert code == 2 and "unknown KPI 'mql_rate'; choose one of: mql_count, re_mql_count" in err
    code, _, err = run(db, "kpi", "--view", "weekly")
    assert code == 2 and "unknown view 'weekly'; choose one of: cohort, period" in err
    code, _, err = run(db, "kpi", "--format", "xml")
    assert code == 2 and "unknown format 'xml'; choose one of: table, json, csv" in err


def test_a_period_without_leads(db: str) -> None:
    code, out, _ = run(db, "kpi", "--period", "2025-01-01..2025-01-31", "--now", NOW)
    assert code == 0 and "2025-01-01..2025-01-31 にはリードがありません(すべて0件)" in out and "リードなし" in out
    code, out, _ = run(db, "--lang", "en", "kpi", "--period", "2025-Q1", "--now", NOW, "--format", "json")
    found = json.loads(out)
    assert found["leads"] == 0
    assert next(k for k in found["kpis"] if k["kpi"] == "mql_to_sql_rate")["value"] is None


def test_an_empty_store(sqlite_url: str) -> None:
    code, out, _ = run(sqlite_url, "--lang", "en", "kpi", "--now", NOW)
    assert code == 0 and "no leads in 2026-Q3 (every count is 0)." in out


def test_a_fiscal_quarter_is_the_calendar_quarter_it_covers(db: str) -> None:
    # the example pact's fiscal year starts in April: FY2026-Q2 is July to September 2026
    code, out, _ = run(db, "kpi", "--period", "FY2026-Q2", "--now", NOW, "--format", "json")
    assert code == 0
    fiscal = json.loads(out)
    calendar = json.loads(run(db, "kpi", "--period", "2026-Q3", "--now", NOW, "--format", "json")[1])
    assert fiscal["period"] == {**calendar["period"], "label": "FY2026-Q2"}
    assert [k["value"] for k in fiscal["kpis"]] == [k["value"] for k in calendar["kpis"]]
