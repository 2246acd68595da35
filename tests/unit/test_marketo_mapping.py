"""Marketo exports: REST names from Bulk Lead Extract, or the list export's labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadpact.adapters.importers import marketo
from leadpact.adapters.importers.formats import CellError, Context, MarketoActivities
from leadpact.adapters.importers.mapping import ImportMapping
from leadpact.adapters.importers.table import Row
from leadpact.adapters.importers.values import find_columns as columns


@pytest.mark.parametrize(
    "header",
    [
        ["id", "email", "firstName", "leadScore", "createdAt"],  # Bulk Lead Extract
        ["Lead ID", "Email Address", "First Name", "Lead Score", "Created At"],  # list export labels
    ],
)
def test_marketo_columns_by_rest_name_or_label(header: list[str]) -> None:
    assert list(columns(header, marketo.LEAD_COLUMNS)) == ["record_id", "email", "first_name", "score", "created_at"]


HEADER = [
    "marketoGUID",
    "leadId",
    "activityDate",
    "activityTypeId",
    "campaignId",
    "primaryAttributeValueId",
    "primaryAttributeValue",
    "attributes",
]
ROWS = [
    # UTC, a page view (its primary value is the URL too), attributes JSON
    [
        "g-1",
        "101",
        "2026-04-01T10:00:00Z",
        "1",
        "1001",
        "5",
        "www.example.co.jp/pricing",
        '{"Client IP": "203.0.113.1"}',
    ],
    # an offset, a form the mapping names, no attributes
    ["g-2", " 102 ", "2026-04-01T10:00:00+09:00", "2", "", "7", "資料請求フォーム", ""],
    # a local time (no offset): read in the file's zone by the careful path
    ["g-3", "103", "2026-04-01 10:00", "10", "1002", "", "秋のメールマガジン", ""],
    # another notation, and an unknown type
    ["g-4", "104", "2026/04/01", "999", "", "", "", "[]"],
    # what cannot be read: a bad date, an empty id, an empty lead, attributes that are not JSON
    ["g-5", "105", "2024-02-30T00:00:00Z", "1", "", "", "", ""],
    ["", "106", "2026-04-01T10:00:00Z", "1", "", "", "", ""],
    ["g-7", "", "2026-04-01T10:00:00Z", "1", "", "", "", ""],
    ["g-8", "108", "2026-04-01T10:00:00Z", "1", "", "", "x", "{not json"],
    # a value JSON must escape
    ["g-9", "109", "2026-04-01T10:00:00Z", "1", "", "", 'www.example.co.jp/"q"\\', '{"k": "値"}'],
]


def test_a_marketo_batch_read_as_columns_says_what_reading_each_row_says() -> None:
    context = Context(
        "a.csv", ZoneInfo("Asia/Tokyo"), ImportMapping(activities={"2/資料請求フォーム": "document_download"})
    )
    reader = MarketoActivities(HEADER, context)
    positions = {name: i for i, name in enumerate(HEADER)}
    rows = [Row(line, values, positions) for line, values in enumerate(ROWS, start=2)]
    digests = {row.line: f"d{row.line}" for row in rows}
    columns, unread = reader.read_columns(rows, digests)

    expected, refused = [], []
    for row in rows:
        try:
            expected.append(reader.read(row))
        except CellError as exc:
            refused.append((row.line, exc.column, exc.reason))
    assert [(row.line, exc.column, exc.reason) for row, exc in unread] == refused
    assert [line for line, *_ in refused] == [6, 7, 8, 9]
    assert columns.lines == [r.line for r in expected] == [2, 3, 4, 5, 10]
    assert columns.event_ids == [r.event_id for r in expected]
    assert [columns.identity(i) for i in range(len(columns))] == [r.identity for r in expected]
    assert columns.types == [r.type for r in expected]
    assert columns.types[:3] == ["page_view", "document_download", "email_open"]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert columns.micros == [(r.at - epoch) // timedelta(microseconds=1) for r in expected]
    assert columns.micros[2] == (datetime(2026, 4, 1, 1, 0, tzinfo=UTC) - epoch).total_seconds() * 1_000_000
    assert columns.properties == [dict(r.properties) for r in expected]
    assert columns.properties_json == [
        json.dumps(dict(r.properties), ensure_ascii=False, separators=(",", ":")) for r in expected
    ]
    assert columns.digests == ["d2", "d3", "d4", "d5", "d10"]
