"""Dispute rules: who may open and resolve one, what an overturn gives back, and where each rejection stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadpact.domain.disputes import (
    Charge,
    Dispute,
    DisputeRefused,
    Outcome,
    RejectionStatus,
    Resolution,
    check_open,
    check_resolve,
    disputes_from,
    reinstatement,
    rejection_verdicts,
)
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Actor, Stage
from leadpact.domain.rejection import Rejection
from tests.factories import example_document

PACT = example_document().pact
T0 = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
H = timedelta(hours=1)

REJECTION = Rejection(
    seq=10,
    lead_id=7,
    at=T0,
    from_stage=Stage.SAL,
    to_stage=Stage.RECYCLED,
    reason="no_budget",
    note="来期",
    actor="田中",
    department="inside_sales",
    pact_version=1,
)
MARKETER = Actor("佐藤", "marketing")
MARKETING_HEAD = Actor("高橋", "marketing", is_manager=True)
IS_HEAD = Actor("小林", "inside_sales", is_manager=True)
REP = Actor("田中", "inside_sales", is_manager=True)  # made the rejection


def dispute(of: int = 10, by: str = "佐藤", resolution: Resolution | None = None) -> Dispute:
    return Dispute(
        id=11,
        lead_id=7,
        rejection=of,
        at=T0 + H,
        by=by,
        department="marketing",
        note="条件は満たす",
        resolution=resolution,
    )


UPHELD = Resolution(seq=12, at=T0 + 2 * H, by="小林", department="inside_sales", outcome=Outcome.UPHELD, note="妥当")


@pytest.mark.parametrize(
    ("rejection", "existing", "by", "note", "message"),
    [
        (
            None,
            [],
            MARKETER,
            "x",
            "lead 7 was never rejected by sales, so there is nothing to dispute "
            "(a rejection moves a handed-off lead from mql, sal or sql to recycled or disqualified)",
        ),
        (
            REJECTION,
            [],
            Actor("鈴木", "field_sales"),
            "x",
            "鈴木 (field_sales) may not dispute a rejection: disputes are opened by marketing (marketing)",
        ),
        (
            REJECTION,
            [dispute()],
            MARKETER,
            "x",
            "rejection #10 of lead 7 is disputed already: dispute #11, opened by 佐藤 on 2026-07-01, "
            "waits for a manager",
        ),
        (
            REJECTION,
            [dispute(resolution=UPHELD)],
            MARKETING_HEAD,
            "x",
            "rejection #10 of lead 7 is disputed already: dispute #11 was upheld by 小林 on 2026-07-01, "
            "and a resolution is final",
        ),
        (REJECTION, [], MARKETER, "  ", "a dispute needs a note: say why the lead met the pact"),
    ],
)
def test_a_dispute_is_refused_with_the_reason(
    rejection: Rejection | None, existing: list[Dispute], by: Actor, note: str, message: str
) -> None:
    with pytest.raises(DisputeRefused) as refused:
        check_open(7, rejection, existing, by, note, PACT)
    assert str(refused.value) == message


def test_marketing_may_dispute_a_rejection_not_disputed_yet() -> None:
    check_open(7, REJECTION, [dispute(of=3)], MARKETER, "決裁者と面談済み", PACT)  # another rejection's dispute


@pytest.mark.parametrize(
    ("existing", "by", "note", "message"),
    [
        (dispute(), Actor("山田", "inside_sales"), "x", "only a manager may resolve a dispute; 山田 is not one"),
        (
            dispute(resolution=UPHELD),
            MARKETING_HEAD,
            "x",
            "dispute #11 was upheld by 小林 on 2026-07-01 already; a resolution is final",
        ),
        (
            dispute(by="高橋"),
            MARKETING_HEAD,
            "x",
            "高橋 opened dispute #11 and may not judge it; ask another manager",
        ),
        (dispute(), REP, "x", "田中 made rejection #10 and may not judge its dispute; ask another manager"),
        (dispute(), IS_HEAD, "", "a resolution needs a note: say why"),
    ],
)
def test_a_resolution_is_refused_with_the_reason(existing: Dispute, by: Actor, note: str, message: str) -> None:
    with pytest.raises(DisputeRefused) as refused:
        check_resolve(existing, REJECTION, by, note, PACT)
    assert str(refused.value) == message


@pytest.mark.parametrize("by", [IS_HEAD, MARKETING_HEAD])
def test_any_manager_but_the_parties_resolves_an_open_dispute(by: Actor) -> None:
    check_resolve(dispute(), REJECTION, by, "BANT 3/4 確認済み", PACT)


def move(seq: int, frm: str, to: str, at: datetime, lead_id: int = 7) -> tuple[int, LedgerEntry]:
    return seq, LedgerEntry(lead_id, EntryKind.TRANSITION, at, at, "x", "inside_sales", 1, from_stage=frm, to_stage=to)


@pytest.mark.parametrize(
    ("current", "history", "expected"),
    [
        # still where the rejection put it: back to the stage it was rejected from
        (Stage.RECYCLED, [move(9, "mql", "sal", T0 - H), move(10, "sal", "recycled", T0)], Stage.SAL),
        # requalified since: it has moved on
        (Stage.MQL, [move(10, "sal", "recycled", T0), move(13, "recycled", "mql", T0 + H)], None),
        # back in recycled, but through another move after the rejection
        (
            Stage.RECYCLED,
            [
                move(10, "sal", "recycled", T0),
                move(13, "recycled", "mql", T0 + H),
                move(14, "mql", "recycled", T0 + 2 * H),
            ],
            None,
        ),
        # moves of other leads do not count
        (Stage.RECYCLED, [move(10, "sal", "recycled", T0), move(13, "lead", "mql", T0 + H, lead_id=8)], Stage.SAL),
    ],
)
def test_an_overturn_gives_the_lead_back_unless_it_has_moved_on(
    current: Stage, history: list[tuple[int, LedgerEntry]], expected: Stage | None
) -> None:
    assert reinstatement(REJECTION, current, history) is expected


def ledger(seq: int, kind: EntryKind, at: datetime, actor: str, evidence: dict[str, object]) -> tuple[int, LedgerEntry]:
    return seq, LedgerEntry(7, kind, at, at, actor, "marketing", 1, evidence=evidence, note=f"note {seq}")


def test_disputes_are_folded_from_their_ledger_entries() -> None:
    entries = [
        ledger(
            16,
            EntryKind.RESOLUTION,
            T0 + 3 * H,
            "小林",
            {"dispute": 11, "rejection": 10, "outcome": "overturned", "reinstated": "sal", "given_to": "田中"},
        ),
        ledger(11, EntryKind.DISPUTE, T0 + H, "佐藤", {"rejection": 10}),
        ledger(15, EntryKind.DISPUTE, T0 + 2 * H, "佐藤", {"rejection": 14}),
        # a second resolution of 11 cannot be recorded (the rules refuse it); were it there, the first counts
        ledger(17, EntryKind.RESOLUTION, T0 + 4 * H, "高橋", {"dispute": 11, "rejection": 10, "outcome": "upheld"}),
    ]
    first, second = disputes_from(entries)
    assert (first.id, first.rejection, first.by, first.note, first.status) == (
        11,
        10,
        "佐藤",
        "note 11",
        RejectionStatus.OVERTURNED,
    )
    assert first.resolution == Resolution(
        seq=16,
        at=T0 + 3 * H,
        by="小林",
        department="marketing",
        outcome=Outcome.OVERTURNED,
        note="note 16",
        reinstated=Stage.SAL,
        given_to="田中",
    )
    assert (second.id, second.rejection, second.is_open, second.status) == (15, 14, True, RejectionStatus.PENDING)


def test_each_rejection_says_where_it_stands_and_whom_it_counts_against() -> None:
    def rejected(seq: int, department: str = "inside_sales") -> Rejection:
        return Rejection(seq, 7, T0, Stage.SQL, Stage.RECYCLED, "no_budget", None, "鈴木", department, 1)

    overturned = Resolution(seq=40, at=T0, by="小林", department="inside_sales", outcome=Outcome.OVERTURNED, note="x")
    disputes = [
        Dispute(id=21, lead_id=7, rejection=2, at=T0, by="佐藤", department="marketing", note="x"),
        Dispute(id=22, lead_id=7, rejection=3, at=T0, by="佐藤", department="marketing", note="x", resolution=UPHELD),
        Dispute(
            id=23, lead_id=7, rejection=4, at=T0, by="佐藤", department="marketing", note="x", resolution=overturned
        ),
    ]
    verdicts = rejection_verdicts(
        [rejected(1), rejected(2), rejected(3), rejected(4, "field_sales")], disputes, "marketing"
    )
    assert [
        (v.rejection.seq, v.status, v.charge, v.charged_to, v.dispute.id if v.dispute else None) for v in verdicts
    ] == [
        (1, RejectionStatus.UNDISPUTED, Charge.LEAD_QUALITY, "marketing", None),
        (2, RejectionStatus.PENDING, None, None, 21),
        (3, RejectionStatus.UPHELD, Charge.LEAD_QUALITY, "marketing", 22),
        (4, RejectionStatus.OVERTURNED, Charge.SALES_ACCEPTANCE, "field_sales", 23),
    ]
