"""Reading XLSX exports: the same located rows as a CSV export, cells as the value readers expect them."""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from leadpact.adapters.importers.reader import open_table
from leadpact.adapters.importers.table import Problem, Row, TableFile
from leadpact.adapters.importers.values import parse_bool, parse_datetime, parse_int
from leadpact.adapters.importers.workbook import WorkbookFile, WorkbookUnreadable, text_of

TOKYO = ZoneInfo("Asia/Tokyo")


def workbook(path: Path, *sheets: tuple[str, Sequence[Sequence[object]]], merge: Sequence[str] = ()) -> Path:
    """Write an .xlsx with these sheets (name, rows), the first sheet's `merge` ranges merged."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for number, (title, rows) in enumerate(sheets):
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
        if number == 0:
            for ref in merge:
                sheet.merge_cells(ref)
    book.save(path)
    return path


def rewrite(path: Path, member: str, change: Callable[[str], str]) -> None:
    """Edit one part of the archive, as another tool would have written it."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[member] = change(parts[member].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def read(path: Path, sheet: str | None = None) -> tuple[WorkbookFile, list[Row | Problem]]:
    found = WorkbookFile(path, sheet)
    return found, list(found.rows())


def rows(found: list[Row | Problem]) -> list[tuple[int, dict[str, str]]]:
    return [(r.line, r.cells) for r in found if isinstance(r, Row)]


def problems(found: list[Row | Problem]) -> list[str]:
    return [str(p) for p in found if isinstance(p, Problem)]


def test_japanese_headers_and_cells_read_as_the_text_a_csv_export_holds(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "コンタクト.xlsx",
        (
            "コンタクト",
            [
                ["Eメール", "会社名", "作成日", "最終接触", "従業員数", "スコア", "購読", "メモ"],
                ["taro@例え.jp", "株式会社サンプル精機", datetime(2026, 4, 1, 9, 5), date(2026, 4, 1)]
                + [1200, 86.5, True, None],
                ["hanako@x.jp", "（株）テスト", 46113, "令和8年4月1日", 300.0, 0.1 + 0.2, False, "二行の\nメモ"],
            ],
        ),
    )
    found, read_ = read(path)
    assert found.name == "コンタクト.xlsx" and found.sheet == "コンタクト"
    assert found.header == ["Eメール", "会社名", "作成日", "最終接触", "従業員数", "スコア", "購読", "メモ"]
    assert rows(read_) == [
        (
            2,
            {
                "Eメール": "taro@例え.jp",
                "会社名": "株式会社サンプル精機",
                "作成日": "2026-04-01T09:05:00",
                "最終接触": "2026-04-01",
                "従業員数": "1200",
                "スコア": "86.5",
                "購読": "true",
                "メモ": "",
            },
        ),
        (
            3,
            {
                "Eメール": "hanako@x.jp",
                "会社名": "（株）テスト",
                "作成日": "46113",  # a plain number that looks like an Excel serial stays one
                "最終接触": "令和8年4月1日",
                "従業員数": "300",  # no spurious .0
                "スコア": "0.3",  # 15 significant digits, as Excel shows it
                "購読": "false",
                "メモ": "二行の\nメモ",
            },
        ),
    ]
    # and the value readers take them as they take a CSV export's cells
    first, second = (r.cells for r in read_ if isinstance(r, Row))
    assert parse_datetime(first["作成日"], TOKYO) == datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    assert parse_datetime(second["作成日"], TOKYO) == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert parse_datetime(second["最終接触"], TOKYO) == parse_datetime(first["最終接触"], TOKYO)
    assert (parse_int(second["従業員数"]), parse_bool(first["購読"]), parse_bool(second["購読"])) == (300, True, False)
    # Every column of the header, the empty last one too.
    text = [r.text() for r in read_ if isinstance(r, Row)][0]
    assert text == "taro@例え.jp,株式会社サンプル精機,2026-04-01T09:05:00,2026-04-01,1200,86.5,true,\n"


