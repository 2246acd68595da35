"""`leadpact import` and `leadpact quarantine` as a user drives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadpact.adapters.db.engine import make_engine
from leadpact.domain.clock import FixedClock
from leadpact.services.imports import import_file
from tests.conftest import ROOT
from tests.e2e.test_cli import run, sign
from tests.factories import CutOff, cut_off_after

DATA = ROOT / "tests" / "data"


def test_an_import_says_what_it_did_and_what_it_could_not_read(sqlite_url: str, tmp_path: Path) -> None:
    sign(sqlite_url)
    code, out, _ = run(sqlite_url, "import", str(DATA / "hubspot" / "contacts-ja.csv"), "--format", "hubspot-contacts")
    assert code == 0
    assert "contacts-ja.csv (hubspot-contacts, cp932): 3 rows → 3 created, 0 updated, 0 unchanged, 0 quarantined" in out
    assert "columns not read: 電話番号" in out

    code, out, err = run(sqlite_url, "import", str(DATA / "bad" / "ragged.csv"), "--format", "hubspot-contacts")
    assert code == 0 and "2 created, 0 updated, 0 unchanged, 2 quarantined" in out
    assert "ragged.csv:3: 3 cells, but the header has 6" in err
    assert "leadpact quarantine export --run 2 --out fix.csv" in err

    code, out, _ = run(sqlite_url, "quarantine", "list", "--json")
    assert [(r["line"], r["reason"]) for r in json.loads(out)] == [
        (3, "3 cells, but the header has 6"),
        (4, "7 cells, but the header has 6"),
    ]
    fix, problems = tmp_path / "fix.csv", tmp_path / "problems.csv"
    code, out, _ = run(sqlite_url, "quarantine", "export", "--out", str(fix), "--problems", str(problems))
    assert code == 0 and "2 record(s) of run 2 (ragged.csv) written to" in out
    assert fix.read_text(encoding="utf-8").splitlines()[1] == "short@ragged.example.jp,B,Two"
    assert problems.read_text(encoding="utf-8-sig").splitlines()[1] == 'ragged.csv,3,3,,"3 cells, but the header has 6"'

    code, out, _ = run(sqlite_url, "import", str(DATA / "hubspot" / "contacts-ja.csv"), "--format", "hubspot-contacts")
    assert "0 created, 0 updated, 3 unchanged" in out


def test_a_dry_run_stores_nothing_and_says_so(sqlite_url: str) -> None:
    sign(sqlite_url)
    code, out, _ = run(
        sqlite_url, "import", str(DATA / "hubspot" / "contacts.csv"), "--format", "hubspot-contacts", "--dry-run"
    )
    assert code == 0 and "5 created" in out and "--dry-run: nothing was stored" in out
    code, out, _ = run(sqlite_url, "quarantine", "list")
    assert "quarantine is empty" in out
    code, out, _ = run(sqlite_url, "import", str(DATA / "hubspot" / "contacts.csv"), "--format", "hubspot-contacts")
    assert "5 created" in out


def test_a_wrong_format_mapping_or_file_is_refused_with_the_reason(sqlite_url: str, tmp_path: Path) -> None:
    sign(sqlite_url)
    contacts = str(DATA / "hubspot" / "contacts.csv")
    code, _, err = run(sqlite_url, "import", contacts, "--format", "pardot")
    assert code == 2 and "unknown format 'pardot'; one of hubspot-contacts" in err
    mapping = tmp_path / "map.yaml"
    mapping.write_text("stages:\n  Nurturing: nurturing\ncolumn:\n  segment: Segment__c\n", encoding="utf-8")
    code, _, err = run(sqlite_url, "import", contacts, "--format", "hubspot-contacts", "--mapping", str(mapping))
    assert code == 2
    assert f"{mapping}:3:1: column: unknown field" in err
    code, _, err = run(sqlite_url, "import", contacts, "--format", "salesforce-opportunities")
    assert code == 1 and "contacts.csv: no is_closed or is_won column: export IsClosed and IsWon" in err
    code, _, err = run(sqlite_url, "import", str(tmp_path / "missing.csv"), "--format", "generic")
    assert code == 2 and "no such file" in err


def test_an_import_warns_of_another_run_that_was_cut_off(sqlite_url: str) -> None:
    sign(sqlite_url)
    engine = make_engine(sqlite_url)
    with pytest.raises(CutOff):  # as a kill between two batches leaves it
        import_file(
            engine,
            FixedClock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
            DATA / "hubspot" / "contacts.csv",
            "hubspot-contacts",
            batch_size=2,
            progress=cut_off_after(1),
        )
    engine.dispose()
    deals = str(DATA / "hubspot" / "deals.csv")
    code, _, err = run(sqlite_url, "import", deals, "--format", "hubspot-deals")
    assert code == 0
    assert (
        "warning: import run 1 of contacts.csv (hubspot-contacts), started 2026-11-02 09:30 UTC, has not "
        "finished (committed up to line 3)." in " ".join(err.split())
    )
    code, out, _ = run(sqlite_url, "import", deals, "--format", "hubspot-deals", "--json")
    assert json.loads(out)["other_unfinished_runs"] == [
        {
            "run": 1,
            "file": "contacts.csv",
            "format": "hubspot-contacts",
            "started_at": "2026-11-02T09:30:00+00:00",
            "last_line": 3,
        }
    ]
    run(sqlite_url, "import", str(DATA / "hubspot" / "contacts.csv"), "--format", "hubspot-contacts")
    code, _, err = run(sqlite_url, "import", deals, "--format", "hubspot-deals")
    assert code == 0 and "has not finished" not in err
