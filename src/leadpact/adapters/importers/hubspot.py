"""HubSpot contact exports: which column is which, and what its stage values mean in leadpact.

HubSpot writes headers as property labels in the portal's language ("Lifecycle Stage",
"ライフサイクルステージ") or, from the API and some tools, as internal names
(`lifecyclestage`); cells of enumerations come as labels ("Marketing Qualified Lead",
"マーケティング クオリファイド リード") or internal values (`marketingqualifiedlead`). All of
them are accepted: a header or value is matched after NFKC, case folding and removing spaces.
The mapping onto leadpact stages is documented in docs/imports.md and can be overridden.

Pure data and lookups: the reader (`table.py`) and the import service do the IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from leadpact.adapters.importers.values import Vocabulary, find_columns
from leadpact.domain.lifecycle import Stage

# leadpact field → (internal name, English label, Japanese label, other names seen in exports)
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "record_id": ("hs_object_id", "Record ID", "レコードID", "Contact ID", "vid"),
    "email": ("email", "Email", "Eメール", "メールアドレス", "Eメールアドレス"),
    "first_name": ("firstname", "First Name", "名"),
    "last_name": ("lastname", "Last Name", "姓"),
    "company": ("company", "Company Name", "会社名"),
    "industry": ("industry", "Industry", "業種"),
    "employees": ("numberofemployees", "Number of Employees", "従業員数"),
    "title": ("jobtitle", "Job Title", "役職"),
    "prefecture": ("state", "State/Region", "都道府県/地域", "都道府県"),
    "lifecycle_stage": ("lifecyclestage", "Lifecycle Stage", "ライフサイクルステージ"),
    "lead_status": ("hs_lead_status", "Lead Status", "リードステータス"),
    "owner": ("hubspot_owner_id", "Contact owner", "コンタクト担当者", "HubSpot Owner"),
    "owner_assigned_at": ("hubspot_owner_assigneddate", "Owner Assigned Date", "担当者の割り当て日"),
    "created_at": ("createdate", "Create Date", "作成日"),
    "source": ("hs_analytics_source", "Original Source", "オリジナルソース", "元のソース"),
}

# "Became a … Date" columns: the stage history an export carries, per leadpact stage.
STAGE_DATES: Mapping[Stage, tuple[str, ...]] = {
    Stage.LEAD: ("hs_lifecyclestage_lead_date", "Became a Lead Date", "リードになった日"),
    Stage.MQL: (
        "hs_lifecyclestage_marketingqualifiedlead_date",
        "Became a Marketing Qualified Lead Date",
        "マーケティング クオリファイド リードになった日",
    ),
    Stage.SQL: (
        "hs_lifecyclestage_salesqualifiedlead_date",
        "Became a Sales Qualified Lead Date",
        "セールス クオリファイド リードになった日",
    ),
    Stage.OPPORTUNITY: ("hs_lifecyclestage_opportunity_date", "Became an Opportunity Date", "商談になった日"),
    Stage.WON: ("hs_lifecyclestage_customer_date", "Became a Customer Date", "顧客になった日"),
}

# Lifecycle stage values (internal, English label, Japanese label) → leadpact stage.
# `other` says nothing about the funnel: such a lead keeps the stage leadpact gives it.
LIFECYCLE: Mapping[str, tuple[tuple[str, ...], Stage | None]] = {
    "subscriber": (("Subscriber", "サブスクライバー", "購読者"), Stage.LEAD),
    "lead": (("Lead", "リード"), Stage.LEAD),
    "marketingqualifiedlead": (
        ("Marketing Qualified Lead", "MQL", "マーケティング クオリファイド リード"),
        Stage.MQL,
    ),
    "salesqualifiedlead": (("Sales Qualified Lead", "SQL", "セールス クオリファイド リード"), Stage.SQL),
    "opportunity": (("Opportunity", "商談"), Stage.OPPORTUNITY),
    "customer": (("Customer", "顧客"), Stage.WON),
    "evangelist": (("Evangelist", "エバンジェリスト"), Stage.WON),
    "other": (("Other", "その他"), None),
}

# Lead status values (internal, labels) → the stage they imply, with the pact reason code.
LEAD_STATUS: Mapping[str, tuple[tuple[str, ...], tuple[Stage, str] | None]] = {
    "NEW": (("New", "新規"), None),
    "OPEN": (("Open", "オープン"), None),
    "IN_PROGRESS": (("In Progress", "進行中"), None),
    "OPEN_DEAL": (("Open Deal", "オープンディール", "オープン取引"), None),
    "ATTEMPTED_TO_CONTACT": (("Attempted to Contact", "接続を試行", "コンタクトを試行"), None),
    "CONNECTED": (("Connected", "接続済み"), None),
    "UNQUALIFIED": (("Unqualified", "不適格", "対象外"), (Stage.DISQUALIFIED, "out_of_target")),
    "BAD_TIMING": (("Bad Timing", "タイミングが悪い", "時期尚早"), (Stage.RECYCLED, "bad_timing")),
}


def header_map(header: Iterable[str]) -> tuple[dict[str, str], dict[Stage, str]]:
    """The export's columns by leadpact field and by stage-history stage (first match wins)."""
    names = list(header)
    dates = find_columns(names, {stage.value: labels for stage, labels in STAGE_DATES.items()})
    return find_columns(names, COLUMNS), {Stage(stage): column for stage, column in dates.items()}


_LIFECYCLE = Vocabulary("lifecycle stage", LIFECYCLE, "HubSpot's are")
_STATUS = Vocabulary("lead status", LEAD_STATUS, "HubSpot's are")


def lifecycle_stage(value: str, overrides: Mapping[str, Stage | None] | None = None) -> Stage | None:
    """The leadpact stage of a Lifecycle Stage cell (label or internal value; overrides first)."""
    return _LIFECYCLE.meaning(value, overrides)


def lead_status(value: str) -> tuple[Stage, str] | None:
    """The stage and reason code a Lead Status cell implies, or None when it implies none."""
    return _STATUS.meaning(value)
