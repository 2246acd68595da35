"""`leadpact export` as a user drives it: a file or standard output, the summary, and bad options."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from tests.e2e.test_cli import run, sign
from tests.factories import event
from tests.integration.test_ingest import T1, marketing_events

NOW = "2026-04-13T12:00+09:00"


def neglected(db: str, tmp_path: Path) -> None:
    """taro: an MQL assigned to 田中 and never called; a second lead whose company is a formula."""
    sign(db)
    events = [
        *marketing_events(),
        event("assignment", T1 + timedelta(hours=4), id="s1", to="田中"),
        event("lead_upsert", T1, lead="evil@example.co.jp", id="u9", attributes={"company": "=cmd|' /C calc'!A0"}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    assert run(db, "ingest", str(path))[0] == 0


def test_export_to_a_file_in_hubspots_layout(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    out = tmp_path / "hubspot.csv"
    code, stdout, stderr = run(sqlite_url, "export", "--format", "hubspot", "--out", str(out), "--now", NOW)
    assert code == 0 and stdout == ""
    assert f"wrote 2 lead(s) in the hubspot layout (utf-8) to {out}; scores under pact v1" in stderr
    assert "clocks as of 2026-04-13 12:00 (Asia/Tokyo, the file's time zone)" in stderr
    header, taro, evil = csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline=""))
    row = dict(zip(header, taro, strict=True))
    # 田中 was added without an e-mail address: HubSpot's owner is left as it is, leadpact's is named
    assert (row["Email"], row["Lifecycle Stage"], row["Contact owner"], row["leadpact Owner"]) == (
        "taro@example.co.jp",
        "marketingqualifiedlead",
        "",
        "田中",
    )
    assert (row["leadpact Clock"], row["leadpact Clock State"], row["leadpact Business Days Late"]) == (
        "is_first_contact",
        "breached",
        "2",
    )
    assert dict(zip(header, evil, strict=True))["Company Name"] == "'=cmd|' /C calc'!A0"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_export_to_standard_output_carries_the_csv_alone(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    code, stdout, stderr = run(sqlite_url, "export", "--format", "csv", "--now", NOW, "--encoding", "utf-8")
    assert code == 0 and "wrote 2 lead(s) in the csv layout (utf-8) to standard output" in stderr
    rows = list(csv.reader(io.StringIO(stdout, newline="")))
    assert rows[0][:4] == ["id", "email", "company", "stage"]
    assert [(r[0], r[1], r[3], r[10]) for r in rows[1:]] == [
        ("1", "taro@example.co.jp", "mql", "breached"),
        ("2", "evil@example.co.jp", "lead", ""),
    ]


def test_a_salesforce_export_in_cp932_for_data_loader(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    out = tmp_path / "leads.csv"
    code, _, stderr = run(sqlite_url, "export", "--format", "salesforce", "--out", str(out), "--encoding", "cp932")
    assert code == 0 and "(cp932)" in stderr and "warning" not in stderr
    header, taro, _ = csv.reader(io.StringIO(out.read_bytes().decode("cp932"), newline=""))
    row = dict(zip(header, taro, strict=True))
    assert (row["LastName"], row["Company"], row["Status"], row["leadpact_Owner__c"]) == (
        "[not provided]",
        "株式会社テスト製作所",
        "Open - Not Contacted",
        "田中",
    )


def test_bad_options_are_one_line_and_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    code, _, stderr = run(sqlite_url, "export", "--format", "csv", "--encoding", "latin-1")
    assert code == 2 and "--encoding 'latin-1': an export is written as utf-8, utf-8-sig, cp932" in stderr
    code, _, stderr = run(sqlite_url, "export", "--format", "marketo")
    assert code == 2 and "'marketo' is not one of" in stderr
    code, _, stderr = run(sqlite_url, "export", "--format", "csv", "--now", "2026-04-13T12:00")
    assert code == 2 and "needs an offset" in stderr
    code, _, stderr = run(sqlite_url, "export", "--format", "csv", "--out", str(tmp_path))
    assert code == 2 and "is a folder; name the file to write" in stderr
    code, _, stderr = run(sqlite_url, "export", "--format", "csv", "--out", str(tmp_path / "missing" / "x.csv"))
    assert code == 2 and "cannot write" in stderr and "x.csv" in stderr
