"""Webhook signatures: HubSpot's published v1/v2 vectors, v3 and its tampered variants, leadpact's own scheme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadpact.api.signatures import (
    SignatureRefused,
    hubspot_v1,
    hubspot_v2,
    hubspot_v3,
    v3_uri,
    verify_hubspot,
    verify_leadpact,
)
from leadpact.domain.escalation import signature

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
URI = "https://www.example.com/webhook_uri"
NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # 1700000000000 ms
STAMP = "1700000000000"


def test_hubspot_v1_published_vector() -> None:
    assert hubspot_v1(SECRET, V1_BODY) == "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"


def test_hubspot_v2_published_vectors() -> None:
    assert hubspot_v2(SECRET, "GET", URI, b"") == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    post = hubspot_v2(SECRET, "POST", URI, b'{"example_field":"example_value"}')
    assert post == "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"


def test_hubspot_v3_self_computed_regression_vector() -> None:
    # Not an official vector (HubSpot publishes none for v3): it holds the computation still.
    assert hubspot_v3(SECRET, "POST", URI, V1_BODY, STAMP) == "/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE="


def v3(
    signed: str | None = None, *, method: str = "POST", uri: str = URI, body: bytes = V1_BODY, stamp: str = STAMP
) -> str:
    """Verify a v3 request; `signed` defaults to HubSpot's signature of the untampered request."""
    given = signed if signed is not None else hubspot_v3(SECRET, "POST", URI, V1_BODY, STAMP)
    return verify_hubspot(SECRET, method, uri, body, v3=given, timestamp=stamp, legacy=None, version=None, now=NOW)


def test_a_v3_request_built_here_passes() -> None:
    assert v3() == "v3"


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"body": V1_BODY.replace(b'"objectId":123', b'"objectId":124')}, "does not match"),
        ({"body": V1_BODY + b" "}, "does not match"),
        ({"method": "PUT"}, "does not match"),
        ({"uri": "https://www.example.com/webhook_uri?x=1"}, "does not match"),
        ({"uri": "http://www.example.com/webhook_uri"}, "does not match"),  # a proxy's scheme
        ({"uri": "https://leadpact.internal/webhook_uri"}, "does not match"),  # a proxy's host
        ({"stamp": "1700000000001"}, "does not match"),  # within the window, but not what was signed
        ({"stamp": str(1700000000000 - 5 * 60_000 - 1)}, "more than 5 minutes old"),
        ({"stamp": str(1700000000000 + 5 * 60_000 + 1)}, "more than 5 minutes in the future"),
        ({"stamp": "1700000000"}, "more than 5 minutes old"),  # seconds, as one public fixture wrongly has it
        ({"stamp": "soon"}, "is not Unix milliseconds"),
        ({"stamp": "9" * 40}, "is not Unix milliseconds"),
    ],
)
def test_tampered_v3_requests_are_refused(tamper: dict[str, str], message: str) -> None:
    with pytest.raises(SignatureRefused, match=message):
        v3(**tamper)  # type: ignore[arg-type]


def test_a_v3_signature_exactly_five_minutes_old_still_passes() -> None:
    stamp = str(1700000000000 - 5 * 60_000)
    signed = hubspot_v3(SECRET, "POST", URI, V1_BODY, stamp)
    assert v3(signed, stamp=stamp) == "v3"


def test_a_wrong_v3_signature_is_not_rescued_by_a_valid_legacy_one() -> None:
    with pytest.raises(SignatureRefused, match="X-HubSpot-Signature-v3 does not match"):
        verify_hubspot(
            SECRET,
            "POST",
            URI,
            V1_BODY,
            v3="AAAA",
            timestamp=STAMP,
            legacy=hubspot_v1(SECRET, V1_BODY),
            version="v1",
            now=NOW,
        )


def test_v3_without_its_timestamp_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="X-HubSpot-Request-Timestamp is missing"):
        verify_hubspot(SECRET, "POST", URI, V1_BODY, v3="x", timestamp=None, legacy=None, version=None, now=NOW)


@pytest.mark.parametrize(
    ("version", "method", "uri", "body", "signed"),
    [
        ("v1", "POST", URI, V1_BODY, "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"),
        (None, "POST", URI, V1_BODY, "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"),
        ("v2", "GET", URI, b"", "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"),
        (
            "v2",
            "POST",
            URI,
            b'{"example_field":"example_value"}',
            "9569219F8BA981FFA6F6F16AA0F48637D35D728C7E4D93D0D52EFAA512AF7900",  # hex in either case
        ),
    ],
)
def test_the_published_legacy_vectors_verify(
    version: str | None, method: str, uri: str, body: bytes, signed: str
) -> None:
    named = verify_hubspot(SECRET, method, uri, body, v3=None, timestamp=None, legacy=signed, version=version, now=NOW)
    assert named == (version or "v1")


