"""leadpact's own CSV layout: every fact an export has about a lead, under leadpact's names.

Times are ISO 8601 with the offset of the export's zone (`2026-04-07T10:00:00+09:00`); the
lead's ids in other systems are `system:id` pairs joined by "; ". Written with a byte-order
mark by default, so Excel (Japanese Excel included) opens it as UTF-8.

Pure mapping: no IO.
"""

from __future__ import annotations

from datetime import tzinfo

from leadpact.adapters.exporters.record import (
    Column,
    Layout,
    LeadRecord,
    attribute,
    clock_id,
    clock_state,
    days_late,
    iso_instant,
    score,
)


def stopped_by(lead: LeadRecord, _zone: tzinfo) -> str:
    """The event that stopped the clock: a met clock stopped by `entered_disqualified` was not met by a call."""
    stopped = lead.clock.stopped_by if lead.clock else None
    return stopped.value if stopped else ""


def external_ids(lead: LeadRecord, _zone: tzinfo) -> str:
    return "; ".join(f"{system}:{external}" for system, external in lead.refs)


LAYOUT = Layout(
    name="csv",
    encoding="utf-8-sig",
    columns=(
        Column("id", lambda lead, _: str(lead.id)),
        Column("email", lambda lead, _: lead.email or ""),
        Column("company", attribute("company")),
        Column("stage", lambda lead, _: lead.stage.value),
        Column("stage_changed_at", lambda lead, zone: iso_instant(lead.stage_changed_at, zone)),
        Column("score", score),
        Column("owner", lambda lead, _: lead.owner or ""),
        Column("owner_email", lambda lead, _: lead.owner_email or ""),
        Column("owner_department", lambda lead, _: lead.owner_department or ""),
        Column("clock_id", clock_id),
        Column("clock_state", clock_state),
        Column("clock_due_at", lambda lead, zone: iso_instant(lead.clock.due_at if lead.clock else None, zone)),
        Column("clock_stopped_at", lambda lead, zone: iso_instant(lead.clock.stopped_at if lead.clock else None, zone)),
        Column("clock_stopped_by", stopped_by),
        Column("business_days_late", days_late),
        Column("external_ids", external_ids),
    ),
)
