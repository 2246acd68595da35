"""Salesforce exports: API names in any case or report labels; lead stage from conversion facts first."""

from __future__ import annotations

import pytest

from leadpact.adapters.importers.salesforce import LEAD_COLUMNS, OPPORTUNITY_COLUMNS, lead_stage, opportunity_stage
from leadpact.adapters.importers.values import find_columns as columns
from leadpact.domain.lifecycle import Stage


@pytest.mark.parametrize(
    "header",
    [
        ["Id", "Email", "NumberOfEmployees", "Status", "IsConverted", "ConvertedOpportunityId"],
        ["ID", "EMAIL", "numberofemployees", "status", "ISCONVERTED", "convertedopportunityid"],  # Data Loader casing
        ["Lead ID", "Email", "No. of Employees", "Lead Status", "Converted", "Converted Opportunity ID"],
    ],
)
def test_lead_columns_by_api_name_in_any_case_or_by_label(header: list[str]) -> None:
    found = columns(header, LEAD_COLUMNS)
    assert list(found) == ["record_id", "email", "employees", "status", "is_converted", "converted_opportunity_id"]
    assert list(found.values()) == header


def test_custom_fields_are_left_to_the_mapping() -> None:
    assert columns(["Id", "Segment__c"], LEAD_COLUMNS) == {"record_id": "Id"}


@pytest.mark.parametrize(
    ("status", "converted", "opportunity", "stage"),
    [
        ("Open - Not Contacted", "false", "", Stage.MQL),
        ("Working - Contacted", "0", None, Stage.SAL),
        ("対応中", None, None, Stage.SAL),
        ("Closed - Not Converted", "false", "", Stage.DISQUALIFIED),
        ("Closed - Converted", "true", "0065g00000AbCdE", Stage.OPPORTUNITY),  # the facts win over the status
        ("Closed - Converted", "true", "", Stage.SQL),  # converted with doNotCreateOpportunity
        ("", "", "", None),
    ],
)
def test_a_leads_stage(status: str, converted: str | None, opportunity: str | None, stage: Stage | None) -> None:
    assert lead_stage(status, converted, opportunity) is stage


def test_an_org_specific_status_needs_a_mapping() -> None:
    with pytest.raises(ValueError, match="unknown lead status 'Nurturing' .the defaults are Open - Not Contacted"):
        lead_stage("Nurturing")
    assert lead_stage("Nurturing", overrides={"nurturing": Stage.RECYCLED}) is Stage.RECYCLED


@pytest.mark.parametrize(
    ("closed", "won", "stage"),
    [("false", "false", Stage.OPPORTUNITY), ("true", "true", Stage.WON), ("TRUE", "FALSE", Stage.LOST)],
)
def test_an_opportunitys_outcome_comes_from_its_flags(closed: str, won: str, stage: Stage) -> None:
    assert opportunity_stage(closed, won) is stage


def test_opportunity_columns() -> None:
    header = ["Id", "StageName", "IsClosed", "IsWon", "CloseDate", "ContactId"]
    assert columns(header, OPPORTUNITY_COLUMNS) == {
        "record_id": "Id",
        "stage_name": "StageName",
        "is_closed": "IsClosed",
        "is_won": "IsWon",
        "close_date": "CloseDate",
        "contact_id": "ContactId",
    }
