"""HubSpot exports: headers as labels (English or Japanese) or internal names; stage values likewise."""

from __future__ import annotations

import pytest

from leadpact.adapters.importers.hubspot import header_map, lead_status, lifecycle_stage
from leadpact.domain.lifecycle import Stage

ENGLISH = ["Record ID", "First Name", "Last Name", "Email", "Lifecycle Stage", "Lead Status", "Contact owner"]
INTERNAL = ["hs_object_id", "firstname", "lastname", "email", "lifecyclestage", "hs_lead_status", "hubspot_owner_id"]
JAPANESE = ["レコードID", "名", "姓", "Eメール", "ライフサイクルステージ", "リードステータス", "コンタクト担当者"]
FIELDS = ["record_id", "first_name", "last_name", "email", "lifecycle_stage", "lead_status", "owner"]


@pytest.mark.parametrize("header", [ENGLISH, INTERNAL, JAPANESE, [h.upper() for h in INTERNAL]])
def test_headers_as_labels_or_internal_names(header: list[str]) -> None:
    fields, _ = header_map([*header, "Favourite colour"])
    assert fields == dict(zip(FIELDS, header, strict=True))


def test_stage_history_columns_in_either_form() -> None:
    _, stages = header_map(
        ["Became a Marketing Qualified Lead Date", "hs_lifecyclestage_salesqualifiedlead_date", "顧客になった日"]
    )
    assert stages == {
        Stage.MQL: "Became a Marketing Qualified Lead Date",
        Stage.SQL: "hs_lifecyclestage_salesqualifiedlead_date",
        Stage.WON: "顧客になった日",
    }


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("marketingqualifiedlead", Stage.MQL),
        ("Marketing Qualified Lead", Stage.MQL),
        ("マーケティング クオリファイド リード", Stage.MQL),
        ("ｍａｒｋｅｔｉｎｇｑｕａｌｉｆｉｅｄｌｅａｄ", Stage.MQL),  # full-width, as some Excel edits leave it
        ("salesqualifiedlead", Stage.SQL),
        ("商談", Stage.OPPORTUNITY),
        ("Customer", Stage.WON),
        ("subscriber", Stage.LEAD),
        ("other", None),
    ],
)
def test_lifecycle_values_as_labels_or_internal_values(value: str, stage: Stage | None) -> None:
    assert lifecycle_stage(value) is stage


def test_an_unknown_lifecycle_value_names_the_known_ones_and_an_override_maps_it() -> None:
    with pytest.raises(ValueError, match=r"unknown lifecycle stage '12345678' \(HubSpot's are subscriber, lead"):
        lifecycle_stage("12345678")  # a custom stage's generated id
    assert lifecycle_stage("12345678", {"12345678": Stage.SAL}) is Stage.SAL


@pytest.mark.parametrize(
    ("value", "implied"),
    [
        ("UNQUALIFIED", (Stage.DISQUALIFIED, "out_of_target")),
        ("Bad Timing", (Stage.RECYCLED, "bad_timing")),
        ("タイミングが悪い", (Stage.RECYCLED, "bad_timing")),
        ("OPEN_DEAL", None),
        ("接続済み", None),
    ],
)
def test_lead_status_values(value: str, implied: tuple[Stage, str] | None) -> None:
    assert lead_status(value) == implied
