"""Reading an export file as rows of named cells, streaming, with every problem located.

The encoding is detected from the bytes (a BOM, else strict UTF-8, else CP932, the Windows
Shift_JIS that Japanese Excel and HubSpot's "Japanese" exports write), or given. The file is
read line by line in binary and each line decoded on its own, so one line of broken bytes
or NUL characters is one quarantined record, not a failed import. Records go through the
standard `csv` module (embedded newlines, doubled quotes); each keeps the physical line it
starts at and its raw text, so quarantine can hand the exact lines back to fix.

A record the header does not fit (too many or too few cells), a cell over `MAX_CELL`
characters and a quoted cell that never closes (it swallows the lines after it: they are
quarantined together, with the line range) are `Problem`s; the rows around them still read.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

MAX_CELL = 64 * 1024  # characters; no lead attribute needs more, and a runaway quote gets caught
MAX_RECORD_LINES = 200  # a record spanning more physical lines is an unclosed quote
SNIFF_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one record (or the file), where a person can find it."""

    file: str
    line: int  # 1-based physical line the record starts at; 0 for the file as a whole
    column: str | None
    reason: str
    raw: str = ""  # the record's text as read, for quarantine export
    last_line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.last_line and self.last_line != self.line:
            where += f"-{self.last_line}"
        return f"{where}: {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    cells: dict[str, str]
    raw: str = field(default="", repr=False)


def detect_encoding(head: bytes) -> str:
    """The encoding of a file starting with `head`: BOM, else UTF-8 if it decodes, else CP932."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut last character is fine
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("cp932")().decode(head, final=False)
        return "cp932"
    except UnicodeDecodeError:
        raise ValueError("the file is neither UTF-8 nor Shift_JIS (CP932); name its encoding with --encoding") from None


ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8-sig", "shift_jis": "cp932", "sjis": "cp932"}


def encoding_name(given: str) -> str:
    """A user's encoding name as Python knows it; Shift_JIS means CP932, as Windows writes it."""
    name = ENCODINGS.get(given.strip().lower().replace(" ", ""), given.strip())
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding {given!r} (use utf-8, utf-8-sig or cp932)") from None


class _Lines:
    """Physical lines decoded one at a time; remembers which were bad and the current record's text."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.stream = stream
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.number = 0
        self.bad: dict[int, str] = {}
        self.record: list[str] = []
        if encoding == "utf-8-sig" and stream.read(3) != codecs.BOM_UTF8:
            stream.seek(0)

    def __iter__(self) -> Iterator[str]:
        for chunk in self.stream:
            self.number += 1
            try:
                text = chunk.decode(self.encoding)
            except UnicodeDecodeError as exc:
                text = chunk.decode(self.encoding, errors="replace")
                self.bad[self.number] = f"bytes at offset {exc.start} are not valid {self.encoding}"
            if "\x00" in text:
                text = text.replace("\x00", "")
                self.bad[self.number] = "the line holds NUL characters (a binary or UTF-16 file?)"
            self.record.append(text)
            yield text


class TableFile:
    """One CSV export: its header and its records, read once, in order."""

    def __init__(self, path: Path, encoding: str | None = None, name: str | None = None) -> None:
        self.path = path
        self.name = name or path.name
        with path.open("rb") as probe:
            head = probe.read(SNIFF_BYTES)
        self.encoding = encoding_name(encoding) if encoding else detect_encoding(head)
        self.header: list[str] = []
        self.problems: list[Problem] = []  # file-level ones: empty file, duplicate headers

    def rows(self) -> Iterator[Row | Problem]:
        with self.path.open("rb") as stream:
            if self.encoding.startswith("utf-16"):
                yield from self._records(_Utf16Lines(stream, self.encoding))
            else:
                yield from self._records(_Lines(stream, self.encoding))

    def _records(self, lines: _Lines) -> Iterator[Row | Problem]:
        reader = csv.reader(iter(lines), strict=True)
        csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
        start, width, columns = 1, 0, {}
        while True:
            lines.record = []
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield self._unclosed(lines, start, str(exc))
                start = lines.number + 1
                reader = csv.reader(iter(lines), strict=True)
                continue
            end, raw = lines.number, "".join(lines.record)
            line = start
            start = end + 1
            if not self.header:
                if not any(c.strip() for c in cells):
                    continue  # blank lines before the header
                self.header = [c.strip().lstrip("\ufeff") for c in cells]
                width, columns = len(self.header), self._columns()
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank line
            bad = next((lines.bad[n] for n in range(line, end + 1) if n in lines.bad), None)
            if bad is not None:
                yield Problem(self.name, line, None, bad, raw, end)
            elif end - line >= MAX_RECORD_LINES:
                yield Problem(
                    self.name, line, None, f"a quoted cell opened here runs to line {end}: a quote is missing", raw, end
                )
            elif len(cells) != width:
                yield Problem(self.name, line, None, f"{len(cells)} cells, but the header has {width}", raw, end)
            else:
                long = next((i for i, c in enumerate(cells) if len(c) > MAX_CELL), None)
                if long is not None:
                    reason = f"the cell holds {len(cells[long]):,} characters (at most {MAX_CELL:,})"
                    yield Problem(self.name, line, self.header[long], reason, raw, end)
                else:
                    yield Row(line, {name: cells[i] for name, i in columns.items()}, raw)
        if not self.header:
            self.problems.append(Problem(self.name, 0, None, "the file is empty: no header row"))

    def _columns(self) -> dict[str, int]:
        """Header name → index, keeping the first of repeated names (each repeat is a file problem)."""
        columns: dict[str, int] = {}
        for i, name in enumerate(self.header):
            if not name:
                continue
            if name in columns:
                self.problems.append(
                    Problem(
                        self.name,
                        1,
                        name,
                        f"the header repeats {name!r} (columns {columns[name] + 1} and {i + 1}); the first is read",
                    )
                )
                continue
            columns[name] = i
        return columns

    def _unclosed(self, lines: _Lines, start: int, message: str) -> Problem:
        raw = "".join(lines.record)
        if "unexpected end of data" in message:
            reason = f"a quoted cell opened here never closes (read to line {lines.number}): a quote is missing"
        else:
            reason = f"broken quoting: {message}"
        return Problem(self.name, start, None, reason, raw, lines.number)


class _Utf16Lines(_Lines):
    """UTF-16 text (Excel's "Unicode text" export) cannot be split on newline bytes: decode the stream."""

    def __iter__(self) -> Iterator[str]:
        for text in io.TextIOWrapper(self.stream, encoding=self.encoding, newline=""):
            self.number += 1
            self.record.append(text)
            yield text
