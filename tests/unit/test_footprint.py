"""The command line loads only what its commands need: the batch engine's libraries (Arrow, DuckDB,
the ADBC drivers, about 80 MB) load in the scoring worker, and openpyxl for a workbook, so a
large import stays within its memory bound (docs/imports.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pyarrow", "duckdb", "adbc_driver_sqlite", "adbc_driver_postgresql", "openpyxl")


@pytest.mark.parametrize(
    "module",
    [
        "leadpact.cli",
        "leadpact.services.imports",
        "leadpact.services.import_scores",
        "leadpact.api.app",
        "leadpact.adapters.analytics.worker",
    ],
)
def test_loading_leaves_the_batch_engine_out(module: str) -> None:
    probe = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
