"""POST /webhooks/hubspot and /webhooks/generic on the migrated store: what is stored, answered and applied."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.webhooks import WebhookEvents
from leadpact.api.app import create_app
from leadpact.api.signatures import hubspot_v1
from leadpact.bootstrap import App
from leadpact.config import Settings
from leadpact.domain.clock import FixedClock
from leadpact.domain.lead import Lead
from leadpact.services import webhooks
from leadpact.services.webhooks import GENERIC, Incoming, Mappings
from tests.conftest import ROOT
from tests.deliveries import (
    GENERIC_SECRET,
    HUBSPOT_SECRET,
    body_of,
    contact_event,
    generic_headers,
    hubspot_headers,
    running,
)
from tests.factories import sign_example_pact
from tests.query_plans import plan_of

OWNERS = {"77": "田中", "88": "鈴木"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        hubspot_client_secret=HUBSPOT_SECRET,
        webhook_secret=GENERIC_SECRET,
        hubspot_owners=OWNERS,
    )


@pytest.fixture
def client(app: App, settings: Settings) -> Iterator[TestClient]:
    """The app with background processing off: tests apply stored events themselves, when they choose."""
    with TestClient(create_app(settings, core=app, process=False)) as c:
        yield c


def process(app: App) -> webhooks.ProcessReport:
    return webhooks.process(app.engine, app.clock, Mappings(owners=OWNERS))


def stored(app: App) -> list[tuple[str, str | None, str | None]]:
    """(event key, outcome, note) of every stored event, oldest first."""
    return [(e.event_key, e.outcome, e.note) for e in reversed(webhooks.newest(app.store(), limit=1_000))]


def lead_of(app: App, contact: str = "501") -> Lead | None:
    with app.store() as store:
        found = store.leads.ids_by_ref("hubspot", [contact])
        return store.leads.get(found[contact]) if found else None


def count(app: App, table: Any) -> int:
    with app.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


def post_hubspot(client: TestClient, events: list[dict[str, Any]], app: App) -> httpx.Response:
    body = body_of(events)
    return client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))


def test_a_signed_hubspot_delivery_is_stored_answered_and_applied_after(client: TestClient, app: App) -> None:
    now = app.clock.now()
    events = [
        contact_event(1, now - timedelta(minutes=3)),
        contact_event(2, now - timedelta(minutes=2), "propertyChange", property="email", value="Taro@Example.co.jp"),
        contact_event(3, now - timedelta(minutes=1), "propertyChange", property="jobtitle", value="部長"),
    ]
    answer = post_hubspot(client, events, app)
    assert answer.status_code == 200
    assert answer.json() == {"received": 3, "stored": 3, "duplicates": 0, "refused": []}
    assert lead_of(app) is None  # acknowledged once stored; applied after the answer
    assert [outcome for _, outcome, _ in stored(app)] == [None, None, None]

    report = process(app)
    assert (report.taken, report.applied, report.leads_created) == (3, 3, 1)
    lead = lead_of(app)
    assert lead is not None
    assert (lead.email, dict(lead.attributes), lead.stage.value) == ("taro@example.co.jp", {"title": "部長"}, "lead")
    assert [outcome for _, outcome, _ in stored(app)] == ["applied", "applied", "applied"]


def _tampered(body: bytes, headers: dict[str, str], case: str) -> tuple[bytes, dict[str, str]]:
    if case == "wrong signature":
        return body, {**headers, "X-HubSpot-Signature-v3": "AAAA" + headers["X-HubSpot-Signature-v3"][4:]}
    if case == "one byte changed":
        return body.replace(b'"objectId":501', b'"objectId":502'), headers
    if case == "header missing":
        return body, {k: v for k, v in headers.items() if k != "X-HubSpot-Signature-v3"}
    if case == "timestamp missing":
        return body, {k: v for k, v in headers.items() if k != "X-HubSpot-Request-Timestamp"}
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("wrong signature", "X-HubSpot-Signature-v3 does not match the request"),
        ("one byte changed", "X-HubSpot-Signature-v3 does not match the request"),
        ("header missing", "no X-HubSpot-Signature-v3 or X-HubSpot-Signature header"),
        ("timestamp missing", "X-HubSpot-Request-Timestamp is missing"),
        ("stale", "X-HubSpot-Request-Timestamp is more than 5 minutes old"),
        ("future", "X-HubSpot-Request-Timestamp is more than 5 minutes in the future"),
        ("other secret", "X-HubSpot-Signature-v3 does not match the request"),
    ],
)
def test_requests_not_proven_to_come_from_hubspot_are_401_and_store_nothing(
    client: TestClient, app: App, case: str, detail: str
) -> None:
    now = app.clock.now()
    body = body_of([contact_event(1, now)])
    if case in ("stale", "future"):
        skew = timedelta(minutes=5, milliseconds=1)
        headers = hubspot_headers(body, now - skew if case == "stale" else now + skew)
    elif case == "other secret":
        other = Settings(database_url=app.settings.database_url, hubspot_client_secret="someone-else")
        with TestClient(create_app(other, core=app, process=False)) as elsewhere:
            answer = elsewhere.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, now))
        assert answer.status_code == 401 and answer.json()["detail"].startswith(detail)
        assert count(app, t.webhook_events) == 0
        return
    else:
        body, headers = _tampered(body, hubspot_headers(body, now), case)
    answer = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith(detail)
    assert count(app, t.webhook_events) == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'[{"eventId":1,', "the body is not valid JSON at line 1, column 15: Expecting property name enclosed in"),
        (b"", "the body is not valid JSON at line 1, column 1: Expecting value"),
        (b'{"eventId":1}', "a HubSpot delivery is a JSON array of events"),
        (body_of([{"eventId": i} for i in range(101)]), "a HubSpot delivery has at most 100 events; this one has 101"),
    ],
)
def test_bodies_that_are_not_a_delivery_are_400_and_store_nothing(
    client: TestClient, app: App, body: bytes, detail: str
) -> None:
    answer = client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)
    assert count(app, t.webhook_events) == 0


def test_without_secrets_both_endpoints_refuse_every_delivery(app: App) -> None:
    bare = Settings(database_url=app.settings.database_url)
    body = body_of([contact_event(1, app.clock.now())])
    with TestClient(create_app(bare, core=app, process=False)) as c:
        hubspot = c.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))
        generic = c.post("/webhooks/generic", content=b"{}", headers=generic_headers(b"{}", app.clock.now()))
    assert (hubspot.status_code, hubspot.json()["detail"]) == (
        503,
        "HubSpot webhooks are off: set LEADPACT_HUBSPOT_CLIENT_SECRET",
    )
    assert (generic.status_code, generic.json()["detail"]) == (
        503,
        "generic webhooks are off: set LEADPACT_WEBHOOK_SECRET",
    )
    assert count(app, t.webhook_events) == 0


def test_hubspots_published_v1_request_is_accepted_as_hubspot_sent_it(client: TestClient, app: App) -> None:
    body = (
        b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
        b'"changeFlag":"NEW","appId":54321}]'
    )
    signed = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert hubspot_v1(HUBSPOT_SECRET, body) == signed
    headers = {"X-HubSpot-Signature": signed, "X-HubSpot-Signature-Version": "v1"}
    answer = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert answer.json() == {"received": 1, "stored": 1, "duplicates": 0, "refused": []}
    tampered = client.post("/webhooks/hubspot", content=body.replace(b"123", b"124"), headers=headers)
    assert tampered.status_code == 401
    process(app)
    assert lead_of(app, "123") is not None


def test_behind_a_proxy_the_configured_public_url_is_what_hubspot_signed(app: App, settings: Settings) -> None:
    public = Settings(**{**settings.model_dump(), "public_url": "https://leadpact.example.co.jp/crm/"})
    body = body_of([contact_event(1, app.clock.now())])
    signed_for_public = hubspot_headers(body, app.clock.now(), "https://leadpact.example.co.jp/crm/webhooks/hubspot")
    with TestClient(create_app(public, core=app, process=False)) as behind:
        assert behind.post("/webhooks/hubspot", content=body, headers=signed_for_public).status_code == 200
    with TestClient(create_app(settings, core=app, process=False)) as direct:
        refused = direct.post("/webhooks/hubspot", content=body, headers=signed_for_public)
    assert refused.status_code == 401
    assert "(signed for http://testserver/webhooks/hubspot?)" in refused.json()["detail"]


def test_a_redelivery_stores_nothing_and_changes_nothing(client: TestClient, app: App) -> None:
    sign_example_pact(app)
    now = app.clock.now()
    events = [
        contact_event(1, now - timedelta(minutes=2)),
        contact_event(2, now - timedelta(minutes=1), "propertyChange", property="hs_lead_status", value="UNQUALIFIED"),
    ]
    assert post_hubspot(client, events, app).json()["stored"] == 2
    process(app)
    retried = [{**e, "attemptNumber": 1} for e in events]  # HubSpot's retry: only the attempt number differs
    assert post_hubspot(client, retried, app).json() == {"received": 2, "stored": 0, "duplicates": 2, "refused": []}
    assert process(app).taken == 0
    assert count(app, t.webhook_events) == 2
    lead = lead_of(app)
    assert lead is not None and lead.stage.value == "disqualified"
    assert count(app, t.ledger_entries) == 1


def test_a_malformed_event_is_kept_aside_and_the_others_are_stored(client: TestClient, app: App) -> None:
    now = app.clock.now()
    events: list[Any] = [contact_event(1, now), {"eventId": 2, "subscriptionType": "contact.creation"}, "junk"]
    answer = post_hubspot(client, events, app)
    assert answer.status_code == 200
    assert answer.json() == {
        "received": 3,
        "stored": 1,
        "duplicates": 0,
        "refused": [
            {
                "index": 1,
                "id": "2",
                "reason": "objectId: required field is missing; occurredAt: required field is missing (kept aside)",
            },
            {
                "index": 2,
                "id": None,
                "reason": "event: Input should be a valid dictionary or instance of HubSpotEvent (kept aside)",
            },
        ],
    }
    process(app)
    outcomes = [(outcome, note) for _, outcome, note in stored(app)]
    assert outcomes == [
        ("applied", None),
        ("refused", "objectId: required field is missing; occurredAt: required field is missing"),
        ("refused", "event: Input should be a valid dictionary or instance of HubSpotEvent"),
    ]
    # HubSpot sends it again: still kept once
    assert post_hubspot(client, events, app).json()["duplicates"] == 3


def generic_event(event_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "id": event_id,
        "source": "web_form",
        "type": "lead_upsert",
        "at": "2026-10-01T08:00:00+09:00",
        "lead": {"email": "hanako@example.co.jp"},
        "attributes": {"company": "株式会社サンプル"},
    }
    body.update(fields)
    return body


def post_generic(client: TestClient, data: Any, app: App) -> httpx.Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    return client.post("/webhooks/generic", content=body, headers=generic_headers(body, app.clock.now()))


def test_one_signed_canonical_event_is_stored_and_applied(client: TestClient, app: App) -> None:
    answer = post_generic(client, generic_event("f-1"), app)
    assert answer.json() == {"received": 1, "stored": 1, "duplicates": 0, "refused": []}
    assert post_generic(client, generic_event("f-1"), app).json()["duplicates"] == 1
    assert process(app).applied == 1
    with app.store() as store:
        lead = store.leads.find("hanako@example.co.jp")
    assert lead is not None and dict(lead.attributes) == {"company": "株式会社サンプル"}


def test_invalid_canonical_events_are_refused_with_the_reason_and_the_valid_ones_stored(
    client: TestClient, app: App
) -> None:
    events = [generic_event("f-1"), generic_event("f-2", at="2026-10-01T08:00:00"), {"id": "f-3", "type": "download"}]
    answer = post_generic(client, events, app)
    assert answer.status_code == 200
    assert answer.json() == {
        "received": 3,
        "stored": 1,
        "duplicates": 0,
        "refused": [
            {"index": 1, "id": "f-2", "reason": "at: Input should have timezone info"},
            {
                "index": 2,
                "id": "f-3",
                "reason": "unknown event type 'download'; expected one of lead_upsert, activity, contact_logged, "
                "bant_update, assignment, stage_change",
            },
        ],
    }
    nothing_valid = post_generic(client, [events[1]], app)
    assert nothing_valid.status_code == 422
    assert nothing_valid.json()["stored"] == 0
    assert count(app, t.webhook_events) == 1


def test_the_same_id_with_other_content_is_refused_unless_it_corrects_a_rejected_event(
    client: TestClient, app: App
) -> None:
    post_generic(client, generic_event("f-1"), app)
    clash = post_generic(client, generic_event("f-1", attributes={"company": "別会社"}), app)
    assert clash.json()["refused"] == [
        {
            "index": 0,
            "id": "f-1",
            "reason": "event id 'f-1' from web_form was already received with different content; "
            "give a corrected event a new id",
        }
    ]
    # a stage change leadpact rejects (no active pact), then its correction under the same id
    move = generic_event("f-2", type="stage_change", to="disqualified", reason="nonsense", attributes=None)
    del move["attributes"]
    post_generic(client, move, app)
    process(app)
    assert stored(app)[-1][1:] == (
        "rejected",
        "no active pact: propose one and have every approving department approve it",
    )
    sign_example_pact(app)
    corrected = {**move, "reason": "out_of_target"}
    assert post_generic(client, corrected, app).json()["stored"] == 1
    process(app)
    assert stored(app)[-1][1:] == ("applied", None)
    with app.store() as store:
        lead = store.leads.find("hanako@example.co.jp")
    assert lead is not None and lead.stage.value == "disqualified"


@pytest.mark.parametrize(
    ("change", "status"),
    [("signature", 401), ("stale", 401), ("missing", 401), ("json", 400)],
)
def test_generic_requests_not_signed_or_not_json_store_nothing(
    client: TestClient, app: App, change: str, status: int
) -> None:
    body = json.dumps(generic_event("f-1")).encode()
    now = app.clock.now()
    headers = generic_headers(body, now - timedelta(minutes=6) if change == "stale" else now)
    if change == "signature":
        headers = generic_headers(body, now, secret="guess")
    elif change == "missing":
        headers = {"Content-Type": "application/json"}
    elif change == "json":
        body = body[:-1]
        headers = generic_headers(body, now)
    answer = client.post("/webhooks/generic", content=body, headers=headers)
    assert answer.status_code == status
    assert count(app, t.webhook_events) == 0


def test_events_acknowledged_but_not_applied_before_a_crash_apply_at_the_next_start(
    app: App, settings: Settings
) -> None:
    body = body_of([contact_event(1, app.clock.now())])
    with TestClient(create_app(settings, core=app, process=False)) as first:
        assert (
            first.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now())).json()[
                "stored"
            ]
            == 1
        )
    assert lead_of(app) is None  # the server went away before applying it
    restarted = create_app(settings, core=app)
    with TestClient(restarted):
        assert restarted.state.receiver.processor.wait_idle(timeout=60)
    assert lead_of(app) is not None
    assert stored(app)[0][1] == "applied"


def test_the_same_delivery_ten_times_at_once_has_one_effect(app: App, settings: Settings) -> None:
    sign_example_pact(app)
    now = app.clock.now()
    events = [
        contact_event(1, now - timedelta(minutes=3)),
        contact_event(2, now - timedelta(minutes=2), "propertyChange", property="jobtitle", value="課長"),
        contact_event(3, now - timedelta(minutes=1), "propertyChange", property="hs_lead_status", value="UNQUALIFIED"),
    ]
    body = body_of(events)
    canonical = json.dumps(generic_event("f-1"), ensure_ascii=False).encode()
    web = create_app(settings, core=app)
    start = threading.Barrier(20)
    answers: list[dict[str, Any]] = []

    def send(path: str, payload: bytes, headers: dict[str, str]) -> None:
        start.wait()
        answer = httpx.post(f"{base}{path}", content=payload, headers=headers, timeout=60)
        assert answer.status_code == 200
        answers.append(answer.json())

    with running(web) as base:
        senders = [
            threading.Thread(
                target=send, args=("/webhooks/hubspot", body, hubspot_headers(body, now, f"{base}/webhooks/hubspot"))
            )
            for _ in range(10)
        ] + [
            threading.Thread(target=send, args=("/webhooks/generic", canonical, generic_headers(canonical, now)))
            for _ in range(10)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        assert web.state.receiver.processor.wait_idle(timeout=60)
    assert sorted((a["stored"], a["duplicates"]) for a in answers) == sorted(
        [(3, 0)] + [(0, 3)] * 9 + [(1, 0)] + [(0, 1)] * 9
    )
    assert count(app, t.webhook_events) == 4
    assert count(app, t.inbox) == 5  # the three HubSpot events (one with its stage move) and the canonical one
    assert count(app, t.leads) == 2
    lead = lead_of(app)
    assert lead is not None and (lead.stage.value, dict(lead.attributes)) == (
        "disqualified",
        {"title": "課長", "lead_status": "UNQUALIFIED"},
    )
    assert count(app, t.ledger_entries) == 1


def test_concurrent_writers_store_one_delivery_once(app: App) -> None:
    """Without the server's single writer: ten units of work racing on the unique key (on PostgreSQL,
    truly concurrent transactions) store the event once and count nine duplicates."""
    now = app.clock.now()
    item = Incoming(0, GENERIC, "web_form", "f-1", None, now, "{}", "d" * 64, "f-1")
    start = threading.Barrier(10)
    receipts: list[webhooks.Receipt] = []
    lock = threading.Lock()

    def store() -> None:
        start.wait()
        (receipt,) = webhooks.receive(app.engine, FixedClock(now), [[item]])
        with lock:
            receipts.append(receipt)

    threads = [threading.Thread(target=store) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.stored, r.duplicates) for r in receipts) == [(0, 1)] * 9 + [(1, 0)]
    assert count(app, t.webhook_events) == 1


def test_the_sender_code_in_the_docs_is_accepted(database_url: str) -> None:
    text = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    code = text.split("### Generic senders", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the sender's code exactly as documented
    send = namespace["send_to_leadpact"]
    # The documented code signs with the wall clock, so this server reads it too.
    web = create_app(Settings(database_url=database_url, webhook_secret=GENERIC_SECRET))
    with running(web) as base:
        answer = send(f"{base}/webhooks/generic", GENERIC_SECRET.encode(), [generic_event("doc-1")])
        with pytest.raises(Exception, match="401"):
            send(f"{base}/webhooks/generic", b"not the secret", [generic_event("doc-2")])
    assert json.loads(answer) == {"received": 1, "stored": 1, "duplicates": 0, "refused": []}


def test_a_stored_event_that_no_longer_reads_is_refused_and_the_others_still_apply(
    client: TestClient, app: App
) -> None:
    now = app.clock.now()
    assert post_hubspot(client, [contact_event(1, now), contact_event(2, now, contact=502)], app).json()["stored"] == 2
    with app.engine.begin() as c:  # as another version might have stored it
        c.execute(
            t.webhook_events.update().where(t.webhook_events.c.object_id == "502").values(payload='{"eventId":2}')
        )
    report = process(app)
    assert (report.taken, report.applied) == (2, 1)
    assert [(outcome, note) for _, outcome, note in stored(app)] == [
        ("applied", None),
        (
            "refused",
            "subscriptionType: required field is missing; objectId: required field is missing; "
            "occurredAt: required field is missing",
        ),
    ]
    assert lead_of(app, "501") is not None and lead_of(app, "502") is None


def test_a_body_over_5_mb_is_413_and_stores_nothing(client: TestClient, app: App) -> None:
    body = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    answer = client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))
    assert (answer.status_code, answer.json()["detail"]) == (413, "the body is over 5 MB")
    assert count(app, t.webhook_events) == 0


def test_a_contacts_rejected_events_are_found_through_their_index(app: App) -> None:
    """The processor looks for the rejected events of every contact it applies: reading every event
    of the channel instead (SQLite's choice when the query named the channel) made each pass slower
    as events piled up, and stalled acknowledgements behind it."""
    now = 1_700_000_000_000_000
    rows = [
        ("hubspot", "hubspot", f"{n}-key", str(500 + n % 3), now, "{}", "digest", now, now, outcome, None)
        for n, outcome in enumerate(["applied", "rejected", "rejected", "applied", "rejected"])
    ]
    rows.append(("generic", "crm", "9-key", "501", now, "{}", "digest", now, now, "rejected", None))
    with app.store() as store:
        WebhookEvents(store.connection).insert(rows)
        store.commit()
    found: list[Any] = []

    def find() -> None:
        with app.store() as store:
            found.extend(WebhookEvents(store.connection).rejected_of("hubspot", ["501", "502"]))

    plan = plan_of(app.engine, "webhook_events", find)
    assert sorted(e.event_key for e in found) == ["1-key", "2-key", "4-key"]
    assert "ix_webhook_events_rejected" in plan, plan
