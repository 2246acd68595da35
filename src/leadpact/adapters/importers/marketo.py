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