@pytest.mark.parametrize(
    ("version", "body", "uri", "message"),
    [
        ("v1", V1_BODY + b" ", URI, r"X-HubSpot-Signature \(v1\) does not match the request$"),
        ("v2", V1_BODY, "http://www.example.com/webhook_uri", r"\(v2\) does not match the request \(signed for http"),
        ("v4", V1_BODY, URI, "X-HubSpot-Signature-Version 'v4' is not v1 or v2"),
    ],
)
def test_tampered_legacy_requests_are_refused(version: str, body: bytes, uri: str, message: str) -> None:
    signed = hubspot_v1(SECRET, V1_BODY) if version == "v1" else hubspot_v2(SECRET, "POST", URI, V1_BODY)
    with pytest.raises(SignatureRefused, match=message):
        verify_hubspot(SECRET, "POST", uri, body, v3=None, timestamp=None, legacy=signed, version=version, now=NOW)


def test_no_signature_header_at_all_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="no X-HubSpot-Signature-v3 or X-HubSpot-Signature header"):
        verify_hubspot(SECRET, "POST", URI, V1_BODY, v3=None, timestamp=None, legacy=None, version=None, now=NOW)


@pytest.mark.parametrize(
    ("received", "signed"),
    [
        ("https://x.example/webhooks/hubspot", "https://x.example/webhooks/hubspot"),
        ("https://x.example/h?from=a%3Ab%2Fc%3Fd%40e", "https://x.example/h?from=a:b/c?d@e"),
        ("https://x.example/h?q=%21%24%27%28%29%2A%2C%3B", "https://x.example/h?q=!$'()*,;"),
        ("https://x.example/h?q=%3a%2f", "https://x.example/h?q=:/"),  # lower-case hex too
        ("https://x.example/h?q=a%20b%26c%3Dd%25", "https://x.example/h?q=a%20b%26c%3Dd%25"),  # not in the list
    ],
)
def test_v3_decodes_the_listed_characters_of_the_uri(received: str, signed: str) -> None:
    assert v3_uri(received) == signed


def test_a_v3_request_to_a_url_with_encoded_characters_verifies() -> None:
    received = "https://x.example/webhooks/hubspot?tenant=a%3Ab"
    signed = hubspot_v3(SECRET, "POST", "https://x.example/webhooks/hubspot?tenant=a:b", V1_BODY, STAMP)
    assert v3(signed, uri=received) == "v3"


GENERIC_BODY = b'{"id":"e1","source":"web_form"}'
GENERIC_AT = 1776049200  # 2026-04-13 03:00 UTC
GENERIC_NOW = datetime(2026, 4, 13, 3, 1, tzinfo=UTC)


def test_leadpact_signatures_verify_exactly_as_leadpact_signs_its_own_webhooks() -> None:
    signed = signature("k", GENERIC_AT, GENERIC_BODY)
    assert signed.startswith("sha256=")
    verify_leadpact("k", GENERIC_BODY, timestamp=str(GENERIC_AT), given=signed, now=GENERIC_NOW)


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "given", "message"),
    [
        ("other", GENERIC_BODY, str(GENERIC_AT), None, "X-Leadpact-Signature does not match"),
        ("k", GENERIC_BODY[:-1] + b" }", str(GENERIC_AT), None, "does not match"),
        ("k", GENERIC_BODY, str(GENERIC_AT + 1), None, "does not match"),
        ("k", GENERIC_BODY, str(GENERIC_AT), "", "does not match"),
        ("k", GENERIC_BODY, None, None, "X-Leadpact-Timestamp is missing"),
        ("k", GENERIC_BODY, str(GENERIC_AT), "missing", "X-Leadpact-Signature is missing"),
        ("k", GENERIC_BODY, str(GENERIC_AT * 1000), None, "is not Unix seconds"),
    ],
)
def test_tampered_leadpact_requests_are_refused(
    secret: str, body: bytes, timestamp: str | None, given: str | None, message: str
) -> None:
    header = signature(secret, GENERIC_AT, GENERIC_BODY) if given is None else (None if given == "missing" else given)
    with pytest.raises(SignatureRefused, match=message):
        verify_leadpact("k", body, timestamp=timestamp, given=header, now=GENERIC_NOW)


@pytest.mark.parametrize(
    ("now", "message"),
    [
        (datetime.fromtimestamp(GENERIC_AT, UTC) + timedelta(minutes=5, seconds=1), "more than 5 minutes old"),
        (
            datetime.fromtimestamp(GENERIC_AT, UTC) - timedelta(minutes=5, seconds=1),
            "more than 5 minutes in the future",
        ),
    ],
)
def test_leadpact_signatures_outside_the_window_are_refused(now: datetime, message: str) -> None:
    signed = signature("k", GENERIC_AT, GENERIC_BODY)
    with pytest.raises(SignatureRefused, match=message):
        verify_leadpact("k", GENERIC_BODY, timestamp=str(GENERIC_AT), given=signed, now=now)
