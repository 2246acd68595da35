"""`leadpact serve` as an operator runs it: a process on a port, a signed HubSpot delivery, the lead it makes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from leadpact.cli import app
from tests.deliveries import HUBSPOT_SECRET, body_of, contact_event, free_port, hubspot_headers

WAIT = 60.0  # seconds for the server to start and to apply; a bound on a hang, not a speed claim


def leadpact(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leadpact", *args], env=env, capture_output=True, text=True)


def until(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LEADPACT_DATABASE_URL": f"sqlite:///{tmp_path / 'leadpact.db'}",
        "LEADPACT_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "LEADPACT_LANG": "en",
    }


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "leadpact", "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError((tmp_path / "serve.log").read_text())
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        until(healthy, "leadpact serve to answer /health")
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=WAIT)
        log.close()


def test_a_signed_delivery_to_leadpact_serve_becomes_a_lead(
    server: tuple[str, subprocess.Popen[bytes]], env: dict[str, str]
) -> None:
    base, process = server
    now = datetime.now(UTC)  # the running server checks the signature's age against the wall clock
    events = [
        contact_event(1, now - timedelta(seconds=3)),
        contact_event(2, now - timedelta(seconds=2), "propertyChange", property="email", value="Hanako@Example.co.jp"),
        contact_event(3, now - timedelta(seconds=1), "propertyChange", property="company", value="株式会社サンプル"),
    ]
    body = body_of(events)
    url = f"{base}/webhooks/hubspot"
    answer = httpx.post(url, content=body, headers=hubspot_headers(body, now, url), timeout=WAIT)
    assert answer.status_code == 200
    assert answer.json() == {"received": 3, "stored": 3, "duplicates": 0, "refused": []}
    unsigned = httpx.post(url, content=body, timeout=WAIT)
    assert unsigned.status_code == 401

    database = env["LEADPACT_DATABASE_URL"].removeprefix("sqlite:///")

    def applied() -> bool:
        with closing(sqlite3.connect(database)) as connection:
            found = connection.execute("SELECT count(*) FROM webhook_events WHERE outcome = 'applied'").fetchone()
        return bool(found[0] == 3)

    until(applied, "the server to apply the delivery")
    listed = json.loads(leadpact(env, "webhooks", "list", "--json").stdout)
    assert listed["counts"] == {"applied": 3}
    shown = leadpact(env, "lead", "show", "hanako@example.co.jp", "--json")
    assert shown.returncode == 0, shown.stderr
    lead = json.loads(shown.stdout)
    assert (lead["email"], lead["stage"], lead["attributes"]) == (
        "hanako@example.co.jp",
        "lead",
        {"company": "株式会社サンプル"},
    )
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=WAIT) == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LEADPACT_HUBSPOT_OWNERS", "{12345: 田中}", "error: LEADPACT_HUBSPOT_OWNERS is not valid JSON"),
        (
            "LEADPACT_HUBSPOT_STAGES",
            '{"1234567": "customer"}',
            "error: LEADPACT_HUBSPOT_STAGES['1234567']: Input should be 'lead', 'mql', 'sal',",
        ),
        (
            "LEADPACT_PUBLIC_URL",
            "leadpact.example.co.jp",
            "error: LEADPACT_PUBLIC_URL: 'leadpact.example.co.jp' is not a base URL like https://",
        ),
    ],
)
def test_a_setting_the_user_got_wrong_is_one_line_naming_it(
    env: dict[str, str], variable: str, value: str, message: str
) -> None:
    done = CliRunner().invoke(app, ["webhooks", "list"], env={**env, variable: value})
    assert done.exit_code == 2
    assert done.stderr.startswith(message)
    assert done.exception is None or isinstance(done.exception, SystemExit)
