"""An activity import folds its leads' scores once, when the run ends (services/import_scores.py):
the scores it leaves are those a full rebuild gives, whether the run finished at once or was cut
off and resumed, and an MQL crossing in any batch is found and dated at its activity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.store import Store
from leadpact.adapters.importers.mapping import load_import_mapping
from leadpact.bootstrap import App
from leadpact.services.imports import import_file
from leadpact.services.rescore import rescore_active, rescore_leads
from tests.conftest import ROOT
from tests.factories import CutOff, cut_off_after, sign_example_pact, stored_scores

DATA = ROOT / "tests" / "data"

LEADS = 40
# Rows cycle over the leads: page views (some of pricing pages), downloads, seminars, e-mail clicks.
KINDS = [
    ("1", "www.example.jp/pricing"),
    ("1", "www.example.jp/blog"),
    ("2", "資料請求フォーム"),
    ("2", "セミナー申込"),
]


def leads_file(path: Path) -> Path:
    lines = ["id,email,industry,numberOfEmployees"]
    lines += [
        f"{9000 + i},p{i}@scores.example.jp,{'製造業' if i % 2 else '小売業'},{50 + 20 * i}" for i in range(LEADS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def activities_file(path: Path, rows: int) -> Path:
    lines = ["marketoGUID,leadId,activityDate,activityTypeId,primaryAttributeValue"]
    for i in range(rows):
        kind, primary = KINDS[i % len(KINDS)]
        lead = 9000 + (i * 7) % LEADS
        lines.append(f"s{i},{lead},2026-09-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,{kind},{primary}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rebuilt(app: App) -> dict[int, tuple[Any, ...]]:
    rescore_active(app.engine, app.clock.now())
    return stored_scores(app)


def prepared(app: App, tmp_path: Path) -> None:
    sign_example_pact(app)
    import_file(app.engine, app.clock, leads_file(tmp_path / "leads.csv"), "marketo-leads")


def run(app: App, tmp_path: Path, path: Path, **options: Any) -> Any:
    mapping = load_import_mapping(DATA / "marketo" / "mapping.yaml")  # forms named as downloads and seminars
    return import_file(app.engine, app.clock, path, "marketo-activities", mapping=mapping, **options)


def test_an_activity_import_leaves_the_scores_a_full_rebuild_gives(app: App, tmp_path: Path) -> None:
    prepared(app, tmp_path)
    report = run(app, tmp_path, activities_file(tmp_path / "a.csv", 300), batch_size=25)
    assert report.created == 300
    after = stored_scores(app)
    assert after == rebuilt(app)
    assert len(after) == LEADS


def test_an_import_cut_off_owes_its_leads_their_scores_until_it_is_resumed(app: App, tmp_path: Path) -> None:
    prepared(app, tmp_path)
    path = activities_file(tmp_path / "a.csv", 300)

    before = stored_scores(app)
    with pytest.raises(CutOff):
        run(app, tmp_path, path, batch_size=25, progress=cut_off_after(4))
    assert stored_scores(app) == before  # 100 rows committed, not yet counted in any score
    resumed = run(app, tmp_path, path, batch_size=25)
    assert (resumed.resumed_after, resumed.rows, resumed.created) == (101, 300, 300)
    assert stored_scores(app) == rebuilt(app)


def test_a_crossing_in_a_batch_committed_before_a_cut_off_is_found_on_resuming(app: App, tmp_path: Path) -> None:
    prepared(app, tmp_path)
    # Lead 9001 (manufacturing, fit 15): a download, a seminar and pricing pages cross 80 at the
    # second pricing page, in the first batch; the rest of the file is another lead's.
    lines = ["marketoGUID,leadId,activityDate,activityTypeId,primaryAttributeValue"]
    lines += [
        "c1,9001,2026-09-10T01:00:00Z,2,資料請求フォーム",
        "c2,9001,2026-09-10T02:00:00Z,2,セミナー申込",
        "c3,9001,2026-09-10T03:00:00Z,1,www.example.jp/pricing",
        "c4,9001,2026-09-10T04:00:00Z,1,www.example.jp/pricing",
    ]
    lines += [f"o{i},9002,2026-09-11T{i % 24:02d}:00:00Z,1,www.example.jp/blog" for i in range(8)]
    path = tmp_path / "crossing.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(CutOff):
        run(app, tmp_path, path, batch_size=4, progress=cut_off_after(1))
    with Store(app.engine) as store:
        assert store.leads.get(store.leads.ids_by_ref("marketo", {"9001"})["9001"]).stage.value == "lead"
    resumed = run(app, tmp_path, path, batch_size=4)
    assert resumed.transitions == 1
    with Store(app.engine) as store:
        lead = store.leads.get(store.leads.ids_by_ref("marketo", {"9001"})["9001"])
    assert (lead.stage.value, lead.stage_changed_at) == ("mql", datetime(2026, 9, 10, 4, 0, tzinfo=UTC))


@pytest.mark.parametrize("batch_from", [0, 10**9], ids=["batch-engine", "in-process"])
def test_rescoring_some_leads_gives_them_what_a_full_rebuild_gives_and_leaves_the_others(
    app: App, tmp_path: Path, batch_from: int
) -> None:
    prepared(app, tmp_path)
    run(app, tmp_path, activities_file(tmp_path / "a.csv", 200), batch_size=50)
    full = rebuilt(app)
    with app.engine.begin() as c:  # spoil every score, then rescore half of the leads
        c.execute(t.lead_scores.update().values(total=-1.0, behaviour=-1.0))
    spoiled = stored_scores(app)
    some = sorted(full)[::2]
    with Store(app.engine) as store:
        active = store.pacts.active()
    assert active is not None
    rescore_leads(app.engine, active.pact, active.version, some, app.clock.now(), batch_from=batch_from)
    after = stored_scores(app)
    assert {lead: after[lead] for lead in some} == {lead: full[lead] for lead in some}
    others = set(full) - set(some)
    assert {lead: after[lead] for lead in others} == {lead: spoiled[lead] for lead in others}
