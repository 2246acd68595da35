"""`leadpact accountability` as a user runs it: on the hand-built half year of tests/integration/test_accountability.py,
on a store without a pact or without leads in the period, and with bad input."""

from __future__ import annotations

import json

import pytest

from leadpact.bootstrap import bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from tests.e2e.test_cli import run, sign
from tests.integration.test_accountability import NOW, build

# marketing answers for the MQL → SQL rate too
JOINT = (
    "owner: inside_sales}\n",
    "owner: inside_sales}\n  - {kpi: mql_to_sql_rate, target: 0.5, per: quarter, owner: marketing}\n",
)

AT = NOW.isoformat()


@pytest.fixture
def db(sqlite_url: str) -> str:
    app = bootstrap(Settings(database_url=sqlite_url), clock=FixedClock(NOW))
    build(app)
    app.engine.dispose()
    return sqlite_url


def test_the_table_in_japanese(db: str) -> None:
    code, out, _ = run(db, "accountability", "--period", "2026-Q3", "--now", AT)
    assert code == 0
    assert "責任分担レポート 2026-Q3(2026-07-01〜2026-09-30、Asia/Tokyo)、2026-10-01 09:00 時点" in out
    assert "前期 2026-Q2 と比較。目標は合意書 v2" in out
    for name in ("■ マーケティング部", "■ インサイドセールス部", "■ 営業部"):
        assert name in out
    assert "SLA違反: 期間内に動いた時計 9件のうち 3件が期限超過(33.3%)、リード 3件" in out
    assert "担当者別(期限内に対応した時点、または期限の時点の担当者): 山本 3/4件" in out
    assert "計上された却下(リード品質): 2件(うち時計の期限超過の後 2件)" in out
    assert "予算なし (no_budget)" in out and "ad 2" in out
    assert "計上された却下(営業の受け入れ(異議で取消された却下)): 1件" in out
    assert "未達: MQL→SQL 転換率 33.3% (2/6)(目標 50.0%)" in out
    assert "不足: 目標まであと 1件のSQL化が必要でした(MQL・SALへの判断 6件中)" in out
    assert "変化 -16.7pt = 流入元の構成 +33.3pt + 流入元内の率 -50.0pt" in out
    assert "SQLに至らなかった判断4件のうち 2件は、この段階の時計の期限超過の後でした" in out
    assert "定義: 合意書 v1, v2 が有効" in out and "MQL threshold 80 → 70" in out
    assert "異議の審議中で、まだどの部門にも計上されていない却下: 1件" in out


def test_the_table_in_english(db: str) -> None:
    code, out, _ = run(db, "--lang", "en", "accountability", "--period", "2026-Q3", "--now", AT)
    assert code == 0
    assert "Accountability 2026-Q3 (2026-07-01 – 2026-09-30, Asia/Tokyo), as of 2026-10-01 09:00" in out
    assert (
        "■ Inside sales" in out and "by rep (who held the lead when the clock was met or fell due): 山本 3 of 4" in out
    )
    assert "Rejections charged to it (lead quality): 2 (2 after a late clock)" in out
    assert "Missed: MQLs (first) 8 (target 300)" in out and "the target needed 292 more MQLs" in out
    assert "shortfall: the target needed 1 more SQLs among the 6 decisions on MQLs and SALs" in out
    assert "v1 → v2 (in force from 2026-08-01 10:00):" in out
    mqls = out.split("Missed: MQLs (first)", 1)[1].split("■ Inside sales", 1)[0]
    rows = [line.split() for line in mqls.splitlines() if line.strip().startswith(("v1 ", "v2 ")) and "→" not in line]
    assert rows == [["v1", "5", "2"], ["v2", "3", "—"]]  # the MQLs made under each version, now and before
    # field sales also holds P1, the SQL of 6/3 nobody took, for the whole quarter (61 business days)
    assert "Leads held: 100.0 bus. days in the period, 3 lead(s)" in out
    assert (
        "by stage: SQL 71.0 bus. days (2 stays ended in the period, median 5.0) · "
        "opportunity 29.0 bus. days (2 stays ended in the period, median 14.5)"
    ) in out


