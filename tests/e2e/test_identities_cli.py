"""`leadpact identities` as a user drives it: merges by ingest and by hand, listed, undone, the e-mail policy."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from tests.e2e.test_cli import sign as sign_pact

NOW = "2026-10-01T18:00:00+09:00"


@pytest.fixture
def db(sqlite_url: str) -> str:
    return sqlite_url


def sign(db: str) -> None:
    """The example pact signed by 佐藤, 田中 and 鈴木; 高橋 (field sales) is a manager."""
    sign_pact(db)
    assert run(db, "user", "add", "高橋", "--department", "field_sales", "--manager")[0] == 0


def write(path: Path, *events: dict[str, object]) -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    return path


def upsert(event_id: str, at: str, lead: dict[str, str], **attributes: object) -> dict[str, object]:
    return {
        "id": event_id,
        "source": "hubspot",
        "at": at,
        "lead": lead,
        "type": "lead_upsert",
        "attributes": attributes,
    }


def two_leads_then_one(db: str, tmp_path: Path) -> None:
    sign(db)
    first = write(
        tmp_path / "first.jsonl",
        upsert(
            "u1", "2026-04-01T09:00:00+09:00", {"email": "Taro@Example-Seiki.co.jp"}, company="株式会社サンプル精機"
        ),
        upsert("u2", "2026-04-02T09:00:00+09:00", {"system": "hubspot", "id": "101"}, title="課長"),
    )
    assert run(db, "ingest", str(first))[0] == 0
    both = write(
        tmp_path / "both.jsonl",
        upsert(
            "u3",
            "2026-04-03T09:00:00+09:00",
            {"email": "ｔａｒｏ＠example-seiki.co.jp", "system": "hubspot", "id": "101"},
        ),
    )
    code, out, _ = run(db, "ingest", str(both))
    assert (code, out.strip()) == (
        0,
        f"{both}: 1 created, 0 unchanged, 0 rejected (0 new leads, 1 merged, 0 stage changes)",
    )


def test_a_merge_made_by_ingest_is_listed_and_a_manager_can_undo_it_once(db: str, tmp_path: Path) -> None:
    two_leads_then_one(db, tmp_path)
    code, out, _ = run(db, "identities", "--json")
    assert code == 0
    (merge,) = json.loads(out)
    assert (merge["id"], merge["rule"], merge["merged_by"], merge["survivor"], merge["absorbed"]) == (
        1,
        "same_record",
        "system:identity",
        {"id": 1, "email": "taro@example-seiki.co.jp"},
        {"id": 2, "email": None},
    )
    assert merge["evidence"]["records"][0]["identifiers"] == [
        {"id": "taro@example-seiki.co.jp", "lead": 1},
        {"id": "hubspot:101", "lead": 2},
    ]
    assert merge["after"]["attributes"] == {"company": "株式会社サンプル精機", "title": "課長"}
    assert merge["undone"] is None
    code, out, _ = run(db, "--lang", "en", "identities")
    assert code == 0 and "event hubspot/u3" in out and "hubspot:101 = lead 2" in out

    code, _, err = run(db, "identities", "undo", "1", "--by", "田中", "--now", NOW)
    assert (code, err.strip()) == (1, "error: only a manager may undo a merge; 田中 is not one")
    code, out, _ = run(db, "identities", "undo", "1", "--by", "高橋")  # after the merge ingest made just now
    assert (code, out.strip()) == (
        0,
        "merge 1 undone: leads 1 and 2 are two again; restored: stage, owner, bant, attributes, email",
    )
    code, _, err = run(db, "identities", "undo", "1", "--by", "高橋")
    (merge,) = json.loads(run(db, "identities", "--json")[1])
    undone_at = datetime.fromisoformat(merge["undone"]["at"])
    assert (code, err.strip()) == (1, f"error: merge 1 was undone already, by 高橋 at {undone_at:%Y-%m-%d %H:%M} UTC")
    assert (merge["undone"]["by"], merge["undone"]["restored"], merge["undone"]["kept"]) == (
        "高橋",
        ["stage", "owner", "bant", "attributes", "email"],
        [],
    )
    assert run(db, "ledger", "verify")[1].startswith("ledger intact: 4 entries")
    shown = json.loads(run(db, "lead", "show", "2", "--json")[1])
    assert (shown["id"], shown["refs"], shown["attributes"]) == (
        2,
        [{"system": "hubspot", "id": "101"}],
        {"title": "課長"},
    )
    assert [item["kind"] for item in shown["timeline"]] == ["merge", "unmerge"]


def test_two_leads_merged_by_hand_and_the_merges_of_one_lead(db: str, tmp_path: Path) -> None:
    sign(db)
    leads = write(
        tmp_path / "leads.jsonl",
        upsert("a", "2026-04-02T09:00:00+09:00", {"email": "hanako@sample.co.jp"}),
        upsert("b", "2026-04-01T09:00:00+09:00", {"email": "h.sato@sample.co.jp"}),
        upsert("c", "2026-04-01T09:00:00+09:00", {"email": "other@sample.co.jp"}),
    )
    assert run(db, "ingest", str(leads))[0] == 0
    code, out, _ = run(
        db, "identities", "merge", "hanako@sample.co.jp", "2", "--by", "田中", "--note", "同一人物(旧姓)", "--now", NOW
    )
    # the older lead (2, first seen on 1 April) survives whatever the order given
    assert (code, out.strip()) == (
        0,
        "merge 1: lead 1 hanako@sample.co.jp merged into lead 2 h.sato@sample.co.jp; "
        "a manager can undo it with `leadpact identities undo 1 --by NAME`",
    )
    code, _, err = run(db, "identities", "merge", "1", "hanako@sample.co.jp", "--by", "田中")
    assert (code, err.strip()) == (1, "error: 1 and hanako@sample.co.jp are one lead already (lead 2)")
    code, _, err = run(db, "identities", "merge", "1", "3", "--by", "山田")
    assert code == 1 and err.startswith("error: unknown user '山田'")
    (merge,) = json.loads(run(db, "identities", "--lead", "hanako@sample.co.jp", "--json")[1])
    assert (merge["rule"], merge["note"], merge["merged_by"]) == ("manual", "同一人物(旧姓)", "田中")
    assert json.loads(run(db, "identities", "--lead", "3", "--json")[1]) == []
    assert run(db, "identities", "--lead", "3")[1].strip() == "no merges yet"
    # the survivor shows the address it took over, and the company both addresses name
    shown = json.loads(run(db, "lead", "show", "hanako@sample.co.jp", "--json")[1])
    assert (shown["id"], shown["email"], shown["other_emails"]) == (2, "h.sato@sample.co.jp", ["hanako@sample.co.jp"])
    assert shown["company"] == {"name": None, "domains": ["sample.co.jp"]}
    text = run(db, "lead", "show", "2")[1]
    assert "also known as: hanako@sample.co.jp" in text
    assert "company found: — (sample.co.jp)" in text


def test_the_plus_addressing_policy_is_shown_checked_and_changed_by_a_manager(db: str, tmp_path: Path) -> None:
    sign(db)
    leads = write(
        tmp_path / "leads.jsonl",
        upsert("a", "2026-04-01T09:00:00+09:00", {"email": "taro+seminar@gmail.com"}),
        upsert("b", "2026-04-02T09:00:00+09:00", {"email": "taro@gmail.com"}),
    )
    assert run(db, "ingest", str(leads))[0] == 0
    assert run(db, "identities", "policy")[1].strip() == "plus-addressing: keep"
    code, _, err = run(db, "identities", "policy", "--plus-addressing", "sometimes", "--by", "高橋")
    assert (code, err.strip()) == (
        2,
        "error: --plus-addressing: plus-addressing 'sometimes': expected keep, strip, or strip:DOMAIN,DOMAIN",
    )
    code, _, err = run(db, "identities", "policy", "--plus-addressing", "strip")
    assert (code, err.strip()) == (2, "error: changing the policy needs --by NAME (a manager)")
    code, out, _ = run(db, "identities", "policy", "--plus-addressing", "strip:gmail.com", "--by", "高橋", "--now", NOW)
    assert code == 0
    assert out.splitlines() == [
        "plus-addressing: keep → strip:gmail.com: 1 addresses rewritten, 1 merges (1)",
        "  lead 1: taro+seminar@gmail.com → taro@gmail.com",
    ]
    assert json.loads(run(db, "identities", "policy", "--json")[1]) == {"plus_addressing": "strip:gmail.com"}
    shown = json.loads(run(db, "lead", "show", "Taro+News@gmail.com", "--json")[1])
    assert (shown["id"], shown["email"]) == (1, "taro@gmail.com")
