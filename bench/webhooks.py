"""W5 and W6: webhook ingest over HTTP, beside the framework's own costs, in the same run.

Each variant is a server process pinned to core 0 and the load generator (bench/loadgen.py, or
wrk for the unsigned baselines when installed, as a cross-check) pinned to core 1, with keep-alive
connections in a closed loop: c=32 for single events (W5), c=10 for 100-event batches (W6, the
most HubSpot keeps in flight).

* W5 ours: `leadpact serve --no-apply`, HubSpot one-event arrays signed v3, each acknowledged
  after a synced SQLite commit (synchronous=FULL); the same with applying on the same core ("as
  deployed"); the generic endpoint; FastAPI + pydantic validating the same body without a store;
  a FastAPI no-op; a raw ASGI app (the HTTP ceiling). All served by uvicorn with uvloop and
  httptools, as `leadpact serve` runs.
* W6 ours: 100-event HubSpot batches, signature verified, stored before the answer; as deployed.
  Compared with W5's single-event path in events/s.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import GENERIC_SECRET, SECRET

ROOT = Path(__file__).resolve().parents[1]
SERVER_CORE, GENERATOR_CORE = 0, 1
# tier → (runs per variant, measured seconds per run, warm-up seconds)
LENGTHS = {"S": (1, 2.0, 0.5), "M": (3, 5.0, 2.0), "L": (3, 10.0, 2.0)}


@dataclass
class LoadRun:
    """One variant: its runs, and the median run (by throughput) as its figures."""

    name: str
    requests_per_second: float
    events_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    runs: list[dict[str, Any]]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _pinned(core: int) -> Any:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if core not in cores or len(cores) < 2:
        return None  # one core: server and generator share it (the figures say so)
    return lambda: os.sched_setaffinity(0, {core})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(command: list[str], env: dict[str, str], log: Path) -> Any:
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinned(SERVER_CORE),
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the server did not listen within 60 s") from None
                    time.sleep(0.1)
            yield port, process
        finally:
            process.send_signal(2)  # SIGINT: uvicorn's graceful stop
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _generate(url: str, kind: str, events: int, connections: int, seconds: float, warmup: float) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--kind",
        kind,
        "--events",
        str(events),
        "--connections",
        str(connections),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
    ]
    if _pinned(GENERATOR_CORE) is not None:
        command += ["--core", str(GENERATOR_CORE)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _wrk(url: str, connections: int, seconds: float) -> dict[str, Any] | None:
    """wrk's requests/s for an unsigned POST of a one-event body, when wrk is installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = ROOT / "bench" / "wrk_post.lua"
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    if _pinned(GENERATOR_CORE) is not None:
        command = ["taskset", "-c", str(GENERATOR_CORE), *command]
    done = subprocess.run(command, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return {"requests_per_second": float(line.split()[1]), "output": done.stdout}
    return None


def _variant(
    name: str,
    command: Any,
    env: dict[str, str],
    path: str,
    kind: str,
    events: int,
    connections: int,
    tier: str,
    work: Path,
    note: str = "",
    after: Any = None,
) -> LoadRun:
    runs_n, seconds, warmup = LENGTHS[tier]
    runs: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    for run in range(runs_n):
        argv = command() if callable(command) else command  # a callable builds a fresh store per run
        with _server(argv, env, work / "server.log") as (port, process):
            before, started = _cpu_seconds(process.pid), time.monotonic()
            result = _generate(f"http://127.0.0.1:{port}{path}", kind, events, connections, seconds, warmup)
            result["server_cpu"] = (_cpu_seconds(process.pid) - before) / (time.monotonic() - started)
            if after is not None and run == runs_n - 1:
                extra = after(process)
        if result["failed"]:
            raise RuntimeError(f"{name}: {result['failed']} answers were not 2xx: {result['statuses']}")
        runs.append(result)
    ordered = sorted(runs, key=lambda r: r["requests_per_second"])
    median = ordered[len(ordered) // 2]
    return LoadRun(
        name,
        median["requests_per_second"],
        median["events_per_second"],
        median["latency_ms"]["p50"],
        median["latency_ms"]["p99"],
        median["latency_ms"]["max"],
        runs,
        note,
        extra,
    )


def _pending(db: Path) -> int:
    with closing(sqlite3.connect(db, timeout=30)) as connection:
        found = connection.execute("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL").fetchone()
    return int(found[0])


def _drain(db: Path) -> Any:
    """After an as-deployed run: how long the server takes to apply what is still pending."""

    def measure(_: subprocess.Popen[bytes]) -> dict[str, Any]:
        backlog, started = _pending(db), time.monotonic()
        while (left := _pending(db)) > 0 and time.monotonic() - started < 600:
            time.sleep(0.2)
        seconds = time.monotonic() - started
        return {
            "backlog_at_end": backlog,
            "drain_seconds": seconds,
            "left": left,
            "apply_rate": backlog / seconds if seconds else None,
        }

    return measure


def _leadpact(work: Path, name: str, apply: bool) -> Any:
    """`leadpact serve` on a store of its own, made afresh for each run."""

    def command() -> list[str]:
        db = _fresh(work, name)
        argv = [sys.executable, "-m", "leadpact", "--db", f"sqlite:///{db}", "serve", "--no-access-log"]
        return [*argv, "--apply" if apply else "--no-apply"]

    return command


def _uvicorn(target: str, factory: bool = False) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", target, "--loop", "uvloop", "--http", "httptools"]
    return [*command, "--no-access-log", "--log-level", "warning", *(["--factory"] if factory else [])]


def _fresh(work: Path, name: str) -> Path:
    db = work / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "LEADPACT_HUBSPOT_CLIENT_SECRET": SECRET,
        "LEADPACT_WEBHOOK_SECRET": GENERIC_SECRET,
        "PYTHONPATH": str(ROOT),
    }


def w5_w6(tier: str, cache: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    work = cache / "webhooks"
    work.mkdir(parents=True, exist_ok=True)
    env = _env()
    hubspot = "/webhooks/hubspot"
    w5: list[LoadRun] = []
    w5.append(
        _variant(
            "ours: store durably, then answer (applying deferred, serve --no-apply)",
            _leadpact(work, "w5", apply=False),
            env,
            hubspot,
            "hubspot",
            1,
            32,
            tier,
            work,
            "HubSpot one-event arrays, signature v3; synchronous=FULL commit before each answer",
        )
    )
    w5.append(
        _variant(
            "ours as deployed: store, answer and apply on the one core",
            _leadpact(work, "w5-applied", apply=True),
            env,
            hubspot,
            "hubspot",
            1,
            32,
            tier,
            work,
            "the background processor defers to arriving deliveries; what is pending at the end drains after",
            _drain(work / "w5-applied.db"),
        )
    )
    w5.append(
        _variant(
            "ours, generic endpoint: one canonical event (serve --no-apply)",
            _leadpact(work, "w5-generic", apply=False),
            env,
            "/webhooks/generic",
            "generic",
            1,
            32,
            tier,
            work,
            "HMAC-SHA256 of timestamp.body, parsed and checked as `leadpact ingest` does",
        )
    )
    w5.append(
        _variant(
            "FastAPI + pydantic, no store (same body, same model)",
            _uvicorn("bench.asgi_apps:fastapi_pydantic", factory=True),
            env,
            "/validate",
            "plain",
            1,
            32,
            tier,
            work,
        )
    )
    w5.append(
        _variant(
            "FastAPI no-op (reads the body, answers)",
            _uvicorn("bench.asgi_apps:fastapi_noop", factory=True),
            env,
            "/noop",
            "plain",
            1,
            32,
            tier,
            work,
        )
    )
    ceiling = _variant(
        "raw ASGI ceiling",
        _uvicorn("bench.asgi_apps:raw"),
        env,
        "/",
        "plain",
        1,
        32,
        tier,
        work,
        "a bare ASGI callable answering a fixed body",
    )
    _, seconds, _ = LENGTHS[tier]
    with _server(_uvicorn("bench.asgi_apps:raw"), env, work / "server.log") as (port, _process):
        checked = _wrk(f"http://127.0.0.1:{port}/", 32, seconds)
    if checked is not None:
        ceiling.extra["wrk_requests_per_second"] = checked["requests_per_second"]
        ceiling.note += f"; wrk on the same app: {checked['requests_per_second']:,.0f} req/s"
    w5.append(ceiling)

    w6: list[LoadRun] = []
    w6.append(
        _variant(
            "ours: 100-event HubSpot batches, stored durably, then answered (serve --no-apply)",
            _leadpact(work, "w6", apply=False),
            env,
            hubspot,
            "hubspot",
            100,
            10,
            tier,
            work,
            "c=10 (HubSpot keeps at most 10 requests in flight); signature v3 over each 30 kB body",
        )
    )
    w6.append(
        _variant(
            "ours as deployed: 100-event batches, applying on the same core",
            _leadpact(work, "w6-applied", apply=True),
            env,
            hubspot,
            "hubspot",
            100,
            10,
            tier,
            work,
            "applying lags during the burst and drains after",
            _drain(work / "w6-applied.db"),
        )
    )
    w6.append(
        _variant(
            "FastAPI + pydantic, no store: 100-event batches",
            _uvicorn("bench.asgi_apps:fastapi_pydantic", factory=True),
            env,
            "/validate",
            "plain",
            100,
            10,
            tier,
            work,
        )
    )
    single = w5[0]
    w6.append(
        LoadRun(
            "ours, single events (W5's first variant), in events/s",
            single.requests_per_second,
            single.events_per_second,
            single.p50_ms,
            single.p99_ms,
            single.max_ms,
            [],
            "the same run as W5's first row",
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    return (
        {"variants": w5, "connections": 32, "events_per_request": 1},
        {"variants": w6, "connections": 10, "events_per_request": 100},
    )