def test_a_workbook_on_the_1904_date_system_reads_the_same_dates(tmp_path: Path) -> None:
    book = Workbook()
    book.epoch = CALENDAR_MAC_1904  # old Mac Excel: serial 0 is 1904-01-01, four years after Windows' 1900
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", "created"])
    sheet.append(["a@x.jp", datetime(2026, 4, 1, 9, 5)])
    book.save(tmp_path / "mac.xlsx")
    _, read_ = read(tmp_path / "mac.xlsx")
    assert rows(read_) == [(2, {"email": "a@x.jp", "created": "2026-04-01T09:05:00"})]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("", ""),
        (46113, "46113"),
        (46113.0, "46113"),
        (46113.5, "46113.5"),
        (-5.0, "-5"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "0.00000015"),
        (True, "true"),
        (datetime(2026, 4, 1), "2026-04-01"),
        (datetime(2026, 4, 1, 23, 59, 59), "2026-04-01T23:59:59"),
        (datetime(2026, 4, 1, 9, 5, 0, 250_000), "2026-04-01T09:05:00.250"),
        (date(2026, 4, 1), "2026-04-01"),
        (time(9, 5), "09:05:00"),
        (timedelta(hours=37, minutes=30), "37:30:00"),
        (timedelta(seconds=-90), "-0:01:30"),
        ("=not a formula, a text", "=not a formula, a text"),
    ],
)
def test_each_kind_of_cell_value_as_text(value: object, text: str) -> None:
    assert text_of(value) == text


def test_a_formula_reads_as_its_saved_value_and_one_without_a_value_or_an_error_is_a_located_problem(
    tmp_path: Path,
) -> None:
    path = workbook(
        tmp_path / "deals.xlsx",
        (
            "Deals",
            [
                ["Record ID", "Amount", "Lookup"],
                ["1", 100, "=B2*2"],
                ["2", 200, "=VLOOKUP(A3,Sheet2!A:B,2,FALSE)"],
                ["3", 300, "#N/A"],
                ["4", 400, "ok"],
            ],
        ),
    )
    # Excel saves each formula with its value; openpyxl does not, so give the first one its value
    rewrite(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("<f>B2*2</f><v />", "<f>B2*2</f><v>200</v>"))
    found, read_ = read(path)
    assert rows(read_) == [
        (2, {"Record ID": "1", "Amount": "100", "Lookup": "200"}),
        (5, {"Record ID": "4", "Amount": "400", "Lookup": "ok"}),
    ]
    assert problems(read_) == [
        "deals.xlsx:3: Lookup (C): the formula =VLOOKUP(A3,Sheet2!A:B,2,FALSE) was saved without its value "
        "(open and save the file in Excel, or paste values)",
        "deals.xlsx:4: Lookup (C): the cell holds the Excel error #N/A",
    ]
    assert (found.label("Amount"), found.label("Lookup"), found.label("Owner")) == ("Amount (B)", "Lookup (C)", "Owner")
    quarantined = [p.raw for p in read_ if isinstance(p, Problem)]
    assert quarantined == ['2,200,"=VLOOKUP(A3,Sheet2!A:B,2,FALSE)"\n', "3,300,#N/A\n"]  # nothing lost
    assert found.problems == []


def test_merged_cells_hold_their_top_left_value_in_every_cell(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "leads.xlsx",
        (
            "Leads",
            [
                ["Company", "Email", "Note"],
                ["株式会社A", "a@a.jp", "x"],
                [None, "b@a.jp", None],
                [None, "c@a.jp", "y"],
                ["株式会社B", "d@b.jp", "長いメモ"],
            ],
        ),
        merge=["A2:A4", "C5:D5"],
    )
    _, read_ = read(path)
    assert rows(read_) == [
        (2, {"Company": "株式会社A", "Email": "a@a.jp", "Note": "x"}),
        (3, {"Company": "株式会社A", "Email": "b@a.jp", "Note": ""}),
        (4, {"Company": "株式会社A", "Email": "c@a.jp", "Note": "y"}),  # the merged value is what a person sees
    ]
    # the merged note spills right of the header's last column: that row is kept aside, not cut short
    assert problems(read_) == ["leads.xlsx:5: D: a value in column D, right of the header's last column (C)"]


