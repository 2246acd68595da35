"""The command line as a user drives it: pact sign-off, ingest, score, lead show, ledger verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update
from typer.testing import CliRunner

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.score_state import StateLayout
from leadpact.cli import app
from tests.conftest import EXAMPLE_PACT
from tests.factories import example_document, example_text
from tests.integration.test_ingest import marketing_events

runner = CliRunner()


@pytest.fixture
def db(sqlite_url: str) -> str:
    return sqlite_url


def run(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", db, *args])
    return result.exit_code, result.stdout, result.stderr


def sign(db: str) -> None:
    for name, department in (("佐藤", "marketing"), ("田中", "inside_sales"), ("鈴木", "field_sales")):
        assert run(db, "user", "add", name, "--department", department)[0] == 0
    code, out, _ = run(db, "pact", "propose", str(EXAMPLE_PACT), "--by", "佐藤")
    assert code == 0 and "proposed pact v1" in out
    assert "waiting for: inside_sales, field_sales" in run(db, "pact", "approve", "1", "--by", "佐藤")[1]
    assert run(db, "pact", "approve", "1", "--by", "田中")[0] == 0
    assert "pact v1 is now active" in run(db, "pact", "approve", "1", "--by", "鈴木")[1]


def test_a_malformed_pact_is_refused_with_located_messages_and_exit_2(db: str, tmp_path: Path) -> None:
    broken = tmp_path / "pact.yaml"
    broken.write_text(example_text(("score_threshold: 80", "score_threshold: -1"), ("holidays: JP", "holidays: ZZ")))
    code, _, err = run(db, "pact", "validate", str(broken))
    assert code == 2
    assert f"{broken}:31:13: calendar.holidays: unknown holiday country code 'ZZ'" in err
    assert "mql.score_threshold: Input should be greater than or equal to 0" in err
    assert "2 problem(s); nothing was stored." in err
    run(db, "user", "add", "佐藤", "--department", "marketing")
    assert run(db, "pact", "propose", str(broken), "--by", "佐藤")[0] == 2
    assert "no pact yet" in run(db, "pact", "show")[2]


def test_pact_show_prints_the_seed_agreement_items(db: str) -> None:
    sign(db)
    code, out, _ = run(db, "--lang", "en", "pact", "show")
    assert code == 0
    for item in (
        "Score threshold",
        "Required actions",
        "Attribute conditions",
        "Handoff timing",
        "Follow-up deadline",
        "Review cycle",
        "Responsible department",
    ):
        assert item in out
    assert "score ≥ 80" in out and "BANT ≥ 2 / 4" in out and "quarterly" in out
    ja = run(db, "pact", "show")[1]
    assert "スコア閾値" in ja and "四半期ごと" in ja and "マーケティング部" in ja


def test_pact_diff_and_history(db: str, tmp_path: Path) -> None:
    sign(db)
    lower = tmp_path / "v2.yaml"
    lower.write_text(example_text(("score_threshold: 80", "score_threshold: 70")))
    assert run(db, "pact", "propose", str(lower), "--by", "田中")[0] == 0
    code, out, _ = run(db, "pact", "diff", "1", "2")
    assert (code, out.strip()) == (0, "MQL threshold 80 → 70")
    history = run(db, "pact", "history")[1]
    assert "v1" in history and "active" in history and "v2" in history and "draft" in history
    code, _, err = run(db, "pact", "approve", "2", "--by", "田中")
    assert code == 0
    code, _, err = run(db, "pact", "approve", "2", "--by", "田中")
    assert code == 1 and "inside_sales already approved v2" in err
    assert "unknown pact version 9" in run(db, "pact", "diff", "1", "9")[2]


def test_ingest_score_and_lead_show(db: str, tmp_path: Path) -> None:
    sign(db)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in marketing_events()) + "\n{oops\n")
    code, out, err = run(db, "ingest", str(events))
    assert code == 1
    assert "5 created, 0 unchanged, 1 rejected" in out
    assert f"{events}:6: -: not valid JSON" in err
    assert "0 created, 5 unchanged, 1 rejected" in run(db, "ingest", str(events))[1]

    code, out, _ = run(db, "score", "taro@example.co.jp", "--json")
    breakdown = json.loads(out)
    assert breakdown["pact_version"] == 1
    assert {r["rule"] for r in breakdown["rules"]} >= {"document_download", "target_industry"}

    code, out, _ = run(db, "lead", "show", "taro@example.co.jp", "--json")
    shown = json.loads(out)
    assert shown["stage"] == "mql"
    (mql,) = [i for i in shown["timeline"] if i["kind"] == "transition"]
    assert mql["text"].startswith("lead → mql by system (marketing)")
    assert mql["pact_version"] == 1
    assert mql["at"] == "2026-04-06T03:00:00+00:00"
    assert mql["evidence"]["score"]["total"] >= 80
    assert "lead → mql" in run(db, "lead", "show", "1")[1]
    assert "no lead with id or e-mail 'x@y.jp'" in run(db, "lead", "show", "x@y.jp")[2]


def test_ledger_verify_catches_an_altered_row(db: str, tmp_path: Path) -> None:
    sign(db)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in marketing_events()))
    run(db, "ingest", str(events))
    code, out, _ = run(db, "ledger", "verify")
    assert code == 0 and "ledger intact: 1 entries" in out
    engine = create_engine(db)
    with engine.begin() as c:
        c.execute(update(t.ledger_entries).where(t.ledger_entries.c.seq == 1).values(actor="佐藤"))
    engine.dispose()
    code, _, err = run(db, "ledger", "verify")
    assert code == 1 and "ledger broken at entry #1" in err and "altered" in err


def test_python_dash_m_runs_the_same_cli() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "leadpact", "--help"], capture_output=True, text=True, check=True)
    assert "pact" in result.stdout and "ingest" in result.stdout


def test_rescore_rebuilds_every_stored_score_under_the_active_pact(db: str, tmp_path: Path) -> None:
    code, _, err = run(db, "rescore")
    assert code == 1 and "no active pact" in err
    sign(db)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in marketing_events()) + "\n")
    assert run(db, "ingest", str(events))[0] == 0
    engine = create_engine(db)
    with engine.connect() as connection:
        folded = connection.execute(t.lead_scores.select()).one()
        connection.execute(t.lead_scores.delete())  # as after an upgrade that empties the scores
        connection.commit()

    code, out, _ = run(db, "rescore", "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["pact_version"], report["leads"], report["leads_with_activity"], report["activities"]) == (
        1,
        1,
        1,
        4,
    )
    with engine.connect() as connection:
        rebuilt = connection.execute(t.lead_scores.select()).one()
    engine.dispose()
    assert rebuilt.as_of == folded.as_of
    layout = StateLayout.of(example_document().pact)
    before, after = layout.decode([folded.state]), layout.decode([rebuilt.state])
    assert after.raw[0].tolist() == pytest.approx(before.raw[0].tolist(), rel=1e-12)
    assert (after.matches.tolist(), after.actions.tolist()) == (before.matches.tolist(), before.actions.tolist())
    assert rebuilt.total == pytest.approx(folded.total, rel=1e-12)
    assert "rescored 1 leads (1 with scored activity) from 4 activities under pact v1" in run(db, "rescore")[1]
