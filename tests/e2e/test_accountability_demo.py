"""`leadpact accountability` on a small demo tells the demo's story (issue 5's acceptance).

The demo's inside sales reps differ by habit (services.demo.INSIDE_SALES: how long each takes to
call, how often they never do), and ad leads are recycled for "no budget" more often. The report
must show it: the slow reps' late clocks land on inside sales, and marketing's lead-quality line
names, for "no budget", the sources the data has. Every expectation is derived from the data or
from the reps' habits, never a number read off a demo run.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadpact.adapters.db.store import Store
from leadpact.bootstrap import bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.services.demo import INSIDE_SALES, run_demo
from tests.e2e.test_cli import run

NOW = "2026-10-01T09:00+09:00"  # the morning after the demo's half year


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("accountability-demo") / "demo.db"
    built = bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=FixedClock(datetime(2026, 10, 1, tzinfo=UTC)))
    run_demo(built.engine, leads=1000, seed=7)
    with Store(built.engine) as store:
        sources = {lead.id: lead.attributes.get("source") for lead in _leads(store)}
        no_budget = [
            (entry.lead_id, entry.department)
            for lead_id in sources
            for _, entry in store.ledger.of_lead(lead_id)
            if entry.to_stage == "recycled"
            and entry.reason == "no_budget"
            and "2026-07-01" <= _day(entry.at) < "2026-10-01"
        ]
    built.engine.dispose()
    code, out, _ = run(f"sqlite:///{path}", "accountability", "--period", "2026-Q3", "--now", NOW, "--format", "json")
    assert code == 0
    return {"path": path, "report": json.loads(out), "sources": sources, "no_budget": no_budget}


def _leads(store: Store) -> list[Any]:
    return list(store.leads.get_many(range(1, store.leads.count() + 1)).values())


def _day(at: datetime) -> str:
    return f"{at.astimezone(ZoneInfo('Asia/Tokyo')):%Y-%m-%d}"


def _department(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in report["departments"] if d["department"] == name)


def test_the_slow_reps_breaches_land_on_inside_sales(demo: dict[str, Any]) -> None:
    report = demo["report"]
    reps = {rep.name for rep in INSIDE_SALES}
    slowest = max(INSIDE_SALES, key=lambda rep: (rep.median_hours, rep.neglect)).name
    fastest = min(INSIDE_SALES, key=lambda rep: (rep.median_hours, rep.neglect)).name
    inside = _department(report, "inside_sales")["breaches"]
    late = {o["owner"]: o for o in inside["by_owner"]}
    assert inside["by_owner"][0]["owner"] == slowest  # the most breaches
    share = {name: late[name]["late"] / late[name]["decided"] for name in reps if name in late}
    assert share[slowest] == max(share.values()) and share[fastest] == min(share.values())
    assert {c["clock"] for c in inside["by_clock"] if c["late"]} == {"is_first_contact"}
    for other in ("marketing", "field_sales"):  # no rep of inside sales is charged anywhere else
        charged = {o["owner"] for o in _department(report, other)["breaches"]["by_owner"] if o["late"]}
        assert not charged & reps, other
    # and the time of those late clocks was inside sales' own: the reps had the leads from the start
    assert inside["split"]["routing_hours"] == 0 and inside["split"]["own_hours"] > 0


def test_marketings_quality_line_names_the_sources_of_no_budget_rejections(demo: dict[str, Any]) -> None:
    report, sources = demo["report"], demo["sources"]
    expected = Counter(sources[lead] for lead, department in demo["no_budget"] if department != "marketing")
    assert expected, "a thousand leads always give some no-budget rejections in a quarter"
    (quality,) = _department(report, "marketing")["rejections_charged"]
    assert quality["charge"] == "lead_quality"  # nobody disputed anything in the demo
    (line,) = [r for r in quality["reasons"] if r["reason"] == "no_budget"]
    assert {s["source"]: s["count"] for s in line["sources"]} == dict(expected)
    assert line["sources"][0]["count"] == max(expected.values())  # the source with the most comes first
    assert line["count"] == sum(expected.values())


def test_the_table_tells_it_to_a_reader(demo: dict[str, Any]) -> None:
    code, out, _ = run(f"sqlite:///{demo['path']}", "accountability", "--period", "2026-Q3", "--now", NOW)
    assert code == 0
    slowest = max(INSIDE_SALES, key=lambda rep: (rep.median_hours, rep.neglect)).name
    inside = out.split("■ インサイドセールス部", 1)[1].split("■ 営業部", 1)[0]
    assert f"担当者別(期限内に対応した時点、または期限の時点の担当者): {slowest}" in inside
    marketing = out.split("■ マーケティング部", 1)[1].split("■ インサイドセールス部", 1)[0]
    assert "計上された却下(リード品質)" in marketing and "予算なし (no_budget)" in marketing
