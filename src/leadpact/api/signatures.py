"""Webhook signatures: HubSpot's (v3, and v1/v2 for requests that carry only those) and leadpact's own.

HubSpot v3: base64 of HMAC-SHA256, keyed with the app's client secret, over method + URI + raw
body + X-HubSpot-Request-Timestamp (Unix milliseconds); the URI is the full URL HubSpot called,
with a few percent-encoded characters decoded (`v3_uri`). v2: hex SHA-256 of client secret +
method + URI + body; v1: of client secret + body (no timestamp, so no freshness check).

leadpact's own (generic senders, and leadpact's outgoing webhooks in adapters/notifiers.py): hex
HMAC-SHA256 of `timestamp.body` in X-Leadpact-Signature as `sha256=…`, with X-Leadpact-Timestamp
in Unix seconds (domain/escalation.py signs; docs/sla.md shows receivers how to verify).

Every check compares in constant time and refuses a timestamp more than five minutes from now,
either way. Pure: no IO; `now` is passed in. Must not import: services, adapters or the web framework.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta

from leadpact.domain.escalation import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

V3_HEADER = "X-HubSpot-Signature-v3"
LEGACY_HEADER = "X-HubSpot-Signature"
VERSION_HEADER = "X-HubSpot-Signature-Version"
HUBSPOT_TIMESTAMP = "X-HubSpot-Request-Timestamp"
WINDOW = timedelta(minutes=5)

# HubSpot's v3 instructions: decode these percent-encoded characters of the URI before signing.
_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


class SignatureRefused(Exception):
    """The request is not proven to come from the sender; the message says why in one line."""


def hubspot_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def hubspot_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + method.encode() + uri.encode() + body).hexdigest()


def v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the characters its instructions list, percent-decoded."""
    return _ESCAPE.sub(lambda m: _V3_DECODED.get(m.group().upper(), m.group()), uri)


def hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + v3_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def _sent(value: str, per_second: int, header: str, unit: str, now: datetime) -> datetime:
    """The instant a timestamp header names, or SignatureRefused."""
    text = value.strip()
    try:
        if not text.isdigit():
            raise ValueError(text)
        return datetime.fromtimestamp(int(text) / per_second, tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise SignatureRefused(f"{header} {value!r} is not Unix {unit}") from None


def _fresh(sent: datetime, now: datetime, header: str) -> None:
    if now - sent > WINDOW:
        raise SignatureRefused(f"{header} is more than 5 minutes old")
    if sent - now > WINDOW:
        raise SignatureRefused(f"{header} is more than 5 minutes in the future")


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def verify_hubspot(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    *,
    v3: str | None,
    timestamp: str | None,
    legacy: str | None,
    version: str | None,
    now: datetime,
) -> str:
    """Check a HubSpot request; returns the signature version that proved it, or raises SignatureRefused.

    With a v3 signature only v3 counts. Without one, X-HubSpot-Signature is checked as its
    X-HubSpot-Signature-Version says (v1 when the version header is missing).
    """
    if v3 is not None:
        if timestamp is None:
            raise SignatureRefused(f"{HUBSPOT_TIMESTAMP} is missing")
        _fresh(_sent(timestamp, 1000, HUBSPOT_TIMESTAMP, "milliseconds", now), now, HUBSPOT_TIMESTAMP)
        if not _same(hubspot_v3(secret, method, uri, body, timestamp.strip()), v3):
            raise SignatureRefused(f"{V3_HEADER} does not match the request (signed for {v3_uri(uri)}?)")
        return "v3"
    if legacy is None:
        raise SignatureRefused(f"no {V3_HEADER} or {LEGACY_HEADER} header")
    named = (version or "v1").strip().lower()
    if named == "v1":
        expected = hubspot_v1(secret, body)
    elif named == "v2":
        expected = hubspot_v2(secret, method, uri, body)
    else:
        raise SignatureRefused(f"{VERSION_HEADER} {version!r} is not v1 or v2")
    if not _same(expected, legacy.lower()):
        where = f" (signed for {uri}?)" if named == "v2" else ""
        raise SignatureRefused(f"{LEGACY_HEADER} ({named}) does not match the request{where}")
    return named


def verify_leadpact(secret: str, body: bytes, *, timestamp: str | None, given: str | None, now: datetime) -> None:
    """Check a request signed as leadpact signs its own webhooks, or raise SignatureRefused."""
    if given is None:
        raise SignatureRefused(f"{SIGNATURE_HEADER} is missing")
    if timestamp is None:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is missing")
    _fresh(_sent(timestamp, 1, TIMESTAMP_HEADER, "seconds", now), now, TIMESTAMP_HEADER)
    if not _same(signature(secret, int(timestamp), body), given):
        raise SignatureRefused(f"{SIGNATURE_HEADER} does not match the request")
