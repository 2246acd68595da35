"""The feedback report on the migrated store (SQLite and PostgreSQL), on a small hand-built quarter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from leadpact.bootstrap import App
from leadpact.domain.disputes import Outcome, RejectionStatus
from leadpact.domain.feedback import GroupBy
from leadpact.domain.lifecycle import Stage
from leadpact.domain.period import UnknownPeriod
from leadpact.services import users
from leadpact.services.disputes import open_dispute, resolve_dispute
from leadpact.services.feedback import feedback_report
from leadpact.services.ingest import ingest
from leadpact.services.rejections import reject_lead
from tests.factories import event, lines, sign_example_pact
from tests.integration.test_ingest import FIT, JST

MQL_DAY = datetime(2026, 6, 29, 10, 0, tzinfo=JST)


def qualified(email: str, source: str | None, campaign: str | None, seminar_last: bool = False) -> list[dict[str, Any]]:
    """A fitting lead that becomes an MQL at MQL_DAY + 2 h: by a pricing page view, or (`seminar_last`) by a
    seminar. Fit 25, download 20, seminar 30, pricing 10 + page 2: about 87 ≥ 80 either way."""
    attributes = {**FIT, **({"source": source} if source else {}), **({"campaign": campaign} if campaign else {})}
    download = ("document_download", {"asset": "導入事例集"})
    seminar = ("seminar_attended", {"seminar": "DX講座"})
    pricing = ("page_view", {"url": "https://www.example.co.jp/pricing?utm_source=mail"})
    order = (download, pricing, seminar) if seminar_last else (download, seminar, pricing)
    return [
        event("lead_upsert", MQL_DAY - timedelta(days=1), lead=email, attributes=attributes),
        *(
            event("activity", MQL_DAY + timedelta(hours=i), lead=email, activity=kind, properties=properties)
            for i, (kind, properties) in enumerate(order)
        ),
    ]


def quarter(app: App) -> None:
    """Six MQLs of 6/29 and what sales did with them around the start of 2026-Q3 (Tokyo time).

    a (ad)       recycled no_budget by 田中 at 7/1 00:10 JST (still 6/30 in UTC), noted: in Q3
    b (ad)       recycled no_budget by the CRM itself (no `by`), 7/2: in Q3, charged to inside sales
    c (seminar)  disqualified by 田中 at 6/30 23:30 JST: in Q2
    d (seminar)  recycled by 佐藤 of marketing, 7/3: marketing's own move, no rejection
    e (seminar)  accepted, then disqualified competitor by 田中 7/3, noted, disputed (pending): in Q3
    f (none)     recycled bad_timing by 田中 7/4 (an MQL by the seminar), disputed and upheld: in Q3
    """
    sign_example_pact(app)
    users.add_user(app.store(), app.clock, "小林", "inside_sales", None, True)
    events = [
        *qualified("a@example.co.jp", "ad", "リスティング"),
        *qualified("b@example.co.jp", "ad", "リスティング"),
        *qualified("c@example.co.jp", "seminar", "DX講座"),
        *qualified("d@example.co.jp", "seminar", "DX講座"),
        *qualified("e@example.co.jp", "seminar", "DX講座"),
        *qualified("f@example.co.jp", None, None, seminar_last=True),
        event(
            "stage_change",
            datetime(2026, 7, 2, 9, 0, tzinfo=JST),
            lead="b@example.co.jp",
            to="recycled",
            reason="no_budget",
        ),
        event("stage_change", datetime(2026, 6, 30, 9, 0, tzinfo=JST), lead="e@example.co.jp", to="sal", by="田中"),
    ]
    ingest(app.engine, app.clock, lines(events))

    def send_back(email: str, at: datetime, to: Stage, by: str, reason: str, note: str) -> None:
        reject_lead(app.engine, at, email, to, by, reason, note)

    send_back(
        "a@example.co.jp", datetime(2026, 7, 1, 0, 10, tzinfo=JST), Stage.RECYCLED, "田中", "no_budget", "予算は来期"
    )
    send_back(
        "c@example.co.jp",
        datetime(2026, 6, 30, 23, 30, tzinfo=JST),
        Stage.DISQUALIFIED,
        "田中",
        "out_of_target",
        "小売業",
    )
    send_back(
        "d@example.co.jp", datetime(2026, 7, 3, 9, 0, tzinfo=JST), Stage.RECYCLED, "佐藤", "bad_timing", "配信停止"
    )
    send_back(
        "e@example.co.jp",
        datetime(2026, 7, 3, 10, 0, tzinfo=JST),
        Stage.DISQUALIFIED,
        "田中",
        "competitor",
        "競合の社員",
    )
    send_back(
        "f@example.co.jp", datetime(2026, 7, 4, 10, 0, tzinfo=JST), Stage.RECYCLED, "田中", "bad_timing", "来年度"
    )
    later = datetime(2026, 7, 10, 10, 0, tzinfo=JST)
    open_dispute(app.engine, later, "e@example.co.jp", "佐藤", "競合ではない")
    dispute = open_dispute(app.engine, later, "f@example.co.jp", "佐藤", "時期は合っている").dispute.id
    resolve_dispute(app.engine, later + timedelta(hours=1), dispute, Outcome.UPHELD, "小林", "妥当")


def statuses(undisputed: int = 0, pending: int = 0, upheld: int = 0) -> dict[RejectionStatus, int]:
    return {
        RejectionStatus.UNDISPUTED: undisputed,
        RejectionStatus.PENDING: pending,
        RejectionStatus.UPHELD: upheld,
        RejectionStatus.OVERTURNED: 0,
    }


def test_a_quarter_of_rejections_by_source(app: App) -> None:
    quarter(app)
    report = feedback_report(app.store(), "2026-Q3", GroupBy.SOURCE)
    assert (report.period.label, report.total) == ("2026-Q3", 4)  # a, b, e, f
    assert report.statuses == statuses(undisputed=2, pending=1, upheld=1)
    ad, seminar, none = report.groups
    assert (ad.key, ad.count, ad.share, ad.recycled, ad.disqualified) == ("ad", 2, 0.5, 2, 0)
    ((kind, code, count, share),) = [(r.kind, r.code, r.count, r.share) for r in ad.reasons]
    assert (kind, code, count, share) == ("recycle", "no_budget", 2, 1.0)
    assert [(e.note, e.actor) for e in ad.reasons[0].examples] == [("予算は来期", "田中")]  # the CRM gave no note
    assert (seminar.key, seminar.count, seminar.share, [r.code for r in seminar.reasons]) == (
        "seminar",
        1,
        0.25,
        ["competitor"],
    )
    assert seminar.statuses == statuses(pending=1)
    assert (none.key, none.count, none.statuses) == (None, 1, statuses(upheld=1))
    assert report.labels[("recycle", "no_budget")].label == "予算なし"
    assert report.labels[("disqualify", "competitor")].label_en == "Competitor"


def test_by_campaign_and_by_content(app: App) -> None:
    quarter(app)
    by_campaign = feedback_report(app.store(), "2026-Q3", GroupBy.CAMPAIGN)
    assert [(g.key, g.count) for g in by_campaign.groups] == [("リスティング", 2), ("DX講座", 1), (None, 1)]
    by_content = feedback_report(app.store(), "2026-Q3", GroupBy.CONTENT)
    assert [(g.key, g.count) for g in by_content.groups] == [
        ("page_view: https://www.example.co.jp/pricing", 3),  # a, b, e: the pricing page made them MQLs
        ("seminar_attended: DX講座", 1),  # f
    ]


def test_the_period_is_read_in_the_pact_calendar_time_zone(app: App) -> None:
    quarter(app)
    q2 = feedback_report(app.store(), "2026-Q2", GroupBy.SOURCE)
    ((seminar,),) = [q2.groups]
    assert (q2.total, seminar.key, seminar.reasons[0].code) == (1, "seminar", "out_of_target")  # c, 6/30 23:30 JST
    july_first = feedback_report(app.store(), "2026-07-01..2026-07-01", GroupBy.SOURCE)
    assert [(g.key, g.count) for g in july_first.groups] == [("ad", 1)]  # a, at 00:10 JST


def test_a_period_without_rejections_has_no_groups_and_a_bad_one_names_the_forms(app: App) -> None:
    quarter(app)
    empty = feedback_report(app.store(), "2026-Q1", GroupBy.SOURCE)
    assert (empty.total, empty.groups, empty.statuses) == (0, (), statuses())
    with pytest.raises(UnknownPeriod, match="write one of: 2026, 2026-H1, 2026-Q3"):
        feedback_report(app.store(), "2026-Q5", GroupBy.SOURCE)