def test_a_header_merged_across_two_columns_is_a_repeated_header(tmp_path: Path) -> None:
    path = workbook(tmp_path / "x.xlsx", ("S", [["氏名", None, "Email"], ["山田", "太郎", "t@x.jp"]]), merge=["A1:B1"])
    found, read_ = read(path)
    assert found.header == ["氏名", "氏名", "Email"]
    assert [str(p) for p in found.problems] == [
        "x.xlsx:1: 氏名: the header repeats '氏名' (columns A and B); the first is read"
    ]
    assert rows(read_) == [(2, {"氏名": "山田", "Email": "t@x.jp"})]


def test_the_first_sheet_is_read_unless_one_is_named(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "export.xlsx",
        ("Summary", [["集計", 3]]),
        ("コンタクト", [[None], ["email"], ["a@x.jp"]]),
    )
    found, read_ = read(path)
    assert (found.sheet, found.name, rows(read_)) == ("Summary", "export.xlsx[Summary]", [])
    found, read_ = read(path, "コンタクト")
    assert (found.name, found.header, rows(read_)) == ("export.xlsx[コンタクト]", ["email"], [(3, {"email": "a@x.jp"})])
    assert read(path, " ｺﾝﾀｸﾄ ")[0].sheet == "コンタクト"  # width and outer spaces do not matter
    unknown = r"^export.xlsx has no sheet named 'Deals' \(its sheets: Summary, コンタクト\)$"
    with pytest.raises(ValueError, match=unknown):
        WorkbookFile(path, "Deals")


def test_a_hidden_first_sheet_is_passed_over_unless_named(tmp_path: Path) -> None:
    book = Workbook()
    lists = book.active
    assert lists is not None
    lists.title, lists.sheet_state = "選択肢", "hidden"
    lists.append(["業種"])
    data = book.create_sheet("Contacts")
    data.append(["email"])
    data.append(["a@x.jp"])
    book.save(tmp_path / "x.xlsx")
    found, read_ = read(tmp_path / "x.xlsx")
    assert (found.sheet, rows(read_)) == ("Contacts", [(2, {"email": "a@x.jp"})])
    assert read(tmp_path / "x.xlsx", "選択肢")[0].header == ["業種"]


def test_an_empty_sheet_a_header_only_sheet_and_blank_rows(tmp_path: Path) -> None:
    found, read_ = read(workbook(tmp_path / "empty.xlsx", ("Sheet1", []), ("Data", [["email"]])))
    assert read_ == []
    assert [str(p) for p in found.problems] == [
        "empty.xlsx[Sheet1]: the sheet 'Sheet1' is empty: no header row "
        "(the workbook's other sheets: Data; choose one with --sheet)"
    ]
    found, read_ = read(workbook(tmp_path / "header.xlsx", ("Sheet1", [["email", "name"]])))
    assert (read_, found.header, found.problems) == ([], ["email", "name"], [])
    found, read_ = read(workbook(tmp_path / "blank.xlsx", ("Sheet1", [[], ["email"], [None], ["a@x.jp"], [""]])))
    assert rows(read_) == [(4, {"email": "a@x.jp"})]


def test_a_huge_cell_is_a_problem_of_its_column_and_the_rest_still_read(tmp_path: Path) -> None:
    path = workbook(tmp_path / "x.xlsx", ("S", [["email", "note"], ["a@x.jp", "HUGE"], ["b@x.jp", "ok"]]))
    # Excel and openpyxl cut a cell at 32,767 characters; other tools do not
    rewrite(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("HUGE", "x" * 70_000))
    _, read_ = read(path)
    assert rows(read_) == [(3, {"email": "b@x.jp", "note": "ok"})]
    assert problems(read_) == ["x.xlsx:2: note (B): the cell holds 70,000 characters (at most 65,536)"]


