"""Two processes that find the same leads to be one person at the same time merge each pair once."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.events import read_lines
from leadpact.bootstrap import App, bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.services.ingest import ingest
from leadpact.services.ledger import verify_ledger
from tests.factories import lines, sign_example_pact

START = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
PAIRS = 120  # enough batches that the two writers overlap


def _ingest_file(url: str, path: str) -> tuple[int, int]:
    app = bootstrap(Settings(database_url=url), clock=FixedClock(START + timedelta(days=30)), migrate=False)
    with open(path, "rb") as stream:
        report = ingest(app.engine, app.clock, read_lines(stream), batch_size=10)
    app.engine.dispose()
    assert report.rejected == []
    return report.created, report.leads_merged


def _upsert(source: str, i: int, lead: dict[str, str], at: datetime) -> dict[str, object]:
    return {
        "id": f"{source}{i}",
        "source": source,
        "at": at.isoformat(),
        "lead": lead,
        "type": "lead_upsert",
        "attributes": {"company": f"株式会社テスト{i % 7}"},
    }


def test_two_writers_naming_the_same_pairs_merge_each_pair_once(app: App, database_url: str, tmp_path: Path) -> None:
    sign_example_pact(app)
    first = [_upsert("web", i, {"email": f"p{i}@c{i % 7}.co.jp"}, START) for i in range(PAIRS)]
    first += [
        _upsert("hubspot", i, {"system": "hubspot", "id": str(i)}, START + timedelta(hours=1)) for i in range(PAIRS)
    ]
    assert ingest(app.engine, app.clock, lines(first)).rejected == []
    paths = []
    for source in ("sfdc", "marketo"):
        both = [
            _upsert(source, i, {"email": f"P{i}@C{i % 7}.co.jp", "system": "hubspot", "id": str(i)}, START)
            for i in range(PAIRS)
        ]
        path = tmp_path / f"{source}.jsonl"
        path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in both), encoding="utf-8")
        paths.append(str(path))
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(_ingest_file, [(database_url, p) for p in paths])
    assert [created for created, _ in results] == [PAIRS, PAIRS]
    assert sum(merged for _, merged in results) == PAIRS
    with app.engine.connect() as c:
        live = select(func.count()).select_from(t.identity_merges).where(t.identity_merges.c.undone_at.is_(None))
        assert c.execute(live).scalar_one() == PAIRS
        refs = select(func.count(func.distinct(t.lead_refs.c.lead_id)))
        assert c.execute(refs).scalar_one() == PAIRS
        assert c.execute(select(func.count()).select_from(t.companies)).scalar_one() == 7
    checked, broken = verify_ledger(app.store())
    assert broken is None and checked == 2 * PAIRS
