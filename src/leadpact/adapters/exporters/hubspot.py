"""HubSpot's contact import: headers its import tool maps by itself, leadpact's stage as a
lifecycle stage and lead status, and leadpact's own facts as custom properties.

The headers are the English labels of HubSpot's default contact properties, so the import
maps them without help; `Record ID` updates the contact leadpact knows by its HubSpot id,
otherwise HubSpot matches by `Email`. Enumeration cells are HubSpot's internal values, which
its import accepts in a portal of any language (labels differ between an English and a
Japanese portal). `Contact owner` is the owner's e-mail address, which HubSpot matches to its
user. Columns starting with "leadpact " are custom properties to create once (docs/export.md).
An empty cell leaves HubSpot's value as it is.

The stage table below is the reverse of the import vocabulary (`importers.hubspot`): a stage
HubSpot has is written as that stage; `recycled` and `disqualified` leave the funnel as
`other` (HubSpot's only lifecycle move that is always forward) with the lead status the
importer reads back as those stages; `sal` has no HubSpot stage and stays a marketing
qualified lead; `lost` is `other` with no status. "leadpact Stage" always holds the exact one.

Pure mapping: no IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Final

from leadpact.adapters.exporters.record import (
    Column,
    Layout,
    LeadRecord,
    attribute,
    clock_id,
    clock_state,
    days_late,
    last_name,
    score,
)
from leadpact.domain.lifecycle import Stage

# leadpact stage → (Lifecycle Stage, Lead Status), HubSpot's internal values; "" writes no status.
STAGES: Final[Mapping[Stage, tuple[str, str]]] = {
    Stage.LEAD: ("lead", ""),
    Stage.MQL: ("marketingqualifiedlead", ""),
    Stage.SAL: ("marketingqualifiedlead", ""),
    Stage.SQL: ("salesqualifiedlead", ""),
    Stage.OPPORTUNITY: ("opportunity", ""),
    Stage.WON: ("customer", ""),
    Stage.LOST: ("other", ""),
    Stage.RECYCLED: ("other", "BAD_TIMING"),
    Stage.DISQUALIFIED: ("other", "UNQUALIFIED"),
}


def record_id(lead: LeadRecord, _zone: tzinfo) -> str:
    """The lead's HubSpot id; of several (contacts HubSpot merged), the oldest, i.e. the lowest."""
    ids = lead.ids_in("hubspot")
    return min(ids, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i)) if ids else ""


def hubspot_time(at: datetime | None, zone: tzinfo) -> str:
    """`2026-04-07 10:00` in the export's zone: pick YYYY-MM-DD and that zone in HubSpot's import."""
    return "" if at is None else f"{at.astimezone(zone):%Y-%m-%d %H:%M}"


LAYOUT = Layout(
    name="hubspot",
    encoding="utf-8",  # HubSpot reads UTF-8 (it requires it for anything but ASCII)
    columns=(
        Column("Record ID", record_id),
        Column("Email", lambda lead, _: lead.email or ""),
        Column("First Name", attribute("first_name")),
        Column("Last Name", lambda lead, _: last_name(lead)),
        Column("Company Name", attribute("company")),
        Column("Job Title", attribute("title")),
        Column("Lifecycle Stage", lambda lead, _: STAGES[lead.stage][0]),
        Column("Lead Status", lambda lead, _: STAGES[lead.stage][1]),
        Column("Contact owner", lambda lead, _: lead.owner_email or ""),
        Column("leadpact Lead ID", lambda lead, _: str(lead.id)),
        Column("leadpact Stage", lambda lead, _: lead.stage.value),
        Column("leadpact Stage Changed", lambda lead, zone: hubspot_time(lead.stage_changed_at, zone)),
        Column("leadpact Score", score),
        Column("leadpact Owner", lambda lead, _: lead.owner or ""),
        Column("leadpact Clock", clock_id),
        Column("leadpact Clock State", clock_state),
        Column("leadpact Clock Due", lambda lead, zone: hubspot_time(lead.clock.due_at if lead.clock else None, zone)),
        Column("leadpact Business Days Late", days_late),
    ),
)
