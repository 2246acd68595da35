"""Salesforce Lead and Opportunity exports (Data Loader, Bulk API, reports): columns and stages.

Data Loader and the Bulk API write field API names (`NumberOfEmployees`, custom `…__c`),
whose case may differ between tools, so they are matched ignoring case; report exports use
labels, in English or Japanese, and those are accepted too. A lead's stage comes from
`IsConverted` and the converted ids first (the facts), then from `Status`, whose values each
org configures: the defaults are mapped here and others are named in the import's mapping.
An opportunity's outcome comes from `IsClosed` / `IsWon`, which Salesforce derives from the
stage definition, so custom `StageName` values need no mapping.

Pure data and lookups: the reader and the import service do the IO.
"""

from __future__ import annotations

from collections.abc import Mapping

from leadpact.adapters.importers.values import Vocabulary, parse_bool
from leadpact.domain.lifecycle import Stage

# leadpact field → (API name, English label, Japanese label)
LEAD_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "record_id": ("Id", "Lead ID", "リード ID"),
    "email": ("Email", "メール"),
    "first_name": ("FirstName", "First Name", "名"),
    "last_name": ("LastName", "Last Name", "姓"),
    "company": ("Company", "会社名"),
    "industry": ("Industry", "業種"),
    "employees": ("NumberOfEmployees", "No. of Employees", "従業員数"),
    "title": ("Title", "役職"),
    "prefecture": ("State", "State/Province", "都道府県"),
    "status": ("Status", "Lead Status", "リード状況"),
    "source": ("LeadSource", "Lead Source", "リードソース"),
    "owner": ("OwnerId", "Lead Owner", "リード所有者"),
    "is_converted": ("IsConverted", "Converted", "取引開始済み"),
    "converted_at": ("ConvertedDate", "Converted Date", "取引開始日"),
    "converted_contact_id": ("ConvertedContactId", "Converted Contact ID"),
    "converted_opportunity_id": ("ConvertedOpportunityId", "Converted Opportunity ID"),
    "created_at": ("CreatedDate", "Created Date", "作成日"),
    "master_record_id": ("MasterRecordId",),
}

OPPORTUNITY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "record_id": ("Id", "Opportunity ID", "商談 ID"),
    "name": ("Name", "Opportunity Name", "商談名"),
    "account_id": ("AccountId", "Account ID"),
    "contact_id": ("ContactId", "Contact ID"),
    "stage_name": ("StageName", "Stage", "フェーズ"),
    "amount": ("Amount", "金額"),
    "close_date": ("CloseDate", "Close Date", "完了予定日"),
    "is_closed": ("IsClosed", "Closed", "完了"),
    "is_won": ("IsWon", "Won", "成立"),
    "owner": ("OwnerId", "Opportunity Owner", "商談 所有者"),
    "source": ("LeadSource", "Lead Source", "リードソース"),
    "created_at": ("CreatedDate", "Created Date", "作成日"),
}

# The default LeadStatus picklist → the leadpact stage it stands for.
LEAD_STATUS: Mapping[str, tuple[tuple[str, ...], Stage | None]] = {
    "Open - Not Contacted": (("未対応",), Stage.MQL),
    "Working - Contacted": (("対応中", "連絡済み"), Stage.SAL),
    "Closed - Converted": (("取引開始済み", "クローズ - 取引開始済み"), Stage.SQL),
    "Closed - Not Converted": (("クローズ - 未取引開始", "不成立"), Stage.DISQUALIFIED),
}


_STATUS = Vocabulary("lead status", LEAD_STATUS, "the defaults are")


def lead_stage(
    status: str | None,
    is_converted: str | None = None,
    converted_opportunity_id: str | None = None,
    overrides: Mapping[str, Stage | None] | None = None,
) -> Stage | None:
    """A lead's stage: a converted lead with an opportunity is an opportunity, converted without
    one an SQL; otherwise its Status (overrides first). None: the export says nothing."""
    if is_converted is not None and is_converted.strip() and parse_bool(is_converted):
        return Stage.OPPORTUNITY if (converted_opportunity_id or "").strip() else Stage.SQL
    if status is None or not status.strip():
        return None
    return _STATUS.meaning(status, overrides)


def opportunity_stage(is_closed: str, is_won: str) -> Stage:
    """Won, lost or still open, from the flags Salesforce derives from the stage definition."""
    if not parse_bool(is_closed):
        return Stage.OPPORTUNITY
    return Stage.WON if parse_bool(is_won) else Stage.LOST
