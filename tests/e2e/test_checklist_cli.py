"""`leadpact checklist` as a user runs it: on an empty store, on a signed pact, and on the demo data."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadpact.bootstrap import bootstrap
from leadpact.cli import app
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.services.demo import run_demo
from tests.e2e.test_cli import run, sign

NOW = "2026-10-01T12:00+09:00"  # three hours after the demo's feeds were applied
ITEMS = [
    "mql_definition",
    "sql_definition",
    "scoring",
    "mql_handoff",
    "sql_handoff",
    "neglect_detection",
    "shared_kpis",
    "visibility",
    "regular_review",
    "review_cycle",
    "responsibilities_shared",
    "feedback_loop",
]
CHANNELS = """channels:
  - id: sales-hook
    type: webhook
    url: https://hooks.example.co.jp/leadpact
    secret_env: LEADPACT_DEMO_HOOK_SECRET
"""


def checklist_json(db: str, *options: str, now: str | None = NOW) -> dict[str, Any]:
    code, out, err = run(db, *options, "checklist", *(("--now", now) if now else ()), "--json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in data["items"]}


def test_an_empty_store_fails_all_twelve_items_and_still_exits_0(sqlite_url: str) -> None:
    code, out, _ = run(sqlite_url, "checklist", "--now", NOW)
    assert code == 0
    assert "マーケ・営業責任分担チェックリスト" in out
    assert "有効な合意書がありません" in out
    assert "12 項目中 0 項目を満たしています (一部のみ 0、未達 12)" in out
    code, out, _ = run(sqlite_url, "--lang", "en", "checklist", "--now", NOW)
    assert code == 0 and "0 of 12 items pass (0 partly, 12 not)" in out
    data = checklist_json(sqlite_url)
    assert [item["id"] for item in data["items"]] == ITEMS
    assert [item["number"] for item in data["items"]] == list(range(1, 13))
    assert (data["passed"], data["partial"], data["failed"], data["total"]) == (0, 0, 12, 12)


def test_a_signed_pact_passes_its_definitions_and_names_what_is_missing(sqlite_url: str) -> None:
    sign(sqlite_url)  # three users without an e-mail address, signed on the wall clock's today
    items = by_id(checklist_json(sqlite_url, "--lang", "en", now=None))
    assert items["mql_definition"]["status"] == "pass"
    assert items["mql_definition"]["evidence"][0].startswith("v1 approved by 佐藤 (Marketing) ")
    shared = items["responsibilities_shared"]
    assert shared["status"] == "partial"
    assert shared["evidence"][0] == "Marketing, Inside sales, Field sales has no active member with an e-mail address"
    assert shared["next_step"].startswith("add a member with an e-mail address: `leadpact user add NAME")
    assert items["neglect_detection"]["next_step"].startswith("configure notification channels")


def test_a_bad_now_is_refused(sqlite_url: str) -> None:
    code, _, err = run(sqlite_url, "checklist", "--now", "2026-10-01")
    assert code == 2 and "needs an offset" in err


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checklist-demo") / "demo.db"
    built = bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=FixedClock(datetime(2026, 10, 1, tzinfo=UTC)))
    run_demo(built.engine, leads=300, seed=7)
    built.engine.dispose()  # the last connection checkpoints the WAL, so copies of the file are whole
    return path


def test_the_demo_passes_what_it_satisfies_and_fails_the_rest_with_evidence(demo_db: Path) -> None:
    db = f"sqlite:///{demo_db}"
    data = checklist_json(db, "--lang", "en")
    items = by_id(data)
    assert {key: item["status"] for key, item in items.items()} == {
        "mql_definition": "pass",
        "sql_definition": "pass",
        "scoring": "pass",
        "mql_handoff": "pass",
        "sql_handoff": "pass",
        "neglect_detection": "fail",  # the demo configures no channel
        "shared_kpis": "pass",
        "visibility": "pass",
        "regular_review": "partial",  # signed in March, never reviewed since
        "review_cycle": "partial",
        "responsibilities_shared": "pass",
        "feedback_loop": "pass",
    }
    assert (data["passed"], data["partial"], data["failed"]) == (9, 2, 1)
    assert items["mql_definition"]["evidence"][0] == (
        "v1 approved by 小林 誠 (Inside sales) 2026-03-24, 加藤 拓也 (Field sales) 2026-03-24 and "
        "佐藤 美咲 (Marketing) 2026-03-25; active since 2026-03-25"
    )
    assert items["neglect_detection"]["evidence"][0] == "no notification channel configured"
    assert items["regular_review"]["evidence"][0] == "the quarterly review was due by 2026-06-25"
    assert items["review_cycle"]["evidence"][0] == "v1 was due for review on 2026-06-25"
    assert items["visibility"]["evidence"][0].startswith(
        "marketing side (leads, activities): ma (events) last 2026-10-01"
    )
    assert items["visibility"]["evidence"][1].startswith(
        "sales side (stages, owners, contacts): sfa (events) last 2026-10-01"
    )
    assert items["feedback_loop"]["evidence"][0].startswith("since 2026-07-01 sales returned ")
    code, out, _ = run(db, "checklist", "--now", NOW)
    assert code == 0 and "12 項目中 9 項目を満たしています (一部のみ 2、未達 1)" in out


def test_on_the_demo_a_channel_and_a_sweep_make_neglected_leads_detected(demo_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    db = f"sqlite:///{copy}"
    channels = tmp_path / "channels.yaml"
    channels.write_text(CHANNELS, encoding="utf-8")
    runner, env = CliRunner(), {"LEADPACT_DEMO_HOOK_SECRET": "s3cret"}

    def neglect() -> dict[str, Any]:
        args = ["--db", db, "--lang", "en", "--channels", str(channels), "checklist", "--now", NOW, "--json"]
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.stderr
        item: dict[str, Any] = by_id(json.loads(result.stdout))["neglect_detection"]
        return item

    found = neglect()
    assert found["status"] == "partial"  # the demo's late clocks were never swept
    assert "clocks more than 24 hours past due were never recorded" in found["evidence"][0]
    sweep = ["--db", db, "--channels", str(channels), "sla", "sweep", "--now", NOW, "--no-notify"]
    assert runner.invoke(app, sweep, env=env).exit_code == 0
    found = neglect()
    assert found["status"] == "pass"
    assert "notification channels: sales-hook (webhook)" in found["evidence"]
