"""POST /webhooks/hubspot and POST /webhooks/generic: check the signature, store durably, answer, apply after.

A request is refused as a whole (nothing stored) when it is not proven to come from the sender
(401), when its body is not a delivery (400), or when no secret is configured (503: leadpact
never takes unsigned events). Otherwise every event of it is accounted for in the answer: stored,
received before, or refused with the reason. See docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from leadpact.adapters.events import LineError, parse_line
from leadpact.adapters.hubspot_webhooks import SYSTEM, contact_action, read_delivery
from leadpact.adapters.json_body import BodyInvalid, parse_json
from leadpact.api.deps import ReceiverDep
from leadpact.api.schemas import Problem, RefusedEvent, WebhookReceipt
from leadpact.api.signatures import (
    HUBSPOT_TIMESTAMP,
    LEGACY_HEADER,
    V3_HEADER,
    VERSION_HEADER,
    SignatureRefused,
    verify_hubspot,
    verify_leadpact,
)
from leadpact.domain.escalation import SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadpact.services.webhooks import GENERIC, HUBSPOT, Incoming, Receipt, Refusal

log = logging.getLogger("leadpact.webhooks")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

MAX_BODY = 5 * 1024 * 1024  # bytes; a full HubSpot delivery is some 50 kB
MAX_GENERIC_EVENTS = 1_000
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Not a delivery (not JSON, not an array, too many events)."},
    401: {"model": Problem, "description": "The signature is missing, stale or does not match: nothing stored."},
    413: {"model": Problem, "description": "The body is over 5 MB."},
    503: {"model": Problem, "description": "No secret configured: leadpact takes no unsigned events."},
}


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the body is over 5 MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the body is over 5 MB")
        chunks.append(chunk)
    return b"".join(chunks)


def signed_uri(request: Request, public_url: str | None) -> str:
    """The full URL the sender called, as it signed it: the configured public URL (a reverse proxy
    changes scheme, host or path prefix) or else this request's own, then the path and query as sent."""
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    base = public_url.rstrip("/") if public_url else f"{scope['scheme']}://{request.headers.get('host', '')}"
    return base + path + ("?" + query.decode("latin-1") if query else "")


def _json(body: bytes) -> Any:
    try:
        return parse_json(body)
    except BodyInvalid as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def _refused(request: Request, exc: SignatureRefused) -> HTTPException:
    client = request.client.host if request.client else "?"
    log.warning("refused %s %s from %s: %s", request.method, request.url.path, client, exc)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc))


def _answer(receipt: Receipt, refusals: list[Refusal]) -> WebhookReceipt:
    refused = sorted([*receipt.refused, *refusals], key=lambda r: r.index)
    return WebhookReceipt(
        received=receipt.received + len(refusals),
        stored=receipt.stored,
        duplicates=receipt.duplicates,
        refused=[RefusedEvent(index=r.index, id=r.id, reason=r.reason) for r in refused],
    )


def _json_response(answer: WebhookReceipt, status_code: int = status.HTTP_200_OK) -> Response:
    """The answer serialised once by its own schema: returned as a Response, FastAPI does not
    validate and serialise it again through the route's response model (a tenth of a W5 request)."""
    return Response(answer.model_dump_json(), status_code=status_code, media_type="application/json")


@router.post("/hubspot", response_model=WebhookReceipt, responses=REFUSALS)
async def hubspot_webhook(request: Request, receiver: ReceiverDep) -> Response:
    """A HubSpot delivery: a JSON array of at most 100 events, signed with the app's client secret.

    Answered once its events are stored; contact events are applied after (docs/webhooks.md).
    A malformed event is kept aside and listed as refused; HubSpot would only send it again.
    """
    secret = receiver.settings.hubspot_client_secret
    if secret is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "HubSpot webhooks are off: set LEADPACT_HUBSPOT_CLIENT_SECRET"
        )
    body = await _body(request)
    now = receiver.clock.now()
    headers = request.headers
    try:
        verify_hubspot(
            secret.get_secret_value(),
            request.method,
            signed_uri(request, receiver.settings.public_url),
            body,
            v3=headers.get(V3_HEADER),
            timestamp=headers.get(HUBSPOT_TIMESTAMP),
            legacy=headers.get(LEGACY_HEADER),
            version=headers.get(VERSION_HEADER),
            now=now,
        )
    except SignatureRefused as exc:
        raise _refused(request, exc) from None
    try:
        received = read_delivery(body)
    except BodyInvalid as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    delivery = [
        Incoming(
            index=found.index,
            channel=HUBSPOT,
            source=SYSTEM,
            key=found.key,
            object_id=str(event.object_id) if event is not None and contact_action(event) else None,
            occurred_at=event.at if event is not None else now,
            payload=found.payload,
            digest=found.digest,
            event_id=str(event.event_id) if event is not None else _given_id(found.payload, "eventId"),
            refused=found.problem,
        )
        for found in received
        for event in (found.event,)
    ]
    receipt = await receiver.writer.store(delivery) if delivery else Receipt(received=0)
    return _json_response(_answer(receipt, []))


def _given_id(element: object, name: str) -> str | None:
    """The id a malformed event gives itself, if it has a readable one (`element`: it, or its JSON)."""
    if isinstance(element, str):
        element = parse_json(element.encode())
    value = element.get(name) if isinstance(element, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


@router.post(
    "/generic",
    response_model=WebhookReceipt,
    responses={**REFUSALS, 422: {"model": WebhookReceipt, "description": "No event is valid."}},
)
async def generic_webhook(request: Request, receiver: ReceiverDep) -> Response:
    """Canonical events (docs/events.md): one JSON object or an array of them, signed like leadpact's own
    webhooks (X-Leadpact-Timestamp, X-Leadpact-Signature). Idempotent on (source, id).

    An invalid event is refused and not stored (fix it and send it again, as with `leadpact ingest`);
    the others are stored. When none is valid the answer is 422.
    """
    secret = receiver.settings.webhook_secret
    if secret is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "generic webhooks are off: set LEADPACT_WEBHOOK_SECRET"
        )
    body = await _body(request)
    now = receiver.clock.now()
    try:
        verify_leadpact(
            secret.get_secret_value(),
            body,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            given=request.headers.get(SIGNATURE_HEADER),
            now=now,
        )
    except SignatureRefused as exc:
        raise _refused(request, exc) from None
    data = _json(body)
    elements = data if isinstance(data, list) else [data]
    if len(elements) > MAX_GENERIC_EVENTS:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"a delivery has at most {MAX_GENERIC_EVENTS} events; this one has {len(elements)}",
        )
    delivery: list[Incoming] = []
    refusals: list[Refusal] = []
    for index, element in enumerate(elements):
        parsed = parse_line(index + 1, json.dumps(element, ensure_ascii=False).encode())
        if parsed is None or isinstance(parsed, LineError):
            reason = parsed.reason if parsed is not None else "an empty event"
            refusals.append(Refusal(index, _given_id(element, "id"), reason))
            continue
        event = parsed.event
        delivery.append(
            Incoming(
                index=index,
                channel=GENERIC,
                source=event.source,
                key=event.id,
                object_id=None,
                occurred_at=event.at,
                payload=parsed.payload.decode(),
                digest=hashlib.sha256(parsed.payload).hexdigest(),
                event_id=event.id,
            )
        )
    receipt = await receiver.writer.store(delivery) if delivery else Receipt(received=0)
    answer = _answer(receipt, refusals)
    if not delivery and refusals:
        return _json_response(answer, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _json_response(answer)
