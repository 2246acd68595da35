"""Reading an XLSX export as the same located rows as a CSV export (`table.py`), streaming.

An importer takes either file through one interface: `header`, `problems` (file-level) and
`rows()`, which yields a `Row` per record and a `Problem` per record it cannot hand over.

* **Which sheet.** The first sheet a person sees (the first in tab order that is not hidden),
  or the one named by `sheet=`, hidden or not. Problems name
  the file as `export.xlsx`, or `export.xlsx[Sheet]` when the workbook has several sheets.
* **Where.** A row's `line` is the sheet's row number as Excel shows it; a cell's column is
  named by its header and its letter (`Create Date (C)`).
* **Cells become the text the value readers (`values.py`) expect**, as a CSV export would have
  written them: text as it is; whole numbers without a spurious `.0` (46113.0 → `46113`, which
  `parse_datetime` reads as an Excel serial); other numbers with Excel's 15 significant digits,
  never in exponent form; `true` / `false`; a date-formatted cell as an ISO date (`2026-04-01`)
  or date-time without an offset (`2026-04-01T09:05:00`, local time like any Excel date); a
  time as `09:05:00`; a duration as `37:30:00`; an empty cell as an empty string.
* **Formulas** are read as the value Excel saved with them. A formula saved without a value
  (written by a tool that does not calculate) and an error value (`#N/A`, `#REF!`) make their
  row a `Problem` naming the cell: importing a blank or an error would be a silent guess.
* **Merged cells** read as a person sees them: every cell of a merged range holds the value of
  its top-left cell (a company merged down three contact rows is the company of all three).
* **Bad records.** A row with a value right of the header's last column, or a cell over
  `MAX_CELL` characters, is a `Problem`; the rows around it still read. Blank rows are skipped;
  the first non-blank row is the header. A damaged sheet yields the rows read before the damage
  and a `Problem` saying where it stopped. A file that is no workbook at all (not a ZIP, an
  .xls or password-protected file, damaged beyond opening) raises `WorkbookUnreadable`.

Memory: rows are parsed one at a time with openpyxl's sheet parser and let go of once read;
what stays in memory is the workbook's shared-strings table (its distinct texts) and the open
merged ranges. openpyxl's read-only worksheet gives a formula's saved value but cannot tell a
formula saved without one from an empty cell, so the sheet is parsed here with openpyxl's own
parser, which also sees the formula; merged ranges are listed at the end of the sheet's XML,
so a first pass over the raw XML finds them (decompression and a byte search, no parsing).

Must not import: the store, services or entry points.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet._reader import DATA_TAG, FORMULA_TAG, ROW_TAG, WorkSheetParser
from openpyxl.xml.functions import iterparse

from leadpact.adapters.importers.reader import XLS_MAGIC, is_workbook
from leadpact.adapters.importers.table import MAX_CELL, Problem, Row

# What a damaged archive or sheet raises from the zip, zlib, XML and openpyxl layers.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ParseError, ValueError, KeyError, IndexError, TypeError)


class WorkbookUnreadable(ValueError):
    """The file cannot be read as an XLSX workbook at all; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str
    trouble: str | None = None  # why the cell cannot be imported (an error value, a formula without one)


_EMPTY = _Cell("")


class _Parser(WorkSheetParser):
    """openpyxl's sheet parser reading saved values (data_only), that also keeps each formula and
    lets go of each row once read."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        formula = element.find(FORMULA_TAG)
        if formula is not None:
            cell["formula"] = "=" + (formula.text or "")
        return cell

    def rows(self) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(row number, its cells) for each row of the sheet data, and nothing after it.

        openpyxl's `parse` empties each row it read but leaves it in the tree (about 80 bytes a
        row, 80 MB for a million); here the sheet data lets go of every row as soon as it is read.
        """
        data: Any = None
        for event, element in iterparse(self.source, events=("start", "end")):
            if event == "start":
                if element.tag == DATA_TAG:
                    data = element
            elif element.tag == ROW_TAG:
                found = self.parse_row(element)
                if data is not None:
                    data.clear()
                yield found
            elif element.tag == DATA_TAG:
                return


