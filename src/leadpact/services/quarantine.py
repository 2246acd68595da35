"""The quarantine of imports: what could not be read, listed and handed back to fix.

`quarantine_export` writes a run's bad records under the file's own header, in the file's own
encoding (a CP932 export comes back as CP932, so Japanese Excel opens it), ready to fix and
import again with the same format.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from leadpact.adapters.db.imports import QuarantinedRow
from leadpact.adapters.db.store import Store
from leadpact.domain.errors import NotFound


@dataclass(frozen=True)
class Exported:
    run_id: int
    file_name: str
    format: str
    encoding: str
    text: str
    rows: list[QuarantinedRow]


def quarantine_rows(engine: Engine, run_id: int | None = None, limit: int | None = None) -> list[QuarantinedRow]:
    with Store(engine) as store:
        return store.quarantine.rows([run_id] if run_id is not None else None, limit)


def quarantine_export(engine: Engine, run_id: int | None = None) -> Exported:
    """The records of `run_id` (default: the newest run with any), as the text of a CSV file."""
    with Store(engine) as store:
        if run_id is None:
            run = next((r for r in store.import_runs.recent(1_000) if r.quarantined), None)
            if run is None:
                raise NotFound("no import run has quarantined records")
        else:
            run = store.import_runs.get(run_id)
            if run is None:
                raise NotFound(f"no import run {run_id}")
        rows = store.quarantine.rows([run.id])
    # A workbook's or a UTF-16 file's records come back as a CSV that Excel opens: UTF-8 with a BOM.
    encoding = "utf-8-sig" if run.encoding.startswith("utf-16") or run.encoding == "xlsx" else run.encoding
    records = [r.raw if r.raw.endswith("\n") else r.raw + "\n" for r in rows]
    return Exported(run.id, run.file_name, run.format, encoding, run.header + "\n" + "".join(records), rows)
