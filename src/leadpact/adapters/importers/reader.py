"""One entry point for an export file, CSV or XLSX: `open_table` looks at its first bytes.

A ZIP archive is an XLSX workbook (`workbook.WorkbookFile`), whatever its name; anything else
is CSV text (`table.TableFile`), unless its name says .xlsx or .xlsm, which makes it a damaged
workbook rather than a CSV file to misread. Both give the same `Table` interface: `name`,
`header`, `problems` (file-level) and `rows()` of `Row` and `Problem`.

`encoding` is for CSV only: an XLSX workbook is Unicode by definition, so a given encoding
does not apply to it and is not used (one command line can import a folder of both kinds).
`sheet` is for XLSX only: naming a sheet of a CSV file is refused, as the wrong file was
most likely picked.

Must not import: the store, services or entry points.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from leadpact.adapters.importers.table import Problem, Row, TableFile

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xltx", ".xltm"})
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: Excel 97–2003, and any password-protected workbook
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class Table(Protocol):
    """What an importer reads: a CSV file or one sheet of a workbook."""

    path: Path
    name: str
    header: list[str]
    problems: list[Problem]

    def rows(self) -> Iterator[Row | Problem]: ...


def open_table(path: Path, encoding: str | None = None, sheet: str | None = None, name: str | None = None) -> Table:
    """The export at `path` as a `Table`; `ValueError` (one line, naming the file) when it cannot be one."""
    try:
        with path.open("rb") as probe:
            head = probe.read(8)
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if is_workbook(head) or head.startswith(XLS_MAGIC) or path.suffix.lower() in WORKBOOK_SUFFIXES:
        # openpyxl (30 MB a process) is loaded for a workbook only, not for every CSV import
        from leadpact.adapters.importers.workbook import WorkbookFile

        return WorkbookFile(path, sheet=sheet, name=name)
    if sheet is not None:
        raise ValueError(f"{path.name} is a CSV file, which has no sheets: --sheet is for XLSX workbooks")
    try:
        return TableFile(path, encoding, name)
    except ValueError as exc:  # an undetectable or unknown encoding: name the file
        raise ValueError(f"{path.name}: {exc}") from None


def is_workbook(head: bytes) -> bool:
    """Whether a file starting with `head` is a ZIP archive (as every XLSX workbook is)."""
    return head.startswith(ZIP_MAGIC)


__all__ = ["Table", "is_workbook", "open_table"]