class WorkbookFile:
    """One sheet of an XLSX export: its header and its records, read once, in order."""

    def __init__(self, path: Path, sheet: str | None = None, name: str | None = None) -> None:
        self.path = path
        self.header: list[str] = []
        self.problems: list[Problem] = []  # file-level ones: empty sheet, duplicate headers
        with _opened(path) as book:
            self.sheets: list[str] = list(book.parts)
            shown = [name for name in self.sheets if name not in book.hidden]
        if not self.sheets:
            raise WorkbookUnreadable(f"{path.name}: the workbook has no sheets")
        self.sheet = (shown or self.sheets)[0] if sheet is None else _sheet_named(path.name, self.sheets, sheet)
        base = name or path.name
        self.name = f"{base}[{self.sheet}]" if len(self.sheets) > 1 else base

    def rows(self) -> Iterator[Row | Problem]:
        with _opened(self.path) as book:
            yield from self._records(book)

    def _records(self, book: _Book) -> Iterator[Row | Problem]:
        part = book.parts[self.sheet]
        try:
            book.reader.read_strings()
            merged = _merged_ranges(book.reader.archive.open(part))
        except _DAMAGE as exc:
            yield Problem(self.name, 0, None, f"the sheet cannot be read: {_reason(exc)}")
            return
        width, columns, last = 0, {}, 0
        workbook: Any = book.reader.wb  # its date formats are kept where openpyxl's own reader finds them
        try:
            with book.reader.archive.open(part) as source:
                parser = _Parser(
                    source,
                    book.reader.shared_strings,
                    data_only=True,
                    epoch=workbook.epoch,
                    date_formats=workbook._date_formats,
                    timedelta_formats=workbook._timedelta_formats,
                )
                for number, cells in _quietly(parser.rows()):
                    last = number
                    found = merged.fill(number, [_cell(c) for c in cells], [c["column"] for c in cells])
                    if not any(cell.text.strip() or cell.trouble for cell in found.values()):
                        continue  # a blank row (or one with formatting only)
                    if not self.header:
                        self._read_header(found)
                        width, columns = len(self.header), self._columns()
                        continue
                    yield self._record(number, found, width, columns)
        except _DAMAGE as exc:
            reason = f"the sheet is damaged after row {last}: {_reason(exc)}; the rows after it were not read"
            yield Problem(self.name, last + 1, None, reason)
            return
        if not self.header:
            others = [s for s in self.sheets if s != self.sheet]
            hint = f" (the workbook's other sheets: {', '.join(others)}; choose one with --sheet)" if others else ""
            self.problems.append(Problem(self.name, 0, None, f"the sheet {self.sheet!r} is empty: no header row{hint}"))

    def _read_header(self, found: dict[int, _Cell]) -> None:
        width = max(found)
        self.header = [found.get(i, _EMPTY).text.strip().lstrip("\ufeff") for i in range(1, width + 1)]

    def _record(self, number: int, found: dict[int, _Cell], width: int, columns: dict[str, int]) -> Row | Problem:
        last = max(found)
        texts = [found.get(i, _EMPTY).text for i in range(1, last + 1)]
        raw = _raw(texts)
        beyond = next((i for i in sorted(found) if i > width and found[i].text.strip()), None)
        if beyond is not None:
            letter = get_column_letter(beyond)
            reason = f"a value in column {letter}, right of the header's last column ({get_column_letter(width)})"
            return Problem(self.name, number, letter, reason, raw)
        for i in sorted(found):
            cell = found[i]
            if cell.trouble is not None:
                return Problem(self.name, number, self._where(i), cell.trouble, raw)
            if len(cell.text) > MAX_CELL:
                reason = f"the cell holds {len(cell.text):,} characters (at most {MAX_CELL:,})"
                return Problem(self.name, number, self._where(i), reason, raw)
        return Row(number, [found.get(i, _EMPTY).text for i in range(1, width + 1)], columns)

    def label(self, name: str) -> str:
        """A header's column as problems name it, `Create Date (C)`, for problems found in a row's
        values later (the CSV reader's problems name the header alone)."""
        try:
            return self._where(self.header.index(name) + 1)
        except ValueError:
            return name

    def _where(self, column: int) -> str:
        """A column as a person finds it: its header and its letter."""
        letter = get_column_letter(column)
        name = self.header[column - 1] if column <= len(self.header) else ""
        return f"{name} ({letter})" if name else letter

    def _columns(self) -> dict[str, int]:
        """Header name → index, keeping the first of repeated names (each repeat is a file problem)."""
        columns: dict[str, int] = {}
        for i, name in enumerate(self.header):
            if not name:
                continue
            if name in columns:
                first, again = get_column_letter(columns[name] + 1), get_column_letter(i + 1)
                self.problems.append(
                    Problem(
                        self.name,
                        1,
                        name,
                        f"the header repeats {name!r} (columns {first} and {again}); the first is read",
                    )
                )
                continue
            columns[name] = i
        return columns


@dataclass(frozen=True, slots=True)
class _Book:
    reader: ExcelReader
    parts: dict[str, str]  # each worksheet's name → its part in the archive, in tab order
    hidden: frozenset[str]  # the worksheets a person does not see (hidden or very hidden)


