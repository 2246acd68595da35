"""`leadpact sla` as a user drives it: sweep, the board, and bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.e2e.test_cli import run, sign
from tests.factories import event, qualifying_leads_file
from tests.integration.test_ingest import T1, marketing_events


def neglected(db: str, tmp_path: Path) -> None:
    sign(db)
    events = [*marketing_events(), event("assignment", T1 + timedelta(hours=4), id="s1", to="田中")]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    assert run(db, "ingest", str(path))[0] == 0


def test_sweep_then_list_the_breached_leads(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    code, out, _ = run(sqlite_url, "sla", "sweep", "--now", "2026-04-13T12:00+09:00")
    assert code == 0 and "1 new breach(es), 0 already recorded" in out
    code, out, _ = run(sqlite_url, "sla", "sweep", "--now", "2026-04-13T13:00+09:00", "--json")
    assert code == 0 and json.loads(out)["known"] == 1 and json.loads(out)["new"] == []
    code, out, _ = run(sqlite_url, "sla", "list", "--breached", "--now", "2026-04-13T12:00+09:00", "--json")
    listed = json.loads(out)
    assert (listed["total"], listed["limit"], listed["now"]) == (1, 100, "2026-04-13T12:00:00+09:00")
    (row,) = listed["items"]
    assert (row["clock"], row["owner"], row["responsible"], row["business_days_late"]) == (
        "is_first_contact",
        "田中",
        "inside_sales",
        2,
    )
    assert row["hours"] == {"routing_delay": 0.0, "department": 118.0, "off_hours": 48.0}
    code, out, _ = run(sqlite_url, "sla", "list", "--department", "field_sales", "--now", "2026-04-13T12:00+09:00")
    assert code == 0 and "no neglected leads" in out


def test_the_board_shows_the_oldest_due_up_to_the_limit_and_counts_the_rest(sqlite_url: str, tmp_path: Path) -> None:
    sign(sqlite_url)
    path = tmp_path / "leads.jsonl"
    qualifying_leads_file(path, 3, T1)  # three MQLs at T1 + 3 h, none handed over within 24 hours
    assert run(sqlite_url, "ingest", str(path))[0] == 0
    now = (T1 + timedelta(days=2)).isoformat()
    code, out, _ = run(sqlite_url, "sla", "list", "--now", now, "--limit", "2")
    assert code == 0 and "3 lead(s) as of" in out and "… and 1 more (--limit 0 shows all)" in out
    assert "lead0@example.co.jp" in out and "lead1@example.co.jp" in out and "lead2@example.co.jp" not in out
    code, out, _ = run(sqlite_url, "sla", "list", "--now", now, "--limit", "2", "--json")
    listed = json.loads(out)
    assert (listed["total"], listed["limit"]) == (3, 2)
    assert [(i["email"], i["clock"], i["state"]) for i in listed["items"]] == [
        ("lead0@example.co.jp", "mql_handoff", "breached"),
        ("lead1@example.co.jp", "mql_handoff", "breached"),
    ]
    code, out, _ = run(sqlite_url, "sla", "list", "--now", now, "--limit", "0", "--json")
    assert [i["email"] for i in json.loads(out)["items"]] == [f"lead{i}@example.co.jp" for i in range(3)]
    assert json.loads(out)["limit"] is None
    code, out, _ = run(sqlite_url, "sla", "list", "--now", now, "--limit", "0")
    assert "more" not in out
    code, _, err = run(sqlite_url, "sla", "list", "--now", now, "--limit", "-1")
    assert code == 2


def test_bad_now_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    code, _, err = run(sqlite_url, "sla", "sweep", "--now", "2026-04-13T12:00")
    assert code == 2 and "needs an offset" in err
    code, _, err = run(sqlite_url, "sla", "sweep", "--now", "2026-01-01T00:00+09:00")
    assert code == 1 and "is before clock is_first_contact" in err


def test_lead_show_lists_the_leads_clocks(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    code, out, _ = run(sqlite_url, "lead", "show", "taro@example.co.jp", "--json")
    assert code == 0
    clocks = {c["clock"]: c for c in json.loads(out)["clocks"]}
    assert clocks["mql_handoff"]["stopped_by"] == "assigned" and clocks["mql_handoff"]["state"] == "met"
    assert clocks["is_first_contact"]["due_at"] == "2026-04-09T15:00:00+00:00"  # end of Thursday 4/9 JST
    assert clocks["is_first_contact"]["stopped_at"] is None
    code, out, _ = run(sqlite_url, "lead", "show", "taro@example.co.jp")
    assert "handoff clocks" in out and "is_first_contact" in out
