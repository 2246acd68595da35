"""The batch engine's entry point: a rescore of the whole store (or of many leads) in one transaction,
run in a worker process on SQLite (see `scoring` for why) and in this process on PostgreSQL.

This module holds only the plumbing; the engine itself (`scoring`: Arrow, DuckDB, the ADBC
drivers, about 80 MB a process) is loaded by the worker, or here on first use on PostgreSQL. A
process that only hands rescores to the worker, as a large import does, never loads it.

Must not import: leadpact.services, the entry points, or leadpact.adapters.db.store.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import make_url

from leadpact.adapters import child
from leadpact.domain.pact import Pact


@dataclass(frozen=True, slots=True)
class BatchRun:
    """What one batch rescore read, computed and wrote, and how long each step took."""

    leads: int
    leads_with_activity: int
    activities: int
    read_seconds: float
    score_seconds: float
    write_seconds: float


def rescore_in_store(url: str, pact: Pact, version: int, at: datetime, leads: Sequence[int] | None = None) -> BatchRun:
    """Rescore every lead of the store at `url` (or those of `leads`, from all their stored activities)
    and write the rows in one transaction of its own, committed.

    SQLite: runs in the worker process (one per calling process, started on first use in about a
    second), so this process's own SQLite connections stay safe. Call it outside any open unit
    of work: it waits for the write lock like any other writer.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return _rescore_committed(url, pact, version, at, leads)
    global _worker
    with _worker_lock:
        worker = _worker_ready()
        try:
            child.send(worker.stdin, (url, pact, version, at, leads))
            status, value = child.receive(worker.stdout)
        except (EOFError, OSError) as exc:
            worker.kill()
            _worker = None
            raise RuntimeError("the SQLite scoring worker died; its transaction was rolled back") from exc
    if status == "error":
        raise value
    return value  # type: ignore[no-any-return]


def _rescore_committed(url: str, pact: Pact, version: int, at: datetime, leads: Sequence[int] | None) -> BatchRun:
    from leadpact.adapters.analytics.scoring import ArrowStore, rescore_store

    with ArrowStore(url) as store:
        run = rescore_store(store, pact, version, at, leads)
        store.commit()
    return run


# The worker is a plain `python -c` child (adapters/child.py).
_worker: subprocess.Popen[bytes] | None = None
_worker_lock = threading.Lock()
_WORKER_CODE = "from leadpact.adapters.analytics.worker import serve_worker; serve_worker()"


def start_worker(url: str) -> None:
    """Start the SQLite worker now, if `url` is a SQLite store, so that it is ready when first asked
    (it takes about a second to start; a long job that will rescore starts it first, in parallel)."""
    if make_url(url).get_backend_name() == "sqlite":
        with _worker_lock:
            _worker_ready()


def _worker_ready() -> subprocess.Popen[bytes]:
    global _worker
    if _worker is None or _worker.poll() is not None:
        _worker = _start_worker()
    return _worker


def _start_worker() -> subprocess.Popen[bytes]:
    worker = child.start(_WORKER_CODE)
    atexit.register(_stop, worker)
    return worker


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        assert worker.stdin is not None
        worker.stdin.close()  # end of input: the worker returns
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def worker_pid() -> int | None:
    """The SQLite worker's process id while it runs (for monitoring its memory), else None."""
    with _worker_lock:
        return None if _worker is None or _worker.poll() is not None else _worker.pid


def stop_worker() -> None:
    """Stop the SQLite worker process, if one was started (it is also stopped at interpreter exit)."""
    global _worker
    with _worker_lock:
        if _worker is not None:
            _stop(_worker)
        _worker = None


def keep_freed_memory() -> bool:
    """Have glibc keep large freed blocks for reuse instead of returning them to the system.

    A rebuild allocates and frees arrays of tens to hundreds of MB. By default glibc maps each
    anew and unmaps it on free, so every rebuild pays the kernel's page faults on fresh memory
    again; on the reference VM those cost more than the arithmetic (docs/benchmarks.md). The
    worker is a long-lived batch process, so it keeps its peak instead. False where this is
    not glibc (nothing changes there).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # from <malloc.h>
    return bool(
        mallopt(m_mmap_threshold, 1 << 30) and mallopt(m_trim_threshold, 1 << 34) and mallopt(m_top_pad, 64 << 20)
    )


def serve_worker() -> None:
    """The worker's loop: a request (url, pact, version, at, leads) in, ("ok", BatchRun) or ("error", exception) out."""
    keep_freed_memory()
    import leadpact.adapters.analytics.scoring  # noqa: F401  loaded while the caller works, before the first request

    requests, replies = sys.stdin.buffer, child.replies()
    while True:
        try:
            url, pact, version, at, leads = child.receive(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", _rescore_committed(url, pact, version, at, leads))
        except Exception as exc:  # sent back and raised in the caller
            reply = ("error", exc)
        try:
            child.send(replies, reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            child.send(replies, ("error", RuntimeError(repr(reply[1]))))
