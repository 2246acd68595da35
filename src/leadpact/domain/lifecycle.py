"""The lead lifecycle: stages, the allowed-transitions table, and who may make each move.

Stages carry a semantic category (open / won / lost) so reports never infer outcomes
from a mix of flags. A move is allowed when the table lists it, the actor's department
holds one of the roles the move needs (or the actor is the system acting on the pact's
own criteria), and the move's reason rule is satisfied. `plan_move` returns what the
ledger should record or raises `InvalidTransition` naming the allowed moves.

Must not import: sqlalchemy, typer, or anything doing IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from leadpact.domain.errors import InvalidTransition
from leadpact.domain.pact import Pact, Role


class Stage(StrEnum):
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    WON = "won"
    LOST = "lost"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


class Category(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


CATEGORY: Final[Mapping[Stage, Category]] = {
    Stage.LEAD: Category.OPEN,
    Stage.MQL: Category.OPEN,
    Stage.SAL: Category.OPEN,
    Stage.SQL: Category.OPEN,
    Stage.OPPORTUNITY: Category.OPEN,
    Stage.WON: Category.WON,
    Stage.LOST: Category.LOST,
    Stage.RECYCLED: Category.OPEN,
    Stage.DISQUALIFIED: Category.LOST,
}

# Which department role holds a lead while it sits in each stage.
OWNING_ROLE: Final[Mapping[Stage, Role]] = {
    Stage.LEAD: Role.MARKETING,
    Stage.MQL: Role.MARKETING,
    Stage.SAL: Role.INSIDE_SALES,
    Stage.SQL: Role.FIELD_SALES,
    Stage.OPPORTUNITY: Role.FIELD_SALES,
    Stage.WON: Role.FIELD_SALES,
    Stage.LOST: Role.FIELD_SALES,
    Stage.RECYCLED: Role.MARKETING,
    Stage.DISQUALIFIED: Role.MARKETING,
}

Gate = Literal["mql", "sql"]
ReasonKind = Literal["recycle", "disqualify"]


@dataclass(frozen=True, slots=True)
class Move:
    """One row of the allowed-transitions table."""

    roles: frozenset[Role]
    gate: Gate | None = None  # criteria that must hold (or be overridden by a manager)
    reason: ReasonKind | None = None  # reason code list the move requires
    automatic: bool = False  # the system makes this move when the gate's criteria become true


_M, _IS, _FS = Role.MARKETING, Role.INSIDE_SALES, Role.FIELD_SALES


def _move(*roles: Role, gate: Gate | None = None, reason: ReasonKind | None = None, auto: bool = False) -> Move:
    return Move(roles=frozenset(roles), gate=gate, reason=reason, automatic=auto)


ALLOWED: Final[Mapping[tuple[Stage, Stage], Move]] = {
    (Stage.LEAD, Stage.MQL): _move(_M, gate="mql", auto=True),
    (Stage.LEAD, Stage.SQL): _move(_IS, _FS, gate="sql"),
    (Stage.LEAD, Stage.DISQUALIFIED): _move(_M, reason="disqualify"),
    (Stage.MQL, Stage.SAL): _move(_IS),
    (Stage.MQL, Stage.SQL): _move(_IS, gate="sql"),
    (Stage.MQL, Stage.RECYCLED): _move(_IS, _M, reason="recycle"),
    (Stage.MQL, Stage.DISQUALIFIED): _move(_IS, _M, reason="disqualify"),
    (Stage.SAL, Stage.SQL): _move(_IS, gate="sql"),
    (Stage.SAL, Stage.RECYCLED): _move(_IS, reason="recycle"),
    (Stage.SAL, Stage.DISQUALIFIED): _move(_IS, reason="disqualify"),
    (Stage.SQL, Stage.OPPORTUNITY): _move(_FS),
    (Stage.SQL, Stage.RECYCLED): _move(_FS, reason="recycle"),
    (Stage.SQL, Stage.DISQUALIFIED): _move(_FS, reason="disqualify"),
    (Stage.OPPORTUNITY, Stage.WON): _move(_FS),
    (Stage.OPPORTUNITY, Stage.LOST): _move(_FS),
    (Stage.LOST, Stage.RECYCLED): _move(_M, reason="recycle"),
    (Stage.RECYCLED, Stage.MQL): _move(_M, gate="mql", auto=True),
    (Stage.RECYCLED, Stage.DISQUALIFIED): _move(_M, reason="disqualify"),
}


def allowed_from(stage: Stage) -> tuple[Stage, ...]:
    """The stages a lead in `stage` may move to, in lifecycle order."""
    return tuple(to for (frm, to) in ALLOWED if frm is stage)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a move: a user with their department, or the system acting for a department."""

    name: str
    department: str
    is_manager: bool = False
    is_system: bool = False


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """A move that passed the table, the role check and the reason rule."""

    from_stage: Stage
    to_stage: Stage
    move: Move


def plan_move(
    pact: Pact,
    frm: Stage,
    to: Stage,
    *,
    actor: Actor,
    reason: str | None = None,
) -> PlannedMove:
    """Check a move against the table, the actor's department roles and the reason rule.

    Criteria gates are checked by the caller (they need the lead's score and BANT);
    this checks everything that depends only on the move and who makes it.
    """
    move = ALLOWED.get((frm, to))
    if move is None:
        allowed = ", ".join(s.value for s in allowed_from(frm)) or "none (final stage)"
        raise InvalidTransition(
            f"a lead cannot move from {frm.value} to {to.value}; from {frm.value} it may go to: {allowed}"
        )
    roles = pact.roles_of(actor.department)
    if not actor.is_system and not roles & move.roles:
        may = sorted(d for role in move.roles for d in pact.departments_with(role))
        raise InvalidTransition(
            f"{actor.name} ({actor.department}) may not move a lead from {frm.value} to {to.value}; "
            f"that move belongs to: {', '.join(may)}"
        )
    if move.reason is not None:
        codes = [r.code for r in getattr(pact.reason_codes, move.reason)]
        if reason is None:
            raise InvalidTransition(f"moving to {to.value} needs a {move.reason} reason code: {', '.join(codes)}")
        if pact.reason(move.reason, reason) is None:
            raise InvalidTransition(
                f"unknown {move.reason} reason code {reason!r}; the pact defines: {', '.join(codes)}"
            )
    return PlannedMove(from_stage=frm, to_stage=to, move=move)


def owning_department(pact: Pact, stage: Stage) -> str:
    """The department that holds leads in `stage` (the first with its role), else the pact's first."""
    found = pact.departments_with(OWNING_ROLE[stage])
    return found[0] if found else pact.departments[0].id


def responsible_department(pact: Pact, move: Move) -> str:
    """The department the system acts for when it makes `move` on its own."""
    for role in (Role.MARKETING, Role.INSIDE_SALES, Role.FIELD_SALES):
        if role in move.roles:
            found = pact.departments_with(role)
            if found:
                return found[0]
    return pact.departments[0].id
