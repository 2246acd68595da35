"""Local stand-ins for the far end of a notification: an HTTP receiver and a small SMTP server.

Both listen on 127.0.0.1 in a thread of the test process, record what arrives, and can be
told to fail the next requests, so tests see exactly what a Slack workspace, a webhook
consumer or a mail server would have received. The HTTP receiver checks webhook signatures
the way docs/sla.md tells a receiver to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a webhook receiver does: recompute HMAC-SHA256 of `timestamp.body` and compare in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class HttpReceiver:
    """Records every POST; answers 500 to the next `failures` ones; with a `secret`, 401 to a bad signature."""

    secret: str | None = None
    failures: int = 0
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.status == 200]

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.failures > 0:
            self.failures -= 1
            status = 500
        elif self.secret is not None and not verify_signature(
            self.secret,
            headers.get("X-Leadpact-Timestamp", ""),
            body,
            headers.get("X-Leadpact-Signature", ""),
        ):
            status = 401
        else:
            status = 200
        self.requests.append(Request(path, headers, body, status))
        return status


@contextmanager
def http_receiver(secret: str | None = None, failures: int = 0) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(secret=secret, failures=failures)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (the http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = receiver.answer(self.path, dict(self.headers.items()), body)
            answer = b"ok" if status == 200 else b"upstream trouble" if status == 500 else b"bad signature"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    with _serving(server):
        yield receiver


@contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve in a thread until the block ends; a short poll interval keeps the shutdown quick."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """Enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    username: str | None = None
    password: str | None = None
    failures: int = 0  # answer 451 to the next MAIL commands
    mails: list[Mail] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpTcpServer

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        state = self.server.state
        self.reply("220 127.0.0.1 leadpact test SMTP")
        sender: str | None = None
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-127.0.0.1\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN\r\n")
            elif verb == "HELO":
                self.reply("250 127.0.0.1")
            elif verb == "AUTH":
                _authzid, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                ok = (user, password) == (state.username, state.password)
                self.reply("235 2.7.0 accepted" if ok else "535 5.7.8 bad credentials")
            elif verb == "MAIL":
                with self.server.lock:
                    refuse = state.failures > 0
                    state.failures -= 1 if refuse else 0
                if refuse:
                    self.reply("451 4.3.0 try again later")
                    continue
                sender, recipients = command.split(":", 1)[1].split()[0].strip("<>"), []
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].split()[0].strip("<>"))
                self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                with self.server.lock:
                    state.mails.append(Mail(sender or "", recipients, b"".join(lines)))
                self.reply("250 2.0.0 queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("502 5.5.2 not implemented")


class _SmtpTcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SmtpServer) -> None:
        self.state = state
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SmtpHandler)


@contextmanager
def smtp_server(username: str | None = None, password: str | None = None) -> Iterator[SmtpServer]:
    state = SmtpServer(username=username, password=password)
    server = _SmtpTcpServer(state)
    state.port = server.server_address[1]
    with _serving(server):
        yield state


def closed_port() -> int:
    """A loopback port nothing listens on: a channel pointed at it is down (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


WEBHOOK_SECRET = "whsec-0123456789"


@dataclass
class Far:
    """The far ends of the channels: Slack, a mail server and a webhook consumer, all on this machine."""

    slack: HttpReceiver
    smtp: SmtpServer
    hook: HttpReceiver


@contextmanager
def far_ends() -> Iterator[Far]:
    """Slack, an SMTP server that wants leadpact/pw, and a webhook consumer checking WEBHOOK_SECRET."""
    with (
        http_receiver() as slack,
        smtp_server(username="leadpact", password="pw") as smtp,
        http_receiver(secret=WEBHOOK_SECRET) as hook,
    ):
        yield Far(slack, smtp, hook)
