"""What the numbers were measured on: CPU, cores, memory, library versions, SQLite builds, fsync and page-touch cost."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi
import duckdb
import numpy as np
import pyarrow as pa


def machine_info(cache: Path) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in ("numpy", "pyarrow", "duckdb", "sqlalchemy", "adbc-driver-sqlite", "adbc-driver-postgresql")
        }
        | {"duckdb_runtime": duckdb.__version__, "pyarrow_runtime": pa.__version__},
        "sqlite": _sqlite_builds(),
        "fsync_ms": _fsync_probe(cache),
        "fresh_memory_ms_per_mib": _first_touch_probe(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _sqlite_builds() -> dict[str, Any]:
    """Both SQLite libraries in play: Python's (the store, SQLAlchemy) and the one inside the ADBC driver."""
    with sqlite3.connect(":memory:") as connection:
        python = {
            "version": sqlite3.sqlite_version,
            "compile_options": [r[0] for r in connection.execute("PRAGMA compile_options")],
        }
    # An in-memory database: no file is shared with Python's SQLite, so the two libraries cannot clash.
    with adbc_driver_sqlite.dbapi.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()")
        version = cursor.fetchall()[0][0]
        cursor.execute("PRAGMA compile_options")
        adbc = {"version": version, "compile_options": [r[0] for r in cursor.fetchall()]}
    return {"python_sqlite3": python, "adbc_driver_sqlite": adbc}


def _fsync_probe(cache: Path, commits: int = 1_000) -> dict[str, float]:
    """Latency of write + fsync on the bench's disk, 1,000 times (the cost a synchronous=FULL commit pays)."""
    latencies = []
    with tempfile.NamedTemporaryFile(dir=cache) as handle:
        for i in range(commits):
            handle.write(i.to_bytes(4, "little"))
            handle.flush()
            started = time.perf_counter()
            os.fsync(handle.fileno())
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "median": round(statistics.median(latencies), 3),
        "p99": round(latencies[int(len(latencies) * 0.99) - 1], 3),
    }


def _first_touch_probe(mib: int = 256) -> float:
    """Milliseconds per MiB to fault in memory this process never touched.

    On the reference VM this is far above a bare-metal machine's ~0.1–0.2 ms/MiB, and memory
    freed for more than a few seconds is handed back to the host, so every large NumPy/Arrow
    allocation in a run pays it again. It is part of every time below.
    """
    started = time.perf_counter()
    block = np.ones(mib * 1024 * 1024 // 8)
    elapsed = time.perf_counter() - started
    del block
    return round(elapsed * 1000 / mib, 3)
