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
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from typing import IO, NamedTuple

MAX_CELL = 64 * 1024  # characters; no lead attribute needs more, and a runaway quote gets caught
MAX_RECORD_LINES = 200  # a record spanning more physical lines is an unclosed quote
SNIFF_BYTES = 1 << 20
BLOCK = 1 << 20  # bytes decoded at a time
KEEP_BLOCKS = 4  # blocks kept for the raw text of problem records


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


class Row(NamedTuple):
    """A record that reads: its first physical line and its cells, in header order.

    A tuple of the cells as the CSV reader gave them, with the file's shared header index,
    rather than a dict per record: a million of them are made per million-row file, and the
    importers read a few columns of each by position.
    """

    line: int
    values: list[str]
    positions: Mapping[str, int]  # header name → position, shared by every row of the file

    @property
    def cells(self) -> dict[str, str]:
        return {name: self.values[i] for name, i in self.positions.items()}

    def get(self, name: str) -> str | None:
        i = self.positions.get(name)
        return None if i is None else self.values[i]

    def text(self) -> str:
        """The record as one CSV line (quarantine keeps it to be fixed and imported again)."""
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(self.values)
        return out.getvalue()


# A Row made straight from its tuple: NamedTuple's own constructor is a Python function, a frame
# per record (0.2 s of a million-row file's 2.7 s of reading).
_row = partial(tuple.__new__, Row)


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
    """Physical lines for `csv.reader`, decoded a block at a time.

    A block (about `BLOCK` bytes, ending at a newline) that decodes cleanly and holds no NUL is
    split into lines in C; only a block with bad bytes is decoded line by line, so one line of
    broken bytes is one quarantined record. The last blocks' lines are kept, so the raw text of
    a problem record can be handed back to quarantine.
    """

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.stream = stream
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.number = 0  # physical lines read so far
        self.position = 0  # bytes read so far
        self.bad: dict[int, str] = {}
        self.flagged = False  # a bad or over-long line was seen: records take the checked path
        self.kept: deque[tuple[int, list[str]]] = deque(maxlen=KEEP_BLOCKS)  # (first line, its lines)
        if encoding == "utf-8-sig" and stream.read(3) != codecs.BOM_UTF8:
            stream.seek(0)

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(self._blocks())  # the lines of a block are handed on in C

    def _blocks(self) -> Iterator[list[str]]:
        while block := self.stream.read(BLOCK):
            if not block.endswith(b"\n"):
                block += self.stream.readline()
            self.position += len(block)
            lines = self._decode(block)
            self.kept.append((self.number + 1, lines))
            self.number += len(lines)
            yield lines

    def _decode(self, block: bytes) -> list[str]:
        try:
            text = block.decode(self.encoding)
        except UnicodeDecodeError:
            text = None
        if text is not None and "\x00" not in text:
            lines = list(io.StringIO(text, newline="\n"))  # split on \n only, as the bytes were
            if len(text) > MAX_CELL and max(map(len, lines)) > MAX_CELL:
                self.flagged = True
            return lines
        self.flagged = True
        lines = []
        for offset, chunk in enumerate(io.BytesIO(block), start=self.number + 1):
            try:
                line = chunk.decode(self.encoding)
            except UnicodeDecodeError as exc:
                line = chunk.decode(self.encoding, errors="replace")
                self.bad[offset] = f"bytes at offset {exc.start} are not valid {self.encoding}"
            if "\x00" in line:
                line = line.replace("\x00", "")
                self.bad[offset] = "the line holds NUL characters (a binary or UTF-16 file?)"
            lines.append(line)
        return lines

    def text(self, first: int, last: int) -> str:
        """The raw text of lines `first`…`last`, as far as the kept blocks still hold them."""
        found = []
        for start, lines in self.kept:
            low, high = max(first, start), min(last, start + len(lines) - 1)
            if low <= high:
                found.extend(lines[low - start : high - start + 1])
        return "".join(found)


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
        self.lines: _Lines | None = None

    @property
    def position(self) -> int:
        """Bytes of the file read so far (for progress)."""
        return self.lines.position if self.lines is not None else 0

    def rows(self) -> Iterator[Row | Problem]:
        with self.path.open("rb") as stream:
            kind = _Utf16Lines if self.encoding.startswith("utf-16") else _Lines
            self.lines = kind(stream, self.encoding)
            yield from self._records(self.lines)

    def _records(self, lines: _Lines) -> Iterator[Row | Problem]:
        csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
        source = iter(lines)  # one pass over the file, shared by the readers
        reader = csv.reader(source, strict=True)
        base = 0  # lines read by the readers before this one (a broken record restarts the reader)
        start, width = 1, -1
        columns: dict[str, int] = {}
        while True:
            try:
                for cells in reader:
                    end = base + reader.line_num
                    # The common record: one line, as wide as the header, in a clean block.
                    if end == start and len(cells) == width and not lines.flagged and any(cells):
                        yield _row((start, cells, columns))
                        start += 1
                        continue
                    line, start = start, end + 1
                    if not self.header:
                        if any(c.strip() for c in cells):
                            self.header = [c.strip().lstrip("\ufeff") for c in cells]
                            width, columns = len(self.header), self._columns()
                        continue  # blank lines before the header are skipped
                    found = self._checked(lines, line, end, cells, width, columns)
                    if found is not None:
                        yield found
                break
            except csv.Error as exc:
                base += reader.line_num
                yield self._unclosed(lines, start, base, str(exc))
                start = base + 1
                reader = csv.reader(source, strict=True)
        if not self.header:
            self.problems.append(Problem(self.name, 0, None, "the file is empty: no header row"))

    def _checked(
        self, lines: _Lines, line: int, end: int, cells: list[str], width: int, columns: Mapping[str, int]
    ) -> Row | Problem | None:
        """A record off the common path: over several lines, in a block with bad or long lines, or blank."""
        if not any(c.strip() for c in cells):
            return None  # a blank line
        bad = next((lines.bad[n] for n in range(line, end + 1) if n in lines.bad), None)
        raw = lines.text(line, end)
        if bad is not None:
            return Problem(self.name, line, None, bad, raw, end)
        if end - line >= MAX_RECORD_LINES:
            reason = f"a quoted cell opened here runs to line {end}: a quote is missing"
            return Problem(self.name, line, None, reason, raw, end)
        if len(cells) != width:
            return Problem(self.name, line, None, f"{len(cells)} cells, but the header has {width}", raw, end)
        long = next((i for i, c in enumerate(cells) if len(c) > MAX_CELL), None)
        if long is not None:
            reason = f"the cell holds {len(cells[long]):,} characters (at most {MAX_CELL:,})"
            return Problem(self.name, line, self.header[long], reason, raw, end)
        return Row(line, cells, columns)

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

    def _unclosed(self, lines: _Lines, start: int, end: int, message: str) -> Problem:
        raw = lines.text(start, end)
        if "unexpected end of data" in message:
            reason = f"a quoted cell opened here never closes (read to line {end}): a quote is missing"
        else:
            reason = f"broken quoting: {message}"
        return Problem(self.name, start, None, reason, raw, end)


class _Utf16Lines(_Lines):
    """UTF-16 text (Excel's "Unicode text" export) cannot be split on newline bytes: decode the stream."""

    def __iter__(self) -> Iterator[str]:
        lines: list[str] = []
        self.kept.append((1, lines))
        for text in io.TextIOWrapper(self.stream, encoding=self.encoding, newline=""):
            self.number += 1
            if len(lines) >= 10_000:  # keep the recent lines only
                lines = []
                self.kept.append((self.number, lines))
            lines.append(text)
            yield text


def raw_records(path: Path, encoding: str, lines: Collection[int]) -> dict[int, str]:
    """The raw text of the records starting at `lines`, read again from the file (for quarantine,
    where a record is refused after its batch was read)."""
    wanted, found = set(lines), dict[int, str]()
    if not wanted:
        return found
    last = max(wanted)
    for item in TableFile(path, encoding).rows():
        if item.line in wanted:
            found[item.line] = item.text() if isinstance(item, Row) else item.raw
        if item.line >= last:
            break
    return found
