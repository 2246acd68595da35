"""Salesforce Lead records for Data Loader (insert, update or upsert): field API names as headers.

`Id` is written when leadpact knows the lead's Salesforce Lead id (lead_refs, system
`salesforce`, an id with the Lead prefix `00Q`; a converted lead's Contact id `003…` cannot
update a Lead). Salesforce requires `LastName` and `Company` on a new lead: when leadpact has
neither, the cell says `[not provided]`, as Salesforce's own Web-to-Lead does.

The owner is written as the owner's e-mail address in `leadpact_Owner_Email__c`, not as
`OwnerId`: Data Loader takes only a Salesforce user id (005…) there, which leadpact does not
hold; docs/export.md says how to set the owner from the address. leadpact's own facts are
custom fields `leadpact_…__c`, to create once. An empty cell leaves Salesforce's value as it
is (unless Data Loader's "Insert null values" is on).

`Status` is the reverse of the import vocabulary (`importers.salesforce`) on the default Lead
Status picklist: a stage the picklist has is written as its value; a lead's opportunity, won
and lost stages happen on the Opportunity it was converted into, so its status stays
`Closed - Converted`; `lead` and `recycled` have no default status and leave it as it is.
`leadpact_Stage__c` always holds the exact stage.

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

NOT_PROVIDED = "[not provided]"
LEAD_PREFIX = "00Q"

# leadpact stage → the default Lead Status picklist value; "" writes no status.
STATUS: Final[Mapping[Stage, str]] = {
    Stage.LEAD: "",
    Stage.MQL: "Open - Not Contacted",
    Stage.SAL: "Working - Contacted",
    Stage.SQL: "Closed - Converted",
    Stage.OPPORTUNITY: "Closed - Converted",
    Stage.WON: "Closed - Converted",
    Stage.LOST: "Closed - Converted",
    Stage.RECYCLED: "",
    Stage.DISQUALIFIED: "Closed - Not Converted",
}


def lead_id(lead: LeadRecord, _zone: tzinfo) -> str:
    """The lead's Salesforce Lead id (of several, merged in Salesforce, the lowest)."""
    ids = sorted(i for i in lead.ids_in("salesforce") if i.startswith(LEAD_PREFIX))
    return ids[0] if ids else ""


def data_loader_time(at: datetime | None, zone: tzinfo) -> str:
    """Data Loader's recommended form, yyyy-MM-ddTHH:mm:ss.SSS+HHmm (no colon in the offset)."""
    if at is None:
        return ""
    local = at.astimezone(zone)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{local:%z}"


LAYOUT = Layout(
    name="salesforce",
    encoding="utf-8",  # Data Loader: tick "Read all CSVs with UTF-8 encoding", or export with --encoding cp932
    columns=(
        Column("Id", lead_id),
        Column("FirstName", attribute("first_name")),
        Column("LastName", lambda lead, _: last_name(lead) or NOT_PROVIDED),
        Column("Company", lambda lead, _: lead.attribute("company") or NOT_PROVIDED),
        Column("Email", lambda lead, _: lead.email or ""),
        Column("Title", attribute("title")),
        Column("Status", lambda lead, _: STATUS[lead.stage]),
        Column("LeadSource", attribute("source")),
        Column("leadpact_Lead_Id__c", lambda lead, _: str(lead.id)),
        Column("leadpact_Stage__c", lambda lead, _: lead.stage.value),
        Column("leadpact_Stage_Changed__c", lambda lead, zone: data_loader_time(lead.stage_changed_at, zone)),
        Column("leadpact_Score__c", score),
        Column("leadpact_Owner__c", lambda lead, _: lead.owner or ""),
        Column("leadpact_Owner_Email__c", lambda lead, _: lead.owner_email or ""),
        Column("leadpact_Clock__c", clock_id),
        Column("leadpact_Clock_State__c", clock_state),
        Column(
            "leadpact_Clock_Due__c",
            lambda lead, zone: data_loader_time(lead.clock.due_at if lead.clock else None, zone),
        ),
        Column("leadpact_Business_Days_Late__c", days_late),
    ),
)
