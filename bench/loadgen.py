"""A closed-loop HTTP load generator for W5/W6: C keep-alive connections, each sending its next request
as soon as the answer to the last one is read; every answer's latency is recorded.

`python -m bench.loadgen --url URL --kind hubspot --events 1 --connections 32 --seconds 10 --core 1`
prints one JSON object: requests, events, seconds, latencies (p50/p90/p99/max) and non-2xx answers.

Raw asyncio streams on uvloop, no HTTP library: requests are bytes built from a template, each with a
fresh eventId (a repeated one would take the cheaper duplicate path) and a fresh v3 signature.
It runs in its own process, pinned to its own core, so it never takes the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlsplit

SECRET = "bench-hubspot-secret"
GENERIC_SECRET = "bench-generic-secret"
CONTACTS = 20_000
# One HubSpot contact.propertyChange event, as HubSpot shapes it (ids and times filled in).
EVENT = (
    '{{"eventId":{id},"subscriptionId":2941,"portalId":62515,"appId":54321,"occurredAt":{at},'
    '"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":{contact},'
    '"propertyName":"jobtitle","propertyValue":"生産技術部 課長 {id}","changeSource":"CRM_UI",'
    '"sourceId":"userId:45678"}}'
)
CANONICAL = (
    '{{"id":"bench-{id}","source":"web_form","at":"2026-10-01T09:00:00+09:00",'
    '"lead":{{"system":"web_form","id":"{contact}"}},"type":"lead_upsert","attributes":{{"title":"課長 {id}"}}}}'
)


@dataclass
class Requests:
    """Builds each request's bytes: a unique body, signed as its endpoint expects."""

    kind: str  # hubspot | generic | plain (no signature)
    host: str
    path: str
    events: int
    ids: count[int] = field(default_factory=lambda: count(1))

    def next(self) -> tuple[bytes, int]:
        now_ms = int(time.time() * 1000)
        first = next(self.ids)
        for _ in range(self.events - 1):
            next(self.ids)
        if self.kind == "generic":
            body = CANONICAL.format(id=first, contact=first % CONTACTS).encode()
        else:
            parts = [
                EVENT.format(id=first + i, at=now_ms - 1000 + i, contact=(first + i) % CONTACTS)
                for i in range(self.events)
            ]
            body = ("[" + ",".join(parts) + "]").encode()
        headers = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if self.kind == "hubspot":
            stamp = str(now_ms)
            source = b"POST" + f"http://{self.host}{self.path}".encode() + body + stamp.encode()
            signed = base64.b64encode(hmac.new(SECRET.encode(), source, hashlib.sha256).digest()).decode()
            headers += [f"X-HubSpot-Signature-v3: {signed}", f"X-HubSpot-Request-Timestamp: {stamp}"]
        elif self.kind == "generic":
            stamp = str(now_ms // 1000)
            digest = hmac.new(GENERIC_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers += [f"X-Leadpact-Timestamp: {stamp}", f"X-Leadpact-Signature: sha256={digest}"]
        return ("\r\n".join(headers) + "\r\n\r\n").encode() + body, self.events


@dataclass
class Tally:
    measuring: bool = False
    requests: int = 0
    events: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


class Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, reads the whole answer, sends the next."""

    def __init__(self, requests: Requests, tally: Tally, stop: asyncio.Event, done: asyncio.Future[None]) -> None:
        self.requests, self.tally, self.stop, self.done = requests, tally, stop, done
        self.buffer = bytearray()
        self.events = 0
        self.started = 0.0
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if self.stop.is_set():
            self.transport.close()
            return
        data, self.events = self.requests.next()
        self.started = time.perf_counter()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        at = head.lower().find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        elapsed = time.perf_counter() - self.started
        del self.buffer[: end + 4 + length]
        tally = self.tally
        if tally.measuring:
            status = head[9:12].decode()
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status.startswith("2"):
                tally.requests += 1
                tally.events += self.events
                tally.latencies.append(elapsed)
            else:
                tally.failed += 1
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(url: str, kind: str, events: int, connections: int, seconds: float, warmup: float) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = Requests(kind, f"{host}:{port}", parts.path or "/", events)
    tally, stop = Tally(), asyncio.Event()
    loop = asyncio.get_running_loop()
    closed: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(lambda done=done: Connection(requests, tally, stop, done), host, port)  # type: ignore[misc]
        closed.append(done)
    await asyncio.sleep(warmup)
    tally.measuring = True
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    tally.measuring = False
    elapsed = time.perf_counter() - started
    busy = (time.process_time() - cpu) / elapsed
    stop.set()
    await asyncio.wait(closed, timeout=30)
    ordered = sorted(tally.latencies)
    return {
        "url": url,
        "kind": kind,
        "events_per_request": events,
        "connections": connections,
        "seconds": elapsed,
        "requests": tally.requests,
        "events": tally.events,
        "requests_per_second": tally.requests / elapsed,
        "events_per_second": tally.events / elapsed,
        "latency_ms": {
            "p50": quantile(ordered, 0.50) * 1000,
            "p90": quantile(ordered, 0.90) * 1000,
            "p99": quantile(ordered, 0.99) * 1000,
            "max": (ordered[-1] if ordered else float("nan")) * 1000,
        },
        "failed": tally.failed,
        "statuses": tally.statuses,
        "generator_cpu": busy,  # share of its core the generator used: near 1.0, it may be the bound
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["hubspot", "generic", "plain"], default="hubspot")
    parser.add_argument("--events", type=int, default=1, help="HubSpot events per request")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--core", type=int, default=None, help="pin this process to one CPU core")
    args = parser.parse_args(argv)
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is locked, but the generator works without it
        pass
    result = asyncio.run(run(args.url, args.kind, args.events, args.connections, args.seconds, args.warmup))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
