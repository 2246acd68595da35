"""`leadpact lead reject|recycle`, `dispute …` and `feedback` as a user drives them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.e2e.test_cli import run, sign
from tests.integration.test_ingest import marketing_events

LEAD = "taro@example.co.jp"


def mql(db: str, tmp_path: Path) -> None:
    """The example pact signed, 小林 heading inside sales, and taro an MQL since 4/6 12:00 JST."""
    sign(db)
    assert run(db, "user", "add", "小林", "--department", "inside_sales", "--manager")[0] == 0
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in marketing_events()) + "\n", encoding="utf-8")
    assert run(db, "ingest", str(path))[0] == 0


def test_a_rejection_disputed_and_overturned_then_the_feedback(sqlite_url: str, tmp_path: Path) -> None:
    db = sqlite_url
    mql(db, tmp_path)
    code, _, err = run(db, "lead", "recycle", LEAD, "--by", "田中", "--reason", "nope", "--note", "x")
    assert code == 1 and "unknown recycle reason code 'nope'; the pact defines: no_budget, bad_timing" in err
    code, _, err = run(db, "lead", "recycle", LEAD, "--by", "田中", "--note", "x")
    assert code == 1 and "needs a recycle reason code: no_budget, bad_timing, no_response, info_gathering" in err
    code, out, _ = run(
        db,
        *("--lang", "en", "lead", "recycle", LEAD, "--by", "田中", "--reason", "no_budget", "--note", "来期に再検討"),
        *("--now", "2026-04-07T11:00+09:00"),
    )
    assert code == 0
    assert "mql → recycled: No budget (no_budget) by 田中 (inside_sales)" in out
    assert "recorded as a rejection by sales" in out
    assert "clocks stopped: mql_handoff" in out

    code, _, err = run(db, "dispute", "open", LEAD, "--by", "田中", "--note", "x")
    assert code == 1 and "田中 (inside_sales) may not dispute a rejection" in err
    code, out, _ = run(
        db,
        "--lang",
        "en",
        "dispute",
        "open",
        LEAD,
        "--by",
        "佐藤",
        "--note",
        "条件は満たしている",
        "--now",
        "2026-04-07T15:00+09:00",
    )
    assert code == 0 and "opened" in out
    assert (
        "MQL criteria at handoff (as the ledger recorded them): lead → mql 2026-04-06 12:00, pact v1, score 87.0" in out
    )
    assert "✓ industry in ['製造業', '情報通信業', '卸売業'] (is '製造業')" in out
    assert "sales' note: 来期に再検討" in out and "why marketing disputes it: 条件は満たしている" in out
    ((listed,),) = [json.loads(run(db, "dispute", "list", "--open", "--json")[1])]
    dispute = str(listed["id"])
    assert (listed["status"], listed["rejection"]["reason"], listed["handoff"]["checked"]) == (
        "pending",
        "no_budget",
        "recorded",
    )

    for flags, expected in (((), 2), (("--uphold", "--overturn"), 2)):
        code, _, err = run(db, "dispute", "resolve", dispute, *flags, "--by", "小林", "--note", "x")
        assert code == expected and "say either --uphold" in err
    code, _, err = run(db, "dispute", "resolve", dispute, "--overturn", "--by", "田中", "--note", "x")
    assert code == 1 and "only a manager may resolve a dispute; 田中 is not one" in err
    code, out, _ = run(
        db,
        *("--lang", "en", "dispute", "resolve", dispute, "--overturn", "--by", "小林", "--note", "BANTは確認不足"),
        *("--now", "2026-04-08T10:00+09:00"),
    )
    assert code == 0 and "rejection overturned (counts against sales acceptance: inside_sales)" in out
    assert "the lead is back in mql; nobody holds it, so routing gives it out again" in out
    code, _, err = run(db, "dispute", "resolve", dispute, "--uphold", "--by", "小林", "--note", "x")
    assert code == 1 and f"dispute #{dispute} was overturned by 小林 on 2026-04-08 already" in err
    assert "異議はありません" in run(db, "dispute", "list", "--open")[1]
    assert "取消" in run(db, "dispute", "list")[1]
    assert json.loads(run(db, "dispute", "show", dispute, "--json")[1])["resolution"]["reinstated"] == "mql"
    shown = run(db, "lead", "show", LEAD)[1]
    assert f"dispute #{dispute} overturned by 小林; back to mql" in shown
    assert "recycled → mql [override] by 小林 (inside_sales)" in shown
    assert shown.count("under pact v1: score") == 1  # why it became an MQL: once, the reinstatement checked nothing

    code, out, _ = run(
        db,
        *("--lang", "en", "lead", "reject", LEAD, "--by", "田中", "--reason", "competitor", "--note", "競合の社員"),
        *("--now", "2026-04-09T10:00+09:00"),
    )
    assert code == 0 and "mql → disqualified: Competitor (competitor) by 田中 (inside_sales)" in out
    assert run(db, "ledger", "verify")[0] == 0

    code, out, _ = run(db, "feedback", "--period", "2026-Q2")
    assert (
        code == 0
        and "営業からのフィードバック 2026-Q2 (2026-04-01〜2026-06-30, Asia/Tokyo): 却下 2 件、流入元別" in out
    )
    assert "予算なし (no_budget)" in out and "取消 1" in out and "「競合の社員」 — 田中, 2026-04-09" in out
    report = json.loads(run(db, "feedback", "--period", "2026-Q2", "--format", "json")[1])
    assert (report["rejections"], report["disputes"]["overturned"], report["disputes"]["undisputed"]) == (2, 1, 1)
    ((group,),) = [report["groups"]]
    assert (group["source"], [r["code"] for r in group["reasons"]]) == (None, ["no_budget", "competitor"])
    rows = list(
        csv.DictReader(io.StringIO(run(db, "--lang", "en", "feedback", "--period", "2026-04", "--format", "csv")[1]))
    )
    assert [(r["reason"], r["label"], r["count"], r["share_of_group"], r["overturned"]) for r in rows] == [
        ("no_budget", "No budget", "1", "0.5000", "1"),
        ("competitor", "Competitor", "1", "0.5000", "0"),
    ]
    assert "page_view: /pricing" in run(db, "feedback", "--period", "2026-Q2", "--by", "content")[1]
    assert "no rejections in 2026-Q3" in run(db, "--lang", "en", "feedback", "--period", "2026-Q3")[1]


def test_bad_feedback_options_name_the_valid_ones(sqlite_url: str, tmp_path: Path) -> None:
    mql(sqlite_url, tmp_path)
    for args, message in (
        (("--period", "2026-13"), "there is no month 13; write one of: 2026, 2026-H1, 2026-Q3"),
        (("--period", "2026-Q3", "--by", "owner"), "group it by one of: source, campaign, content"),
        (("--period", "2026-Q3", "--format", "xml"), "use one of: table, json, csv"),
    ):
        code, _, err = run(sqlite_url, "feedback", *args)
        assert code == 2 and message in err
