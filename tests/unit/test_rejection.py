"""What a rejection by sales is, which department it is charged to, and the handoff it undid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import Stage
from leadpact.domain.rejection import Rejection, handoff_before, is_by_person, rejection_of, version_in_force
from tests.factories import example_document

PACT = example_document().pact
# A company whose one department does marketing and inside sales.
SHARED = example_document(("roles: [marketing]", "roles: [marketing, inside_sales]")).pact
T0 = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)


def entry(
    frm: str | None,
    to: str | None,
    actor: str = "田中",
    department: str = "inside_sales",
    *,
    kind: EntryKind = EntryKind.TRANSITION,
    imported: bool = False,
    at: datetime = T0,
    lead_id: int = 7,
    evidence: dict[str, object] | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        lead_id=lead_id,
        kind=kind,
        at=at,
        recorded_at=at,
        actor=actor,
        department=department,
        pact_version=1,
        from_stage=frm,
        to_stage=to,
        reason="no_budget" if to in ("recycled", "disqualified") else None,
        note="来期",
        imported=imported,
        evidence=evidence or {},
    )


@pytest.mark.parametrize(
    ("recorded", "charged_to"),
    [
        # people of sales departments
        (entry("mql", "recycled"), "inside_sales"),
        (entry("sal", "disqualified"), "inside_sales"),
        (entry("sql", "recycled", "鈴木", "field_sales"), "field_sales"),
        # marketing's own moves of its MQLs are not sales rejecting them
        (entry("mql", "recycled", "佐藤", "marketing"), None),
        (entry("mql", "disqualified", "佐藤", "marketing"), None),
        # a source system, through ingest or webhooks: recorded for marketing at mql (services.ingest),
        # charged to inside sales; at sql recorded for field sales
        (entry("mql", "recycled", "system:hubspot", "marketing"), "inside_sales"),
        (entry("sal", "recycled", "system:salesforce", "inside_sales"), "inside_sales"),
        (entry("sql", "disqualified", "system:salesforce", "field_sales"), "field_sales"),
        # an import records the department owning the new stage (marketing): charged by the old one
        (entry("mql", "disqualified", "import:hubspot-contacts", "marketing", imported=True), "inside_sales"),
        (entry("sal", "recycled", "import:generic", "marketing", imported=True), "inside_sales"),
        (entry("sql", "recycled", "import:salesforce-leads", "marketing", imported=True), "field_sales"),
        # not a handed-off lead, not sent back, or not a move at all
        (entry("lead", "disqualified", "佐藤", "marketing"), None),
        (entry("lost", "recycled", "佐藤", "marketing"), None),
        (entry("opportunity", "lost", "鈴木", "field_sales"), None),
        (entry("mql", "sal"), None),
        (entry("recycled", "disqualified", "佐藤", "marketing"), None),
        (entry(None, None, kind=EntryKind.ASSIGNMENT), None),
        (entry("sal", "recycled", kind=EntryKind.DISPUTE), None),
    ],
)
def test_a_rejection_is_sales_sending_a_handed_off_lead_back(recorded: LedgerEntry, charged_to: str | None) -> None:
    found = rejection_of(41, recorded, PACT)
    assert (found.department if found else None) == charged_to
    if found is not None:
        assert (found.seq, found.lead_id, found.reason, found.note, found.actor) == (
            41,
            7,
            "no_budget",
            "来期",
            recorded.actor,
        )
        assert (found.from_stage, found.to_stage) == (Stage(recorded.from_stage), Stage(recorded.to_stage))
        assert found.kind == ("recycle" if found.to_stage is Stage.RECYCLED else "disqualify")


def test_a_department_doing_marketing_and_inside_sales_rejects_as_sales() -> None:
    found = rejection_of(3, entry("mql", "recycled", "佐藤", "marketing"), SHARED)
    assert found is not None and found.department == "marketing"


@pytest.mark.parametrize(
    ("actor", "imported", "person"),
    [
        ("田中", False, True),
        ("system", False, False),
        ("routing", False, False),
        ("system:hubspot", False, False),
        ("import:hubspot-contacts", True, False),
        ("田中", True, False),  # history another system recorded, whoever it names
    ],
)
def test_who_counts_as_a_person(actor: str, imported: bool, person: bool) -> None:
    assert is_by_person(entry("mql", "recycled", actor, imported=imported)) is person


def _rejection(seq: int, at: datetime) -> Rejection:
    found = rejection_of(seq, entry("sal", "recycled", at=at), PACT)
    assert found is not None
    return found


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # lead → mql → sal → rejected: the move into mql
        ([(1, entry("lead", "mql", "system", "marketing")), (2, entry("mql", "sal", at=T0 + H))], 1),
        # a second round after a recycle: the latest move in from outside the handed-off stages
        (
            [
                (1, entry("lead", "mql", "system", "marketing", at=T0 - 9 * H)),
                (2, entry("mql", "recycled", at=T0 - 8 * H)),
                (3, entry("recycled", "mql", "system", "marketing", at=T0 - 2 * H)),
                (4, entry("mql", "sal", at=T0 - H)),
            ],
            3,
        ),
        # straight to sql
        ([(5, entry("lead", "sql", "田中", at=T0 - H))], 5),
        # moves after the rejection, of other leads, and other kinds do not count
        (
            [
                (1, entry("lead", "mql", "system", "marketing", at=T0 - H)),
                (2, entry("lead", "mql", "system", "marketing", lead_id=8)),
                (3, entry(None, None, kind=EntryKind.ASSIGNMENT)),
                (11, entry("recycled", "mql", "system", "marketing", at=T0 + 3 * H)),
            ],
            1,
        ),
        # a move at the rejection's instant recorded before it counts; one recorded after does not
        ([(9, entry("lead", "mql", "system", "marketing", at=T0 + 2 * H))], 9),
        ([(12, entry("lead", "mql", "system", "marketing", at=T0 + 2 * H))], None),
        ([], None),
    ],
)
def test_the_handoff_is_the_latest_move_into_the_handed_off_stages_before_the_rejection(
    history: list[tuple[int, LedgerEntry]], expected: int | None
) -> None:
    found = handoff_before(history, _rejection(10, T0 + 2 * H))
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (T0 - H, None),  # before any pact
        (T0, 1),  # the instant v1 took effect
        (T0 + 5 * H, 1),
        (T0 + 10 * H, 3),  # v2 was a draft never activated
        (T0 + 30 * H, 4),
    ],
)
def test_the_pact_version_in_force_is_the_one_activated_last_by_then(at: datetime, expected: int | None) -> None:
    versions = [(1, T0), (2, None), (3, T0 + 10 * H), (4, T0 + 20 * H)]
    assert version_in_force(versions, at) == expected
