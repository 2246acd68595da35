"""`leadpact route`, `lead assign` and `user deactivate` as a user drives them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import run, sign
from tests.integration.test_ingest import marketing_events

NOW = "2026-04-06T13:00+09:00"


def waiting_mql(db: str, tmp_path: Path) -> None:
    sign(db)
    assert run(db, "user", "add", "山田", "--department", "inside_sales")[0] == 0
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in marketing_events()) + "\n", encoding="utf-8")
    assert run(db, "ingest", str(path))[0] == 0


def test_a_dry_run_says_who_would_get_the_lead_and_route_records_it(sqlite_url: str, tmp_path: Path) -> None:
    waiting_mql(sqlite_url, tmp_path)
    code, out, _ = run(sqlite_url, "--lang", "en", "route", "--dry-run", "--now", NOW)
    assert code == 0 and "would route 1 lead(s)" in out and "taro@example.co.jp" in out
    code, out, _ = run(sqlite_url, "route", "--now", NOW, "--json")
    ((routed,),) = [json.loads(out)["routed"]]
    assert routed["email"] == "taro@example.co.jp" and routed["routing"] == "default"
    assert routed["rep"] in ("田中", "山田") and routed["capacity_per_day"] == 15
    code, out, _ = run(sqlite_url, "lead", "show", "taro@example.co.jp")
    assert f"assigned to {routed['rep']} by routing" in out
    code, out, _ = run(sqlite_url, "route", "--now", NOW)
    assert code == 0 and "振り分けを待つ MQL はありません" in out


def test_manual_assignment_and_an_inactive_rep(sqlite_url: str, tmp_path: Path) -> None:
    waiting_mql(sqlite_url, tmp_path)
    code, out, _ = run(sqlite_url, "user", "deactivate", "山田")
    assert code == 0 and "山田 (inside_sales) is inactive" in out
    code, _, err = run(sqlite_url, "lead", "assign", "taro@example.co.jp", "--to", "山田", "--by", "佐藤", "--now", NOW)
    assert code == 1 and "山田 is inactive and cannot be given leads" in err
    code, out, _ = run(
        sqlite_url,
        "lead",
        "assign",
        "taro@example.co.jp",
        "--to",
        "田中",
        "--by",
        "佐藤",
        "--note",
        "指名",
        "--now",
        NOW,
    )
    assert code == 0 and "assigned to 田中 by 佐藤" in out
    code, _, err = run(sqlite_url, "lead", "assign", "taro@example.co.jp", "--to", "田中", "--by", "佐藤", "--now", NOW)
    assert code == 1 and "already held by 田中" in err
    code, _, err = run(sqlite_url, "lead", "assign", "taro@example.co.jp", "--to", "誰か", "--by", "佐藤")
    assert code == 1 and "unknown user '誰か'" in err
    assert "山田 (inside_sales) is active" in run(sqlite_url, "user", "activate", "山田")[1]
