"""Rejections: sales sending a handed-off lead back, and the handoff it undid.

A **rejection** is a stage move recorded in the ledger from a handed-off stage (`mql`, `sal`,
`sql`) to `recycled` or `disqualified`, made by sales. It does not matter how the move
arrived: `leadpact lead reject|recycle`, a `stage_change` event (ingest, webhooks) or the
stage history of an import. Who made it decides whether it is sales':

* a person (a user) made it: a rejection when their department holds a sales role
  (inside_sales or field_sales) in the pact version the move was made under. Marketing
  recycling or disqualifying its own MQL is not a rejection;
* leadpact or a source system made it (the actor is `system`, `system:<source>`,
  `import:<format>`, or the entry is marked imported): a rejection, charged to the sales
  department that held the lead, since a CRM's lead status is sales' word. That is the
  department recorded on the entry when it holds a sales role, else the department with
  the field_sales role for a lead rejected from `sql` and the one with the inside_sales
  role for `mql` and `sal`.

The **handoff** a rejection undid is the lead's latest move into a handed-off stage from
outside them (`lead → mql`, `recycled → mql`, `lead → sql`, …) recorded before it.

Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.lifecycle import ReasonKind, Stage
from leadpact.domain.pact import Pact, Role

HANDED_OFF: Final = frozenset({Stage.MQL, Stage.SAL, Stage.SQL})
REJECTED: Final = frozenset({Stage.RECYCLED, Stage.DISQUALIFIED})
SALES_ROLES: Final = frozenset({Role.INSIDE_SALES, Role.FIELD_SALES})

# The actor names leadpact records when no person made an entry: itself (`system`, `routing`,
# services.lifecycle and services.routing), a source system (`system:<source>`, services.ingest)
# and an import (`import:<format>`, services.imports).
_MACHINES: Final = frozenset({"system", "routing"})
_MACHINE_PREFIXES: Final = ("system:", "import:")


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejection, as the ledger holds it, with the sales department it is charged to."""

    seq: int  # its ledger entry
    lead_id: int
    at: datetime
    from_stage: Stage
    to_stage: Stage
    reason: str | None
    note: str | None
    actor: str
    department: str  # the sales department that rejected the lead
    pact_version: int | None
    imported: bool = False

    @property
    def kind(self) -> ReasonKind:
        """Which of the pact's reason code lists its reason comes from."""
        return "recycle" if self.to_stage is Stage.RECYCLED else "disqualify"


def is_by_person(entry: LedgerEntry) -> bool:
    """Whether a person made the entry, rather than leadpact, a source system or an import."""
    return not entry.imported and entry.actor not in _MACHINES and not entry.actor.startswith(_MACHINE_PREFIXES)


def _stage(value: str | None) -> Stage | None:
    try:
        return Stage(value) if value is not None else None
    except ValueError:
        return None


def rejection_of(seq: int, entry: LedgerEntry, pact: Pact) -> Rejection | None:
    """The rejection ledger entry `seq` records, or None when it is none.

    `pact` is the version the entry was made under: it says which departments are sales.
    """
    if entry.kind is not EntryKind.TRANSITION:
        return None
    frm, to = _stage(entry.from_stage), _stage(entry.to_stage)
    if frm not in HANDED_OFF or to not in REJECTED:
        return None
    assert frm is not None and to is not None
    is_sales = bool(pact.roles_of(entry.department) & SALES_ROLES)
    if is_by_person(entry):
        if not is_sales:
            return None  # marketing moving its own MQL back to nurture
        department = entry.department
    else:
        department = entry.department if is_sales else _holder(pact, frm, entry.department)
    return Rejection(
        seq=seq,
        lead_id=entry.lead_id,
        at=entry.at,
        from_stage=frm,
        to_stage=to,
        reason=entry.reason,
        note=entry.note,
        actor=entry.actor,
        department=department,
        pact_version=entry.pact_version,
        imported=entry.imported,
    )


def _holder(pact: Pact, stage: Stage, recorded: str) -> str:
    """The sales department holding a lead in `stage`: field sales at sql, inside sales before."""
    found = pact.departments_with(Role.FIELD_SALES if stage is Stage.SQL else Role.INSIDE_SALES)
    return found[0] if found else recorded


def in_ledger_order(entries: Iterable[tuple[int, LedgerEntry]]) -> list[tuple[int, LedgerEntry]]:
    """A lead's entries as its history reads: by the time they happened, then by sequence."""
    return sorted(entries, key=lambda pair: (pair[1].at, pair[0]))


def handoff_before(entries: Iterable[tuple[int, LedgerEntry]], rejection: Rejection) -> tuple[int, LedgerEntry] | None:
    """The transition that handed the rejected lead to sales: its latest move into mql, sal or sql
    from outside them, recorded before the rejection; None when the ledger holds none."""
    found = None
    for seq, entry in in_ledger_order(entries):
        if (entry.at, seq) >= (rejection.at, rejection.seq):
            break
        if entry.lead_id != rejection.lead_id or entry.kind is not EntryKind.TRANSITION:
            continue
        if _stage(entry.to_stage) in HANDED_OFF and _stage(entry.from_stage) not in HANDED_OFF:
            found = (seq, entry)
    return found


def version_in_force(versions: Iterable[tuple[int, datetime | None]], at: datetime) -> int | None:
    """The pact version in force at `at`: the one activated last at or before it (None before any)."""
    found: tuple[datetime, int] | None = None
    for version, activated_at in versions:
        if activated_at is not None and activated_at <= at and (found is None or (activated_at, version) > found):
            found = (activated_at, version)
    return found[1] if found else None
