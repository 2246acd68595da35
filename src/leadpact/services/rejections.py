"""Sales rejecting a lead by hand: `leadpact lead reject` (disqualify) and `lead recycle`.

The move goes through the same Workbench path as a `stage_change` event: the table, the
department's roles and the pact's reason codes are checked (domain.lifecycle.plan_move), the
ledger entry keeps the reason and the note, and the clocks the move stops stop. Whether the
move is a rejection by sales is domain.rejection's definition; marketing recycling its own
MQL is allowed by the table and recorded, but is not one.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from leadpact.adapters.db.store import PactVersion, Store
from leadpact.domain.clocks import ClockRun
from leadpact.domain.errors import DomainError
from leadpact.domain.lead import Lead
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import ClockEvent, ReasonCode
from leadpact.domain.rejection import REJECTED, Rejection, rejection_of
from leadpact.services.leads import require_lead
from leadpact.services.lifecycle import Workbench, actor_of, require_active_pact, retrying
from leadpact.services.users import require_user


@dataclass(frozen=True, slots=True)
class RejectOutcome:
    """The lead after the move, the move's ledger entry, and what it did to the lead's clocks."""

    lead: Lead
    from_stage: Stage
    seq: int
    actor: str
    department: str  # the actor's
    rejection: Rejection | None  # None: a move allowed to marketing, not a rejection by sales
    reason: ReasonCode
    stopped: list[ClockRun]  # the clocks the move stopped
    running: list[ClockRun]  # the lead's clocks still running (the pact does not stop them at this move)
    zone: str  # the active pact calendar's time zone, for showing times


def _local(at: datetime, pact: PactVersion) -> str:
    zone = pact.pact.calendar.timezone
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def reject_lead(
    engine: Engine, now: datetime, key: str, to: Stage, by: str, reason: str | None, note: str
) -> RejectOutcome:
    """Move lead `key` to recycled or disqualified as `by`, with a reason code and a note, at `now`."""
    if to not in REJECTED:
        raise DomainError(f"a lead is rejected to recycled or disqualified, not {to.value}")

    def work(store: Store) -> RejectOutcome:
        lead = require_lead(store, key)
        user = require_user(store, by)
        pact = require_active_pact(store)
        if now < lead.stage_changed_at:
            raise DomainError(
                f"lead {lead.id} moved to {lead.stage.value} at {_local(lead.stage_changed_at, pact)}, after "
                f"{_local(now, pact)}: a rejection cannot be dated before the lead's last stage change"
            )
        bench = Workbench(store, pact, now)
        bench.load([lead.id])
        bench.move(lead.id, to, now, actor_of(user), reason=reason, note=note.strip() or None)
        if not note.strip():
            # after the move's own checks, so a wrong reason code is named first
            raise DomainError("a rejection needs a note: say what sales learned; marketing reads it in the feedback")
        entry = bench.ledger[-1]
        (seq,) = bench.flush()
        assert reason is not None  # plan_move requires it for these moves
        code = pact.pact.reason("recycle" if to is Stage.RECYCLED else "disqualify", reason)
        assert code is not None
        clocks = store.clocks.of_lead(lead.id)
        event = ClockEvent(f"entered_{to.value}")
        return RejectOutcome(
            lead=bench.work[lead.id].lead,
            from_stage=lead.stage,
            seq=seq,
            actor=user.name,
            department=user.department,
            rejection=rejection_of(seq, entry, pact.pact),
            reason=code,
            stopped=[c for c in clocks if c.stopped_at == now and c.stopped_by is event],
            running=[c for c in clocks if c.is_running],
            zone=pact.pact.calendar.timezone,
        )

    return retrying(engine, work)
