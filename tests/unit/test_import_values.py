"""Cell values as exports write them: dates in every notation, numbers, yes/no, formula cells."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from leadpact.adapters.importers.values import neutralise_formula, parse_bool, parse_date, parse_datetime, parse_int

TOKYO = ZoneInfo("Asia/Tokyo")


def jst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=TOKYO).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-01", jst(2026, 4, 1)),
        ("2026-04-01T10:30:00Z", datetime(2026, 4, 1, 10, 30, tzinfo=UTC)),
        ("2026-04-01 10:30", jst(2026, 4, 1, 10, 30)),
        ("2026-04-01T10:30:15.25+09:00", jst(2026, 4, 1, 10, 30, 15, 250_000)),
        ("2026-04-01 10:30:00 +0000", datetime(2026, 4, 1, 10, 30, tzinfo=UTC)),
        ("2026/04/01", jst(2026, 4, 1)),
        ("2026/4/1 9:05", jst(2026, 4, 1, 9, 5)),
        ("２０２６／４／１", jst(2026, 4, 1)),  # full-width, as Excel in Japanese input mode writes it
        ("2026.4.1", jst(2026, 4, 1)),
        ("2026年4月1日", jst(2026, 4, 1)),
        ("2026年4月1日 14時05分", jst(2026, 4, 1, 14, 5)),
        ("令和8年4月1日", jst(2026, 4, 1)),
        ("令和元年5月1日", jst(2019, 5, 1)),
        ("平成31年4月30日", jst(2019, 4, 30)),
        ("昭和64年1月7日", jst(1989, 1, 7)),
        ("R8.4.1", jst(2026, 4, 1)),
        ("r8/4/1", jst(2026, 4, 1)),
        ("H1.1.8", jst(1989, 1, 8)),
        ("46113", jst(2026, 4, 1)),  # Excel serial (1900 system)
        ("46113.5", jst(2026, 4, 1, 12)),
        ("61", jst(1900, 3, 1)),  # after Excel's phantom 1900-02-29
        ("59", jst(1900, 2, 28)),
        ("1775005800000", datetime(2026, 4, 1, 1, 10, tzinfo=UTC)),  # epoch milliseconds
    ],
)
def test_dates_in_every_notation(text: str, expected: datetime) -> None:
    assert parse_datetime(text, TOKYO) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024-02-30", "2024-02-30 is not a date: February 2024 has 29 days"),
        ("2023-02-29", "February 2023 has 28 days"),
        ("2026-13-01", "there is no month 13"),
        ("平成31年5月1日", "is not a date of 平成 (1989-01-08 – 2019-04-30)"),
        ("令和1年4月30日", "is not a date of 令和 (2019-05-01)"),
        ("令和0年1月1日", "an era year starts at 1"),
        ("60", "1900-02-29, a day that never was"),
        ("2026-04-01 25:00", "no such time of day"),
        ("next tuesday", "is not a date; write 2026-04-01"),
        ("99999999", "neither an Excel date serial"),
        ("", "empty"),
    ],
)
def test_a_date_that_is_not_one_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_datetime(text, TOKYO)


def test_a_date_time_is_read_as_its_local_day() -> None:
    assert parse_date("2026-03-31T16:00:00Z", TOKYO) == date(2026, 4, 1)  # 01:00 JST on 4/1


@pytest.mark.parametrize(
    ("text", "expected"), [("1200", 1200), ("1,200", 1200), ("１２００", 1200), ("300名", 300), ("50.0", 50)]
)
def test_whole_numbers(text: str, expected: int) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize("text", ["12,00", "1.5", "約300", ""])
def test_not_whole_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="is not a whole number"):
        parse_int(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("TRUE", True), ("はい", True), ("○", True), ("0", False), ("×", False)]
)
def test_yes_or_no(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+81 3 1234", "'+81 3 1234"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-5", "-5"),
        ("+3.5", "+3.5"),
        ("田中", "田中"),
    ],
)
def test_formula_cells_are_neutralised(cell: str, written: str) -> None:
    assert neutralise_formula(cell) == written
