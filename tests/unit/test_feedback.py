"""The feedback summary: what content a lead came through, and rejections grouped with shares and disputes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadpact.domain.disputes import Charge, RejectionStatus, RejectionVerdict
from leadpact.domain.feedback import Example, FeedbackItem, GroupBy, content_of, summarise, tipping_activity
from leadpact.domain.lifecycle import Stage
from leadpact.domain.rejection import Rejection
from leadpact.domain.scoring import Activity

T0 = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("activity", "content"),
    [
        (
            Activity("document_download", T0, {"asset": "導入事例集", "campaign": "2026Q3"}),
            "document_download: 導入事例集",
        ),
        (
            Activity("seminar_attended", T0, {"seminar": "営業DX入門", "duration_min": 60}),
            "seminar_attended: 営業DX入門",
        ),
        (Activity("booth_visit", T0, {"exhibition": "DX展"}), "booth_visit: DX展"),
        (Activity("consultation_request", T0, {"form": "個別相談"}), "consultation_request: 個別相談"),
        # tagged links to one page are one page
        (
            Activity("page_view", T0, {"url": "https://x.example/lp?utm_source=ads#top", "title": "LP"}),
            "page_view: https://x.example/lp",
        ),
        (Activity("page_view", T0, {"title": "料金プラン"}), "page_view: 料金プラン"),
        (Activity("email_click", T0, {"asset": "  "}), "email_click"),  # blank values name nothing
        (Activity("unsubscribed", T0, {}), "unsubscribed"),
        (None, None),
    ],
)
def test_content_is_the_activity_named_by_its_asset_event_form_or_page(
    activity: Activity | None, content: str | None
) -> None:
    assert content_of(activity) == content


DOWNLOAD = Activity("document_download", T0, {"asset": "a"})
PRICING = Activity("page_view", T0 + H, {"url": "/pricing"})
SEMINAR = Activity("seminar_attended", T0 + H, {"seminar": "s"})
LATER = Activity("page_view", T0 + 2 * H, {"url": "/about"})


@pytest.mark.parametrize(
    ("at", "prefer", "expected"),
    [
        (T0 + H, "page_view", PRICING),  # the MQL's own activity: its trigger's type at that instant
        (T0 + H, "seminar_attended", SEMINAR),
        (T0 + H, None, SEMINAR),  # no trigger recorded: the last of that instant
        (T0 + timedelta(minutes=90), None, SEMINAR),  # a handoff between activities: the one before
        (T0, "page_view", DOWNLOAD),
        (T0 - H, None, None),  # nothing before it
    ],
)
def test_the_tipping_activity_is_the_latest_at_the_handoff(
    at: datetime, prefer: str | None, expected: Activity | None
) -> None:
    assert tipping_activity([DOWNLOAD, PRICING, SEMINAR, LATER], at, prefer) == expected


def item(
    seq: int,
    source: str | None,
    to: Stage,
    reason: str,
    status: RejectionStatus = RejectionStatus.UNDISPUTED,
    note: str | None = None,
) -> FeedbackItem:
    rejection = Rejection(seq, 100 + seq, T0 + seq * H, Stage.SAL, to, reason, note, "田中", "inside_sales", 1)
    verdict = RejectionVerdict(rejection, status, None, Charge.LEAD_QUALITY, "marketing")
    return FeedbackItem(verdict, source=source, campaign=f"c{seq % 2}", content=None)


def counts(undisputed: int = 0, pending: int = 0, upheld: int = 0, overturned: int = 0) -> dict[RejectionStatus, int]:
    return {
        RejectionStatus.UNDISPUTED: undisputed,
        RejectionStatus.PENDING: pending,
        RejectionStatus.UPHELD: upheld,
        RejectionStatus.OVERTURNED: overturned,
    }


def test_rejections_are_grouped_with_their_reasons_shares_disputes_and_notes() -> None:
    items = [
        item(1, "ad", Stage.RECYCLED, "no_budget", note="予算は来期"),
        item(2, "ad", Stage.RECYCLED, "no_budget", RejectionStatus.OVERTURNED, note=" "),
        item(3, "ad", Stage.DISQUALIFIED, "competitor", RejectionStatus.PENDING, note="競合の社員"),
        item(4, "ad", Stage.RECYCLED, "info_gathering", note="情報収集"),
        item(5, "web_form", Stage.RECYCLED, "no_budget", RejectionStatus.UPHELD),
        item(6, None, Stage.RECYCLED, "bad_timing"),
    ]
    ad, web_form, none = summarise(items, GroupBy.SOURCE)
    # 6 rejections: ad 4/6; web_form and the leads without a source 1/6 each, "none" last
    assert (ad.key, ad.count, ad.share, ad.recycled, ad.disqualified) == ("ad", 4, pytest.approx(4 / 6), 3, 1)
    assert ad.statuses == counts(undisputed=2, pending=1, overturned=1)
    # ad's reasons: no_budget 2 of 4; then the ties of 1, recycle reasons before disqualify ones
    assert [(r.kind, r.code, r.count, r.share) for r in ad.reasons] == [
        ("recycle", "no_budget", 2, 0.5),
        ("recycle", "info_gathering", 1, 0.25),
        ("disqualify", "competitor", 1, 0.25),
    ]
    no_budget = ad.reasons[0]
    assert no_budget.statuses == counts(undisputed=1, overturned=1)
    assert no_budget.examples == (Example(101, 1, T0 + H, "田中", "予算は来期"),)  # the blank note is no example
    assert (web_form.key, web_form.count, web_form.share) == ("web_form", 1, pytest.approx(1 / 6))
    assert web_form.statuses == counts(upheld=1)
    assert (none.key, none.count, [r.code for r in none.reasons]) == (None, 1, ["bad_timing"])
    by_campaign = summarise(items, GroupBy.CAMPAIGN)
    assert [(g.key, g.count) for g in by_campaign] == [("c0", 3), ("c1", 3)]


def test_examples_are_the_newest_notes_up_to_the_limit() -> None:
    items = [item(i, "ad", Stage.RECYCLED, "no_budget", note=f"memo {i}") for i in (3, 1, 4, 2)]
    (group,) = summarise(items, GroupBy.SOURCE, examples=2)
    assert [e.note for e in group.reasons[0].examples] == ["memo 4", "memo 3"]


def test_no_rejections_make_no_groups() -> None:
    assert summarise([], GroupBy.CONTENT) == ()