def test_files_that_are_no_workbook_are_one_clear_error_naming_the_file(tmp_path: Path) -> None:
    cases = {
        "text.xlsx": b"email\na@x.jp\n",
        "old.xlsx": bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512,
        "truncated.xlsx": (workbook(tmp_path / "whole.xlsx", ("S", [["a"], [1]]))).read_bytes()[:300],
    }
    with zipfile.ZipFile(tmp_path / "photos.xlsx", "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8")
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    messages = {}
    for name in (*cases, "photos.xlsx"):
        with pytest.raises(WorkbookUnreadable) as caught:
            WorkbookFile(tmp_path / name)
        messages[name] = str(caught.value)
    assert messages["text.xlsx"] == (
        "text.xlsx: not an XLSX workbook (it is not a ZIP archive: damaged, or another format renamed)"
    )
    assert messages["old.xlsx"] == (
        "old.xlsx: an Excel 97–2003 (.xls) or password-protected workbook; "
        "save it from Excel as .xlsx without a password, or as CSV"
    )
    assert messages["truncated.xlsx"].startswith("truncated.xlsx: not a readable XLSX workbook (BadZipFile: ")
    assert messages["photos.xlsx"].startswith("photos.xlsx: not a readable XLSX workbook (KeyError: ")
    assert all("\n" not in m for m in messages.values())


def test_a_sheet_damaged_part_way_keeps_the_rows_before_the_damage(tmp_path: Path) -> None:
    path = workbook(tmp_path / "x.xlsx", ("S", [["email"], ["a@x.jp"], ["b@x.jp"], ["c@x.jp"]]))
    rewrite(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace('<row r="4">', '<row r="4"><broken'))
    _, read_ = read(path)
    assert rows(read_) == [(2, {"email": "a@x.jp"}), (3, {"email": "b@x.jp"})]
    (problem,) = problems(read_)
    assert problem.startswith("x.xlsx:4: the sheet is damaged after row 3: ParseError: ")
    assert problem.endswith("; the rows after it were not read")


def test_open_table_goes_by_the_files_bytes(tmp_path: Path) -> None:
    xlsx_named_csv = workbook(tmp_path / "export.csv", ("S", [["email"], ["a@x.jp"]]))
    table = open_table(xlsx_named_csv, encoding="cp932")  # an encoding does not apply to a workbook
    assert isinstance(table, WorkbookFile) and [r.cells for r in table.rows() if isinstance(r, Row)] == [
        {"email": "a@x.jp"}
    ]
    csv_file = tmp_path / "export.txt"
    csv_file.write_bytes("email\na@x.jp\n".encode("cp932"))
    table = open_table(csv_file)
    assert isinstance(table, TableFile) and table.encoding == "utf-8"
    with pytest.raises(ValueError, match=r"^export.txt is a CSV file, which has no sheets: --sheet is for XLSX"):
        open_table(csv_file, sheet="Sheet1")
    (tmp_path / "broken.xlsx").write_bytes(b"email\na@x.jp\n")
    with pytest.raises(WorkbookUnreadable, match=r"^broken.xlsx: not an XLSX workbook"):
        open_table(tmp_path / "broken.xlsx")
    (tmp_path / "latin1.csv").write_bytes(b"\x80\x81\xff\xfe\n")
    with pytest.raises(ValueError, match=r"^latin1.csv: the file is neither UTF-8 nor Shift_JIS"):
        open_table(tmp_path / "latin1.csv")


def test_a_big_sheet_is_streamed_row_by_row_without_loading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Contacts")
    sheet.append(["Record ID", "Email", "Company Name", "Create Date", "Lifecycle Stage"])
    count = 12_000
    for i in range(count):
        sheet.append([i, f"lead{i}@example.co.jp", f"株式会社テスト{i % 97}", 46113 + i % 365, "lead"])
    book.save(path)
    stream = WorkbookFile(path).rows()
    for _ in range(1_000):  # past opening the workbook: what follows is the per-row cost alone
        next(stream)
    tracemalloc.start()
    try:
        for _ in range(4_000):
            next(stream)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rest = list(stream)
    assert len(rest) == count - 5_000
    last = rest[-1]
    assert isinstance(last, Row) and last.line == count + 1
    assert last.cells == {
        "Record ID": str(count - 1),
        "Email": f"lead{count - 1}@example.co.jp",
        "Company Name": f"株式会社テスト{(count - 1) % 97}",
        "Create Date": str(46113 + (count - 1) % 365),
        "Lifecycle Stage": "lead",
    }
    # 4,000 rows kept would hold about 3.5 MB; read one at a time, what stays is one chunk of XML
    assert held < 512 * 1024 and peak < 1024 * 1024, f"held {held:,} B, peak {peak:,} B"