@contextmanager
def _opened(path: Path) -> Iterator[_Book]:
    """The workbook's parts, or `WorkbookUnreadable` saying what the file is instead.

    openpyxl's `load_workbook` (read-only too) opens every sheet to read its size, which scans
    the whole sheet when its writer put no size at the top (many tools but Excel): here only
    the manifest, the workbook part and the styles are read; the shared texts when the rows are.
    """
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise WorkbookUnreadable(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    with stream:
        head = stream.read(8)
        if head.startswith(XLS_MAGIC):
            raise WorkbookUnreadable(
                f"{path.name}: an Excel 97–2003 (.xls) or password-protected workbook; "
                "save it from Excel as .xlsx without a password, or as CSV"
            )
        if not is_workbook(head):
            raise WorkbookUnreadable(
                f"{path.name}: not an XLSX workbook (it is not a ZIP archive: damaged, or another format renamed)"
            )
        stream.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns of styles and extensions it drops: not ours to show
                # the stream, not the name: openpyxl refuses names that do not end in .xlsx
                reader = ExcelReader(stream, read_only=True, data_only=True)
                reader.read_manifest()
                reader.read_workbook()
                apply_stylesheet(reader.archive, reader.wb)
                found = [
                    (sheet, rel.target)
                    for sheet, rel in reader.parser.find_sheets()
                    if "chartsheet" not in rel.Type and rel.target in reader.valid_files
                ]
                parts = {sheet.name: target for sheet, target in found}
                hidden = frozenset(sheet.name for sheet, _ in found if sheet.state != "visible")
        except Exception as exc:  # any failure to make sense of the file is the file's: say so, with why
            raise WorkbookUnreadable(f"{path.name}: not a readable XLSX workbook ({_reason(exc)})") from None
        try:
            yield _Book(reader, parts, hidden)
        finally:
            reader.archive.close()


def _sheet_named(file: str, sheets: list[str], wanted: str) -> str:
    if wanted in sheets:
        return wanted
    loose = {unicodedata.normalize("NFKC", s).strip().casefold(): s for s in sheets}
    found = loose.get(unicodedata.normalize("NFKC", wanted).strip().casefold())
    if found is None:
        raise ValueError(f"{file} has no sheet named {wanted!r} (its sheets: {', '.join(sheets)})")
    return found


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().strip("'\"")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _quietly(rows: Iterator[Any]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The parser's rows with its warnings (a date serial out of range becomes #VALUE!) silenced,
    only while it parses: the consumer of the rows runs with the warning filters it had."""
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = next(rows, None)
        if found is None:
            return
        yield found


def _cell(cell: dict[str, Any]) -> _Cell:
    value = cell["value"]
    if cell["data_type"] == "e":
        return _Cell(str(value), f"the cell holds the Excel error {value}")
    if value is None and "formula" in cell:
        formula = cell["formula"] if cell["formula"] != "=" else "(a shared formula)"
        return _Cell(
            cell["formula"],
            f"the formula {formula} was saved without its value (open and save the file in Excel, or paste values)",
        )
    return _Cell(text_of(value))


def text_of(value: object) -> str:
    """A cell's value as the text a CSV export would hold (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, timedelta):
        return _duration(value)
    return str(value)


def _number(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = format(value, ".15g")  # Excel keeps and shows 15 significant digits
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def _duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    millis = abs(value) // timedelta(milliseconds=1)
    seconds, ms = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{sign}{hours}:{minute:02d}:{second:02d}" + (f".{ms:03d}" if ms else "")


def _raw(texts: list[str]) -> str:
    """The record as one CSV line, for quarantine to hand back (trailing empty cells dropped)."""
    while texts and not texts[-1]:
        texts = texts[:-1]
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(texts)
    return line.getvalue()


# --- merged ranges ---------------------------------------------------------------------------

_MERGE = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^>]*?\bref\s*=\s*[\"']([A-Za-z]{1,3}\d+(?::[A-Za-z]{1,3}\d+)?)"
)
_CHUNK = 1 << 20
_OVERLAP = 1024  # a <mergeCell …> element cut by a chunk's end is searched again whole


@dataclass(frozen=True, slots=True)
class _Range:
    min_col: int
    min_row: int
    max_col: int
    max_row: int


class _Merged:
    """The sheet's merged ranges, filled in row by row as the rows stream past."""

    def __init__(self, ranges: list[_Range]) -> None:
        self.starting: dict[int, list[_Range]] = {}
        for r in ranges:
            self.starting.setdefault(r.min_row, []).append(r)
        self.open: list[tuple[_Range, _Cell]] = []

    def fill(self, number: int, cells: list[_Cell], columns: list[int]) -> dict[int, _Cell]:
        """Row `number`'s cells by column (1-based), each merged cell holding its range's value."""
        found = dict(zip(columns, cells, strict=True))
        if not self.starting and not self.open:
            return found
        self.open = [(r, v) for r, v in self.open if r.max_row >= number]
        for r in self.starting.pop(number, []):
            self.open.append((r, found.get(r.min_col, _EMPTY)))
        for r, value in self.open:
            if r.min_row <= number:
                for column in range(r.min_col, r.max_col + 1):
                    found[column] = value
        return found


def _merged_ranges(source: IO[bytes]) -> _Merged:
    """Every `<mergeCell ref=…>` of a sheet's XML, found by a byte search of the decompressed text."""
    refs: set[bytes] = set()
    with source:
        tail = b""
        while chunk := source.read(_CHUNK):
            window = tail + chunk
            refs.update(m.group(1) for m in _MERGE.finditer(window))
            tail = window[-_OVERLAP:]
    ranges = []
    for ref in refs:
        min_col, min_row, max_col, max_row = range_boundaries(ref.decode("ascii").upper())
        if min_col is None or min_row is None or max_col is None or max_row is None:
            continue
        if (min_col, min_row) != (max_col, max_row):
            ranges.append(_Range(min_col, min_row, max_col, max_row))
    return _Merged(ranges)
