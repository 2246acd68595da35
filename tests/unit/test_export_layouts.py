"""Export layouts: leadpact stages in each vendor's vocabulary, cells of a lead, and the CSV writer."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from leadpact.adapters.exporters import hubspot, native, salesforce
from leadpact.adapters.exporters.record import LeadRecord, attribute_text, score_text
from leadpact.adapters.exporters.writer import write_csv
from leadpact.adapters.importers import hubspot as hubspot_import
from leadpact.adapters.importers import salesforce as salesforce_import
from leadpact.domain.clocks import ClockRun, ClockState
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import ClockEvent

JST = timezone(timedelta(hours=9))


def test_every_stage_has_a_hubspot_and_a_salesforce_value_from_the_import_vocabulary() -> None:
    assert set(hubspot.STAGES) == set(Stage) == set(salesforce.STATUS)
    for lifecycle, status in hubspot.STAGES.values():
        assert lifecycle in hubspot_import.LIFECYCLE and (status == "" or status in hubspot_import.LEAD_STATUS)
    assert {s for s in salesforce.STATUS.values() if s} <= set(salesforce_import.LEAD_STATUS)


# What the importers read back from each stage's export: the stage itself where the vendor has
# it, else the nearest it has (None: the file says nothing, the stage is in leadpact's column).
@pytest.mark.parametrize(
    ("stage", "from_hubspot", "from_salesforce"),
    [
        (Stage.LEAD, Stage.LEAD, None),
        (Stage.MQL, Stage.MQL, Stage.MQL),
        (Stage.SAL, Stage.MQL, Stage.SAL),
        (Stage.SQL, Stage.SQL, Stage.SQL),
        (Stage.OPPORTUNITY, Stage.OPPORTUNITY, Stage.SQL),
        (Stage.WON, Stage.WON, Stage.SQL),
        (Stage.LOST, None, Stage.SQL),
        (Stage.RECYCLED, Stage.RECYCLED, None),
        (Stage.DISQUALIFIED, Stage.DISQUALIFIED, Stage.DISQUALIFIED),
    ],
)
def test_each_stage_reads_back_through_the_importers(
    stage: Stage, from_hubspot: Stage | None, from_salesforce: Stage | None
) -> None:
    lifecycle, status = hubspot.STAGES[stage]
    implied = hubspot_import.lead_status(status) if status else None
    assert (implied[0] if implied else hubspot_import.lifecycle_stage(lifecycle)) is from_hubspot
    assert salesforce_import.lead_stage(salesforce.STATUS[stage]) is from_salesforce


def lead(**overrides: object) -> LeadRecord:
    started = datetime(2026, 4, 6, 5, 0, tzinfo=UTC)  # Monday 14:00 in Tokyo
    values: dict[str, object] = {
        "id": 7,
        "email": "hanako.sato@sample-joho.co.jp",
        "attributes": {"first_name": "花子", "last_name": "佐藤", "company": "株式会社サンプル情報", "title": "部長"},
        "stage": Stage.SAL,
        "stage_changed_at": datetime(2026, 4, 7, 1, 5, 30, tzinfo=UTC),
        "owner": "田中美咲",
        "owner_email": "misaki.tanaka@corp.example",
        "owner_department": "inside_sales",
        "score": 84.65,
        "clock": ClockRun(
            lead_id=7,
            clock_id="is_first_contact",
            pact_version=1,
            started_at=started,
            due_at=datetime(2026, 4, 9, 15, 0, tzinfo=UTC),
            responsible="inside_sales",
            stops=(ClockEvent.FIRST_CONTACT,),
            due_soon=0.25,
        ),
        "clock_state": ClockState.BREACHED,
        "business_days_late": 2,
        "refs": (
            ("hubspot", "123"),
            ("hubspot", "98"),
            ("salesforce", "0035g00000XyZab"),
            ("salesforce", "00Q5g0000Ab"),
        ),
    }
    values.update(overrides)
    return LeadRecord(**values)  # type: ignore[arg-type]


def cells(layout: object, record: LeadRecord) -> dict[str, str]:
    assert isinstance(layout, type(native.LAYOUT))
    return dict(zip(layout.header, layout.cells(record, JST), strict=True))


def test_the_hubspot_row_of_a_lead() -> None:
    assert cells(hubspot.LAYOUT, lead()) == {
        "Record ID": "98",  # of two (merged contacts), the lowest
        "Email": "hanako.sato@sample-joho.co.jp",
        "First Name": "花子",
        "Last Name": "佐藤",
        "Company Name": "株式会社サンプル情報",
        "Job Title": "部長",
        "Lifecycle Stage": "marketingqualifiedlead",
        "Lead Status": "",
        "Contact owner": "misaki.tanaka@corp.example",
        "leadpact Lead ID": "7",
        "leadpact Stage": "sal",
        "leadpact Stage Changed": "2026-04-07 10:05",
        "leadpact Score": "84.7",
        "leadpact Owner": "田中美咲",
        "leadpact Clock": "is_first_contact",
        "leadpact Clock State": "breached",
        "leadpact Clock Due": "2026-04-10 00:00",
        "leadpact Business Days Late": "2",
    }


def test_the_salesforce_row_of_a_lead() -> None:
    assert cells(salesforce.LAYOUT, lead()) == {
        "Id": "00Q5g0000Ab",  # the Lead id; the Contact id it converted into cannot update a Lead
        "FirstName": "花子",
        "LastName": "佐藤",
        "Company": "株式会社サンプル情報",
        "Email": "hanako.sato@sample-joho.co.jp",
        "Title": "部長",
        "Status": "Working - Contacted",
        "LeadSource": "",
        "leadpact_Lead_Id__c": "7",
        "leadpact_Stage__c": "sal",
        "leadpact_Stage_Changed__c": "2026-04-07T10:05:30.000+0900",
        "leadpact_Score__c": "84.7",
        "leadpact_Owner__c": "田中美咲",
        "leadpact_Owner_Email__c": "misaki.tanaka@corp.example",
        "leadpact_Clock__c": "is_first_contact",
        "leadpact_Clock_State__c": "breached",
        "leadpact_Clock_Due__c": "2026-04-10T00:00:00.000+0900",
        "leadpact_Business_Days_Late__c": "2",
    }


def test_the_csv_row_of_a_lead() -> None:
    assert cells(native.LAYOUT, lead()) == {
        "id": "7",
        "email": "hanako.sato@sample-joho.co.jp",
        "company": "株式会社サンプル情報",
        "stage": "sal",
        "stage_changed_at": "2026-04-07T10:05:30+09:00",
        "score": "84.7",
        "owner": "田中美咲",
        "owner_email": "misaki.tanaka@corp.example",
        "owner_department": "inside_sales",
        "clock_id": "is_first_contact",
        "clock_state": "breached",
        "clock_due_at": "2026-04-10T00:00:00+09:00",
        "clock_stopped_at": "",
        "clock_stopped_by": "",
        "business_days_late": "2",
        "external_ids": "hubspot:123; hubspot:98; salesforce:0035g00000XyZab; salesforce:00Q5g0000Ab",
    }


def test_a_lead_leadpact_knows_little_of() -> None:
    bare = lead(
        email=None,
        attributes={"name": "山田 太郎"},
        stage=Stage.LEAD,
        owner=None,
        owner_email=None,
        owner_department=None,
        score=None,
        clock=None,
        clock_state=None,
        business_days_late=None,
        refs=(("salesforce", "0035g00000XyZab"),),
    )
    hub = cells(hubspot.LAYOUT, bare)
    assert (hub["Record ID"], hub["First Name"], hub["Last Name"], hub["leadpact Score"]) == ("", "", "山田 太郎", "")
    sfdc = cells(salesforce.LAYOUT, bare)
    assert (sfdc["Id"], sfdc["LastName"], sfdc["Company"], sfdc["Status"]) == ("", "山田 太郎", "[not provided]", "")
    nothing = cells(salesforce.LAYOUT, lead(attributes={}, stage=Stage.RECYCLED))
    assert (nothing["LastName"], nothing["Company"], nothing["Status"]) == ("[not provided]", "[not provided]", "")


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (False, "false"), (300, "300"), (300.0, "300"), (12.5, "12.5"), ("製造業", "製造業")],
)
def test_attribute_cells(value: object, text: str) -> None:
    assert attribute_text(value) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("score", "text"), [(None, ""), (84.65, "84.7"), (80.0, "80.0"), (-0.04, "0.0"), (-25.0, "-25.0")]
)
def test_score_cells(score: float | None, text: str) -> None:
    assert score_text(score) == text


def written(record: LeadRecord, encoding: str = "utf-8") -> tuple[bytes, list[tuple[int, str]], int]:
    stream = io.BytesIO()
    report = write_csv(stream, native.LAYOUT, [record, record], JST, encoding)
    assert not stream.closed  # the caller's stream (standard output) stays open
    return stream.getvalue(), report.replaced, report.rows


@pytest.mark.parametrize(
    ("company", "cell"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","請求書")', '\'=HYPERLINK("http://evil.example","請求書")'),
        ("+81-3-1234-5678", "'+81-3-1234-5678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-5", "-5"),  # a number stays a number
        ("+3.5", "+3.5"),
        ("株式会社=テスト", "株式会社=テスト"),
    ],
)
def test_hostile_cells_are_neutralised(company: str, cell: str) -> None:
    data, _, _ = written(lead(attributes={"company": company}))
    header, first, second = csv.reader(io.StringIO(data.decode(), newline=""))
    assert header[2] == "company" and first[2] == second[2] == cell


def test_the_file_has_a_header_crlf_lines_and_the_encodings_bom() -> None:
    data, replaced, rows = written(lead(), "utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbfid,email,company,stage,") and data.endswith(b"\r\n")
    assert (data.count(b"\r\n"), rows, replaced) == (3, 2, [])
    assert not written(lead())[0].startswith(b"\xef\xbb\xbf")


def test_a_cell_cp932_cannot_hold_is_written_with_a_question_mark_and_reported() -> None:
    data, replaced, rows = written(lead(attributes={"company": "𠮷野家 髙﨑①"}), "cp932")
    assert data.decode("cp932").split("\r\n")[1].split(",")[2] == "?野家 髙﨑①"
    assert (replaced, rows) == ([(7, "company"), (7, "company")], 2)
