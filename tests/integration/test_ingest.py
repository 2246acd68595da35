"""Ingesting canonical events on the migrated store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.bootstrap import App
from leadpact.services.ingest import ingest
from leadpact.services.leads import show_lead
from tests.factories import event, lines, sign_example_pact

JST = timezone(timedelta(hours=9))
T1 = datetime(2026, 4, 6, 10, 0, tzinfo=JST)  # a Monday morning in Tokyo
FIT = {"company": "株式会社テスト製作所", "industry": "製造業", "employees": 300}


def marketing_events() -> list[dict[str, object]]:
    """Fit 25 pts (industry 15 + size 10); download 20, seminar 30, pricing view 10 + page view 2."""
    return [
        event("lead_upsert", T1 - timedelta(days=1), id="u1", attributes=FIT),
        event("activity", T1, id="a1", activity="document_download"),
        event("activity", T1 + timedelta(hours=1), id="a2", activity="seminar_attended"),
        event("activity", T1 + timedelta(hours=2), id="a3", activity="page_view", properties={"url": "/pricing"}),
        event("activity", T1 + timedelta(hours=3), id="a4", activity="page_view", properties={"url": "/about"}),
    ]


def mql_entries(app: App) -> list[tuple[datetime, dict[str, object], int | None]]:
    view = show_lead(app.store(), "taro@example.co.jp", app.clock.now())
    return [
        (i.at, dict(i.entry.evidence), i.pact_version)
        for i in view.timeline
        if i.entry is not None and i.entry.to_stage == "mql"
    ]


def test_a_lead_becomes_mql_at_the_time_of_the_activity_that_met_the_criteria(app: App) -> None:
    sign_example_pact(app)
    report = ingest(app.engine, app.clock, lines(marketing_events()))
    assert (report.created, report.unchanged, report.rejected, report.transitions) == (5, 0, [], 1)
    ((at, evidence, version),) = mql_entries(app)
    # at a2: 25 + 20·0.5^(1h/90d) + 30 = 74.99 < 80; at a3: + 10 + 2 → 86.98
    assert at == T1 + timedelta(hours=2)
    assert version == 1
    score = evidence["score"]
    assert isinstance(score, dict)
    expected = 25 + 20 * 0.5 ** (2 / (90 * 24)) + 30 * 0.5 ** (1 / (120 * 24)) + 10 + 2
    assert score["total"] == pytest.approx(expected, abs=1e-6)
    assert {r["rule"]: r["points"] for r in score["rules"]}["pricing_page"] == 10  # type: ignore[index]
    assert evidence["trigger"] == {"event": "a3", "activity": "page_view"}


def test_an_activity_arriving_late_still_dates_the_mql_at_the_crossing(app: App) -> None:
    sign_example_pact(app)
    upsert, download, seminar, pricing, _ = marketing_events()
    ingest(app.engine, app.clock, lines([upsert, pricing]))
    assert mql_entries(app) == []
    ingest(app.engine, app.clock, lines([seminar]))  # 25 + 30 + 12 = 67, no download yet
    assert mql_entries(app) == []
    ingest(app.engine, app.clock, lines([download]))
    ((at, _, _),) = mql_entries(app)
    assert at == T1 + timedelta(hours=2)


def test_running_the_same_file_twice_changes_nothing(app: App) -> None:
    sign_example_pact(app)
    events = lines(marketing_events())
    ingest(app.engine, app.clock, events)
    with app.engine.connect() as c:
        before = [c.execute(select(func.count()).select_from(table)).scalar_one() for table in t.metadata.sorted_tables]
    again = ingest(app.engine, app.clock, events)
    assert (again.created, again.unchanged, again.rejected) == (0, 5, [])
    with app.engine.connect() as c:
        after = [c.execute(select(func.count()).select_from(table)).scalar_one() for table in t.metadata.sorted_tables]
    assert after == before


def test_bad_lines_are_rejected_with_their_numbers_and_the_rest_applies(app: App) -> None:
    sign_example_pact(app)
    events: list[dict[str, object] | str] = [
        event("lead_upsert", T1, id="u1", attributes=FIT),
        "{not json",
        event("activity", T1, id="a1", activity="document_download"),
        {
            "id": "x",
            "source": "test",
            "type": "activity",
            "at": "2026-04-06T10:00:00",
            "lead": {"email": "a@b.jp"},
            "activity": "page_view",
        },
        event("stage_change", T1, id="s1", to="won", by="鈴木"),
        event("activity", T1, lead="not-an-email@", id="a2", activity="page_view"),
        event("assignment", T1, lead="nobody@example.co.jp", id="s2", to="田中"),
        event("assignment", T1, id="s3", to="山田"),
    ]
    report = ingest(app.engine, app.clock, lines(events))
    assert report.created == 2
    assert [(r.line, r.event_id) for r in sorted(report.rejected, key=lambda r: r.line)] == [
        (2, None),
        (4, "x"),
        (5, "s1"),
        (6, "a2"),
        (7, "s2"),
        (8, "s3"),
    ]
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons[2].startswith("not valid JSON, column 2")
    assert reasons[4] == "at: Input should have timezone info"
    assert reasons[5] == "a lead cannot move from lead to won; from lead it may go to: mql, sql, disqualified"
    assert "is not an e-mail address" in reasons[6]
    assert reasons[7] == "unknown lead nobody@example.co.jp; a assignment event needs an existing lead"
    assert reasons[8] == "unknown user '山田'; add them with `leadpact user add`"


def test_an_event_id_reused_with_other_content_is_rejected(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines([event("activity", T1, id="a1", activity="page_view")]))
    report = ingest(app.engine, app.clock, lines([event("activity", T1, id="a1", activity="email_click")]))
    assert report.created == 0
    assert "already applied with different content" in report.rejected[0].reason


def test_the_same_person_named_by_email_and_by_vendor_id_is_one_lead(app: App) -> None:
    sign_example_pact(app)
    first = event("lead_upsert", T1, lead="Taro@EXAMPLE.co.jp", id="u1", attributes=FIT)
    first["lead"] = {"email": "Ｔａｒｏ＠example.co.jp", "system": "hubspot", "id": "101"}
    ingest(app.engine, app.clock, lines([first, event("activity", T1, lead="101", id="a1", activity="page_view")]))
    view = show_lead(app.store(), "taro@example.co.jp", app.clock.now())
    assert view.lead.email == "taro@example.co.jp"
    assert view.refs == [("hubspot", "101")]
    assert [i.text for i in view.timeline if i.kind == "activity"] == ["page_view"]


def qualified_lead(app: App) -> None:
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()))
    ingest(
        app.engine,
        app.clock,
        lines(
            [
                event("assignment", T1 + timedelta(hours=4), id="s1", to="田中"),
                event("stage_change", T1 + timedelta(hours=5), id="s2", to="sal", by="田中"),
            ]
        ),
    )


def test_sql_needs_the_sql_criteria(app: App) -> None:
    qualified_lead(app)
    later = T1 + timedelta(days=1)
    refused = ingest(app.engine, app.clock, lines([event("stage_change", later, id="q1", to="sql", by="田中")]))
    assert refused.rejected[0].reason.startswith("the SQL criteria of pact v1 do not hold: BANT confirmed 0 of 4 >= 2")
    report = ingest(
        app.engine,
        app.clock,
        lines(
            [
                event("activity", later, id="q2", activity="quote_request"),
                event(
                    "bant_update",
                    later,
                    id="q3",
                    by="田中",
                    budget=True,
                    timeline=True,
                    facts={"decision_maker_access": True},
                ),
                event("stage_change", later + timedelta(minutes=5), id="q4", to="sql", by="田中"),
            ]
        ),
    )
    assert report.rejected == []
    view = show_lead(app.store(), "taro@example.co.jp", app.clock.now())
    assert view.lead.stage.value == "sql"
    entry = next(i.entry for i in view.timeline if i.entry is not None and i.entry.to_stage == "sql")
    assert entry.override is False
    assert entry.evidence["bant"] == {
        "bant": {"budget": True, "authority": False, "need": False, "timeline": True},
        "facts": {"decision_maker_access": True},
    }


def test_a_manager_may_override_the_sql_criteria_with_a_reason(app: App) -> None:
    qualified_lead(app)
    later = T1 + timedelta(days=1)
    plain = event("stage_change", later, id="o1", to="sql", by="田中", override=True, note="社長案件")
    assert "only a manager may override" in ingest(app.engine, app.clock, lines([plain])).rejected[0].reason
    users_event = event("stage_change", later, id="o2", to="sql", by="佐藤", override=True, note="社長紹介")
    # 佐藤 is a marketing manager: the move itself belongs to inside sales.
    assert (
        "may not move a lead from sal to sql" in ingest(app.engine, app.clock, lines([users_event])).rejected[0].reason
    )
    from leadpact.services import users

    users.add_user(app.store(), app.clock, "小林", "inside_sales", is_manager=True)
    silent = event("stage_change", later, id="o3", to="sql", by="小林", override=True)
    assert "an override needs a reason" in ingest(app.engine, app.clock, lines([silent])).rejected[0].reason
    ok = event("stage_change", later, id="o4", to="sql", by="小林", override=True, note="社長からの紹介案件")
    assert ingest(app.engine, app.clock, lines([ok])).rejected == []
    view = show_lead(app.store(), "taro@example.co.jp", app.clock.now())
    entry = next(i.entry for i in view.timeline if i.entry is not None and i.entry.to_stage == "sql")
    assert entry.override is True and entry.note == "社長からの紹介案件" and entry.actor == "小林"


def test_recycling_needs_a_reason_and_a_recycled_lead_requalifies_later(app: App) -> None:
    qualified_lead(app)
    later = T1 + timedelta(days=2)
    report = ingest(
        app.engine,
        app.clock,
        lines(
            [
                event("stage_change", later, id="r1", to="recycled", by="田中"),
                event("stage_change", later, id="r2", to="recycled", by="田中", reason="no_budget", note="来期予算"),
                event("activity", later + timedelta(days=1), id="r3", activity="seminar_attended"),
            ]
        ),
    )
    assert [r.event_id for r in report.rejected] == ["r1"]
    assert "needs a recycle reason code: no_budget, bad_timing" in report.rejected[0].reason
    stages = [
        (i.entry.from_stage, i.entry.to_stage)
        for i in show_lead(app.store(), "taro@example.co.jp", app.clock.now()).timeline
        if i.entry is not None and i.entry.kind.value == "transition"
    ]
    assert stages == [("lead", "mql"), ("mql", "sal"), ("sal", "recycled"), ("recycled", "mql")]


def test_a_late_attribute_update_dates_the_mql_at_the_first_moment_everything_held(app: App) -> None:
    sign_example_pact(app)
    upsert, download, seminar, pricing, about = marketing_events()
    no_fit = event("lead_upsert", T1 - timedelta(days=2), id="u0", attributes={"industry": "小売業"})
    ingest(app.engine, app.clock, lines([no_fit, download, seminar, pricing, about]))
    assert mql_entries(app) == []
    # the fit arrives later but is dated the day before the activities
    ingest(app.engine, app.clock, lines([upsert]))
    ((at, _, _),) = mql_entries(app)
    assert at == T1 + timedelta(hours=2)


def test_the_same_event_reexported_with_other_key_order_is_unchanged(app: App) -> None:
    sign_example_pact(app)
    first = event("activity", T1, id="a1", activity="page_view", properties={"url": "/a", "ref": "ad"})
    reordered = dict(reversed(list(first.items())))
    reordered["properties"] = {"ref": "ad", "url": "/a"}
    ingest(app.engine, app.clock, lines([first]))
    again = ingest(app.engine, app.clock, lines([reordered]))
    assert (again.created, again.unchanged, again.rejected) == (0, 1, [])


def test_a_new_pact_applies_from_its_activation(app: App) -> None:
    sign_example_pact(app)
    upsert, download, seminar, _, _ = marketing_events()
    other = event("activity", T1, lead="hanako@example.co.jp", id="b1", activity="seminar_attended")
    ingest(app.engine, app.clock, lines([upsert, download, seminar, other]))
    assert mql_entries(app) == []  # 25 + 20 + 30 = 75 < 80 under v1
    # a day after the seminar the score has barely decayed: 74.6 (the same lead in October would be cold)
    app.clock.at = T1 + timedelta(days=1)  # type: ignore[attr-defined]
    from tests.factories import example_document

    v2 = sign_example_pact(app, example_document(("score_threshold: 80", "score_threshold: 70")))
    ((at, evidence, version),) = mql_entries(app)
    assert (at, version) == (app.clock.now(), v2)
    assert evidence["trigger"] == {"event": "pact_activated", "pact_version": 2}
    hanako = show_lead(app.store(), "hanako@example.co.jp", app.clock.now())
    assert hanako.lead.stage.value == "lead"  # no fit attributes: still short of the criteria


def test_a_backdated_sql_move_is_judged_on_what_had_happened_by_then(app: App) -> None:
    qualified_lead(app)
    may, august = T1 + timedelta(days=30), T1 + timedelta(days=120)
    bant = event("bant_update", may, id="b1", by="田中", budget=True, need=True, facts={"decision_maker_access": True})
    quote = event("activity", august, id="q1", activity="quote_request")
    backdated = event("stage_change", may, id="q2", to="sql", by="田中")
    report = ingest(app.engine, app.clock, lines([bant, quote, backdated]))
    assert [r.event_id for r in report.rejected] == ["q2"]
    assert "any of consultation_request, quote_request" in report.rejected[0].reason


def test_an_attribute_change_rewrites_the_stored_score(app: App) -> None:
    # The incremental rescore reuses the stored attribute points, so every attribute change
    # must rewrite them, even with no new activity.
    sign_example_pact(app)
    ingest(app.engine, app.clock, lines(marketing_events()[:2]))  # fit 25, download 20

    def stored() -> tuple[float, float]:
        with app.engine.connect() as connection:
            row = connection.execute(select(t.lead_scores.c.attributes, t.lead_scores.c.total)).one()
        return row.attributes, row.total

    assert stored() == (25.0, 45.0)
    smaller = {**FIT, "employees": 20}  # the size rule (10 pts) no longer holds
    ingest(app.engine, app.clock, lines([event("lead_upsert", T1 + timedelta(days=1), attributes=smaller)]))
    assert stored() == (15.0, 35.0)


def test_a_missing_score_is_rebuilt_without_touching_the_lead(app: App) -> None:
    # After an upgrade empties lead_scores, loading a lead writes its score row again; a refused
    # event changes nothing about the lead itself, so its version (the optimistic lock) stays.
    qualified_lead(app)
    with app.engine.begin() as connection:
        connection.execute(t.lead_scores.delete())
        version = connection.execute(select(t.leads.c.version)).scalar_one()
    refused = ingest(
        app.engine, app.clock, lines([event("stage_change", T1 + timedelta(days=1), id="r1", to="sql", by="田中")])
    )
    assert len(refused.rejected) == 1
    with app.engine.connect() as connection:
        assert connection.execute(select(t.leads.c.version)).scalar_one() == version
        assert connection.execute(select(func.count()).select_from(t.lead_scores)).scalar_one() == 1
