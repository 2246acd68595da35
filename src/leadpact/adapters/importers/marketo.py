"""Marketo lead exports (Bulk Lead Extract, list exports): columns by REST API name.

Bulk Lead Extract writes the REST names (`email`, `firstName`, `leadScore`) unless its
`columnHeaderNames` option renamed them; the UI's list export writes labels. Both are
accepted, matched ignoring case and spaces. Marketo's `leadStatus` values are each
instance's own, so they are named in the import's mapping, never guessed.

Pure data: the reader and the import service do the IO.
"""

from __future__ import annotations

from collections.abc import Mapping

# leadpact field → (REST name, English label, Japanese label)
LEAD_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "record_id": ("id", "Id", "Lead ID", "リードID"),
    "email": ("email", "Email Address", "メールアドレス"),
    "first_name": ("firstName", "First Name", "名"),
    "last_name": ("lastName", "Last Name", "姓"),
    "company": ("company", "Company Name", "会社名"),
    "industry": ("industry", "Industry", "業種"),
    "employees": ("numberOfEmployees", "Num Employees", "従業員数"),
    "title": ("title", "Job Title", "役職"),
    "prefecture": ("state", "State", "都道府県"),
    "score": ("leadScore", "Lead Score", "リードスコア"),
    "status": ("leadStatus", "Lead Status", "リードステータス"),
    "source": ("leadSource", "Lead Source", "リードソース"),
    "created_at": ("createdAt", "Created At", "作成日"),
    "updated_at": ("updatedAt", "Updated At", "更新日"),
}

# Bulk Activity Extract columns (REST names), with the labels some tools write instead.
ACTIVITY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "event_id": ("marketoGUID", "Marketo GUID", "activityId", "id"),
    "lead_id": ("leadId", "Lead ID", "リードID"),
    "at": ("activityDate", "Activity Date", "活動日"),
    "type_id": ("activityTypeId", "Activity Type ID"),
    "type": ("activityType", "Activity Type", "活動タイプ"),
    "campaign_id": ("campaignId", "Campaign ID"),
    "primary": ("primaryAttributeValue", "Primary Attribute Value"),
    "primary_id": ("primaryAttributeValueId",),
    "attributes": ("attributes", "Attributes"),
}

# Marketo's standard activity types (id → name, leadpact activity). Each instance adds custom
# ones with ids of its own: those import as `marketo_<id>` unless the mapping names them.
ACTIVITY_TYPES: Mapping[str, tuple[str, str]] = {
    "1": ("Visit Webpage", "page_view"),
    "2": ("Fill Out Form", "form_fill"),
    "3": ("Click Link", "link_click"),
    "6": ("Send Email", "email_sent"),
    "7": ("Email Delivered", "email_delivered"),
    "8": ("Email Bounced", "email_bounced"),
    "9": ("Unsubscribe Email", "unsubscribed"),
    "10": ("Open Email", "email_open"),
    "11": ("Click Email", "email_click"),
    "12": ("New Lead", "new_lead"),
    "13": ("Change Data Value", "data_value_change"),
    "22": ("Change Score", "score_change"),
    "24": ("Add to List", "list_added"),
    "46": ("Interesting Moment", "interesting_moment"),
}
ACTIVITY_NAMES: Mapping[str, str] = {
    "".join(ch for ch in name.casefold() if ch.isalnum()): slug for name, slug in ACTIVITY_TYPES.values()
}