def test_json(db: str) -> None:
    code, out, _ = run(db, "accountability", "--period", "2026-Q3", "--now", AT, "--format", "json")
    assert code == 0
    found = json.loads(out)
    assert found["period"]["label"] == "2026-Q3" and found["previous_period"]["label"] == "2026-Q2"
    assert (found["view"], found["pact_versions_in_force"], found["rejections"], found["pending_disputes"]) == (
        "period",
        [1, 2],
        4,
        1,
    )
    departments = {d["department"]: d for d in found["departments"]}
    assert list(departments) == ["marketing", "inside_sales", "field_sales"]
    inside = departments["inside_sales"]
    assert (inside["breaches"]["decided"], inside["breaches"]["late"]) == (9, 3)
    assert inside["breaches"]["by_owner"][0] == {
        "owner": "山本",
        "late": 3,
        "decided": 4,
        "own_hours": pytest.approx(inside["breaches"]["by_owner"][0]["own_hours"]),
    }
    rate = next(m for m in inside["missed"] if m["kpi"] == "mql_to_sql_rate")
    assert (rate["numerator"], rate["denominator"], rate["target"], rate["met"], rate["short_by"]) == (
        2,
        6,
        0.5,
        False,
        1,
    )
    assert [(line["fault"], line["count"]) for line in rate["quality"]["lines"]] == [
        ("lead_quality", 2),
        ("sales_acceptance", 1),
        ("pending", 1),
    ]
    assert rate["quality"]["lines"][0]["reasons"][0]["sources"] == [{"source": "ad", "count": 2}]
    assert len(rate["quality"]["lines"][0]["reasons"][0]["entries"]) == 2  # the rejections' ledger entries
    assert (rate["speed"]["against"], rate["speed"]["against_after_late_clock"]) == (4, 2)
    assert [v["version"] for v in rate["definition"]["versions"]] == [1, 2]
    assert "MQL threshold 80 → 70" in rate["definition"]["changes"][0]["lines"]
    held = departments["field_sales"]["held"]
    assert (held["leads"], held["business_days"], held["still_held"]) == (3, pytest.approx(100), 1)
    quality = departments["marketing"]["rejections_charged"]
    assert [(c["charge"], c["count"]) for c in quality] == [("lead_quality", 2)]


def test_a_period_without_leads_says_so(db: str) -> None:
    code, out, _ = run(db, "--lang", "en", "accountability", "--period", "2025-10", "--now", AT)
    assert code == 0
    assert "no leads in 2025-10 (every count is 0)." in out
    assert "SLA breaches: none (of the 0 clocks it ran in the period)" in out and "Leads held: none" in out
    code, out, _ = run(db, "accountability", "--period", "2025-10", "--now", AT, "--format", "json")
    assert code == 0 and json.loads(out)["leads"] == 0


def test_bad_input_names_the_valid_choices(db: str) -> None:
    code, _, err = run(db, "accountability", "--period", "Q3", "--now", AT)
    assert code == 2 and "period 'Q3'" in err and "2026-Q3, 2026-10, 2026-10-01..2026-10-31" in err
    code, _, err = run(db, "accountability", "--period", "2026-Q3", "--format", "csv")
    assert code == 2 and "unknown format 'csv'; choose one of: table, json" in err
    code, _, err = run(db, "accountability", "--period", "2026-Q3", "--now", "2026-10-01")
    assert code == 2 and "needs an offset" in err


def test_before_any_pact_is_signed_it_is_refused(sqlite_url: str) -> None:
    code, _, err = run(sqlite_url, "accountability", "--period", "2026-Q3", "--now", AT)
    assert code == 1 and "pact" in err
    sign(sqlite_url)  # a pact signed (today), nothing happened since: zeros, not an error
    code, out, _ = run(sqlite_url, "--lang", "en", "accountability", "--now", "2030-01-01T09:00+09:00")
    assert code == 0 and "Accountability 2029-Q4" in out and "no leads in 2029-Q4" in out
    assert "Missed: MQLs (first) 0 (target 300)" in out and "the target needed 300 more MQLs" in out
    assert "volume: no MQLs in this period or the one before" in out
    assert "definition: pact v1 throughout this period and the one before: no change" in out


def test_a_jointly_owned_missed_kpi_is_decomposed_once(sqlite_url: str) -> None:
    app = bootstrap(Settings(database_url=sqlite_url), clock=FixedClock(NOW))
    build(app, JOINT)
    app.engine.dispose()
    code, out, _ = run(sqlite_url, "--lang", "en", "accountability", "--period", "2026-Q3", "--now", AT)
    assert code == 0
    marketing, inside = out.split("■ Inside sales", 1)
    assert "Missed: MQL → SQL rate 33.3% (2 of 6) (target 50.0%)" in marketing
    assert "Missed: MQL → SQL rate (owned jointly; decomposed under Marketing)" in inside
    assert out.count("shortfall: the target needed 1 more SQLs") == 1
