"""Webhook deliveries as the senders make them: HubSpot events and signed requests, signed canonical events,
and a real uvicorn server on a free port for tests that need real concurrency."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from leadpact.api.signatures import hubspot_v3
from leadpact.domain.escalation import signature

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
GENERIC_SECRET = "generic-test-secret"
TEST_URL = "http://testserver"  # what TestClient calls


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def contact_event(
    event_id: int, at: datetime, kind: str = "creation", contact: int = 501, **fields: Any
) -> dict[str, Any]:
    """A HubSpot contact event; `propertyChange` takes property=… and value=…."""
    event: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": 12345,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": millis(at),
        "subscriptionType": f"contact.{kind}",
        "attemptNumber": 0,
        "objectId": contact,
        "changeSource": "CRM_UI",
    }
    if "property" in fields:
        event["propertyName"] = fields.pop("property")
        event["propertyValue"] = fields.pop("value")
    event.update(fields)
    return event


def body_of(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode()


def hubspot_headers(body: bytes, now: datetime, url: str = f"{TEST_URL}/webhooks/hubspot") -> dict[str, str]:
    """v3 headers as HubSpot sends them for a POST of `body` to `url` at `now`."""
    timestamp = str(millis(now))
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": hubspot_v3(HUBSPOT_SECRET, "POST", url, body, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def generic_headers(body: bytes, now: datetime, secret: str = GENERIC_SECRET) -> dict[str, str]:
    """Headers as leadpact's own webhook channel signs (adapters/notifiers.py)."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "X-Leadpact-Timestamp": str(timestamp),
        "X-Leadpact-Signature": signature(secret, timestamp, body),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free port until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            started.set()
            break
        threading.Event().wait(0.01)
    assert started.is_set(), "the test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
