"""Streaming a layout as a CSV file: one row written per lead read, nothing kept.

Every cell, headers included, goes through `neutralise_formula` (a cell a spreadsheet would
run as a formula gets a leading `'`). Lines end in CRLF (RFC 4180), which HubSpot, Data Loader
and Excel all read. A cell the encoding cannot hold (a character outside CP932, say) is
written with `?` in its place and reported, lead and column, so the file is complete and the
loss is known.

Must not import: the store, services or entry points.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import IO

from leadpact.adapters.exporters.record import Layout, LeadRecord
from leadpact.adapters.importers.values import neutralise_formula

ENCODINGS = ("utf-8", "utf-8-sig", "cp932")


@dataclass
class Written:
    rows: int = 0
    replaced: list[tuple[int, str]] = field(default_factory=list)  # (lead id, header) written with `?`


def write_csv(
    stream: IO[bytes],
    layout: Layout,
    leads: Iterable[LeadRecord],
    zone: tzinfo,
    encoding: str,
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Write the header and one row per lead to `stream` (left open); returns what was written."""
    check = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
    header = layout.header
    written = Written()
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([neutralise_formula(h) for h in header])
        for lead in leads:
            cells = [neutralise_formula(cell) for cell in layout.cells(lead, zone)]
            try:
                "".join(cells).encode(check)
            except UnicodeEncodeError:
                cells = _replaced(cells, check, lead, header, written)
            writer.writerow(cells)
            written.rows += 1
            if progress is not None:
                progress(1)
        text.flush()
    finally:
        text.detach()  # the caller owns the stream (standard output stays open)
    return written


def _replaced(cells: list[str], encoding: str, lead: LeadRecord, header: list[str], written: Written) -> list[str]:
    out = []
    for name, cell in zip(header, cells, strict=True):
        try:
            cell.encode(encoding)
        except UnicodeEncodeError:
            written.replaced.append((lead.id, name))
            cell = cell.encode(encoding, errors="replace").decode(encoding)
        out.append(cell)
    return out
