"""HubSpot delivers in no particular order and retries late: every delivery order ends in the same state.

Two contacts, the same HubSpot events, delivered in several orders and batchings, each delivery
applied before the next arrives (the hardest case: nothing can be sorted once it has been applied).
The end state is computed by hand from the events in the order they happened.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadpact.adapters.events import read_lines
from leadpact.api.app import create_app
from leadpact.bootstrap import App
from leadpact.config import Settings
from leadpact.services import webhooks
from leadpact.services.ingest import ingest
from leadpact.services.webhooks import Mappings
from tests.deliveries import GENERIC_SECRET, HUBSPOT_SECRET, body_of, contact_event, hubspot_headers
from tests.factories import sign_example_pact

OWNERS = {"77": "田中", "88": "鈴木"}


def minutes(app: App, n: float) -> datetime:
    """n minutes into the hour before the test's now."""
    return app.clock.now() - timedelta(hours=1) + timedelta(minutes=n)


def history(app: App) -> list[dict[str, Any]]:
    """Contact 502: created, two addresses, two titles, a company, a size, a lead status, two owners.
    Contact 501: a lead status, then HubSpot moves it to SQL, opportunity and customer."""

    def change(event_id: int, at: float, contact: int, name: str, value: str) -> dict[str, Any]:
        return contact_event(event_id, minutes(app, at), "propertyChange", contact, property=name, value=value)

    return [
        contact_event(1, minutes(app, 1), "creation", 502),
        change(2, 2, 502, "email", "Jiro@Old-Domain.co.jp"),
        change(3, 2.5, 502, "hs_lead_status", "NEW"),
        change(4, 3, 502, "jobtitle", "課長"),
        change(5, 3.5, 502, "company", "株式会社サンプル精機"),
        change(6, 4, 502, "email", "jiro@new-domain.co.jp"),
        change(7, 4.5, 502, "hubspot_owner_id", "77"),
        change(8, 5, 502, "jobtitle", "部長"),
        change(9, 6, 502, "numberofemployees", "1,200"),
        change(10, 7, 502, "hubspot_owner_id", "88"),
        change(11, 3, 501, "hs_lead_status", "CONNECTED"),
        change(12, 4, 501, "lifecyclestage", "salesqualifiedlead"),
        change(13, 5, 501, "lifecyclestage", "opportunity"),
        change(14, 6, 501, "lifecyclestage", "customer"),
    ]


def by_time(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [[e] for e in sorted(events, key=lambda e: e["occurredAt"])]


def shuffled(events: list[dict[str, Any]], seed: int, size: int) -> list[list[dict[str, Any]]]:
    mixed = list(events)
    random.Random(seed).shuffle(mixed)
    return [mixed[i : i + size] for i in range(0, len(mixed), size)]


ORDERS = {
    "in order, one event per delivery": lambda events: by_time(events),
    "newest first, one per delivery": lambda events: list(reversed(by_time(events))),
    "every property change before its creation": lambda events: [
        [e] for e in sorted(events, key=lambda e: (e["subscriptionType"] == "contact.creation", -e["occurredAt"]))
    ],
    "one delivery, shuffled": lambda events: shuffled(events, 1, 100),
    "shuffled, one per delivery": lambda events: shuffled(events, 2, 1),
    "shuffled, three per delivery": lambda events: shuffled(events, 3, 3),
}


@pytest.fixture
def client(app: App, database_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        hubspot_client_secret=HUBSPOT_SECRET,
        webhook_secret=GENERIC_SECRET,
        hubspot_owners=OWNERS,
    )
    with TestClient(create_app(settings, core=app, process=False)) as c:
        yield c


def prepare(app: App) -> None:
    """Contact 501 is a lead sales has qualified: BANT, a consultation request, the decision maker met."""
    sign_example_pact(app)
    at = minutes(app, 0).isoformat()
    lead = '{"system":"hubspot","id":"501"}'
    lines = [
        f'{{"id":"s1","source":"sfdc","at":"{at}","lead":{lead},"type":"lead_upsert"}}',
        f'{{"id":"s2","source":"sfdc","at":"{at}","lead":{lead},"type":"activity","activity":"consultation_request"}}',
        f'{{"id":"s3","source":"sfdc","at":"{at}","lead":{lead},"type":"bant_update","budget":true,'
        '"authority":true,"facts":{"decision_maker_access":true}}',
    ]
    report = ingest(app.engine, app.clock, read_lines(line.encode() for line in lines))
    assert (report.created, report.rejected) == (3, [])


def state(app: App, contact: str) -> dict[str, Any]:
    with app.store() as store:
        lead_id = store.leads.ids_by_ref("hubspot", [contact])[contact]
        lead = store.leads.get(lead_id)
        assert lead is not None
        moves = sorted(
            (e.at, e.from_stage, e.to_stage) for _, e in store.ledger.of_lead(lead_id) if e.kind.value == "transition"
        )
    return {
        "email": lead.email,
        "attributes": dict(lead.attributes),
        "stage": lead.stage.value,
        "owner": lead.owner,
        "moves": moves,
    }


@pytest.mark.parametrize("order", list(ORDERS))
def test_any_delivery_order_ends_in_the_state_of_the_events_in_time_order(
    client: TestClient, app: App, order: str
) -> None:
    prepare(app)
    events = history(app)
    outcomes: dict[str, int] = {}
    for delivery in ORDERS[order](events):
        body = body_of(delivery)
        answer = client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))
        assert answer.json()["stored"] == len(delivery)
        webhooks.process(app.engine, app.clock, Mappings(owners=OWNERS))
    for event in webhooks.newest(app.store(), limit=100):
        outcomes[event.outcome or "pending"] = outcomes.get(event.outcome or "pending", 0) + 1

    assert state(app, "502") == {
        "email": "jiro@new-domain.co.jp",
        "attributes": {"lead_status": "NEW", "title": "部長", "company": "株式会社サンプル精機", "employees": 1200},
        "stage": "lead",
        "owner": "鈴木",
        "moves": [],
    }
    assert state(app, "501") == {
        "email": None,
        "attributes": {"lead_status": "CONNECTED"},
        "stage": "won",
        "owner": None,
        "moves": [
            (minutes(app, 4), "lead", "sql"),
            (minutes(app, 5), "sql", "opportunity"),
            (minutes(app, 6), "opportunity", "won"),
        ],
    }
    # Older values that arrived after newer ones were applied are kept and marked, never applied.
    assert outcomes.get("pending", 0) == outcomes.get("rejected", 0) == 0
    assert outcomes["applied"] + outcomes.get("superseded", 0) == len(events)
    if order == "newest first, one per delivery":
        assert outcomes["superseded"] == 3  # the older address, title and owner of contact 502


def test_a_late_older_value_is_recorded_as_superseded_with_the_newer_event(client: TestClient, app: App) -> None:
    sign_example_pact(app)
    newer = contact_event(2, minutes(app, 5), "propertyChange", 502, property="jobtitle", value="部長")
    older = contact_event(1, minutes(app, 3), "propertyChange", 502, property="jobtitle", value="課長")
    for event in (newer, older):
        body = body_of([event])
        client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))
        webhooks.process(app.engine, app.clock, Mappings(owners=OWNERS))
    outcomes = [(e.event_key.split("-")[0], e.outcome, e.note) for e in webhooks.newest(app.store())]
    when = minutes(app, 5).isoformat(timespec="milliseconds")
    assert outcomes == [
        ("1", "superseded", f"a newer attribute:title was applied (HubSpot event 2 of {when})"),
        ("2", "applied", None),
    ]
    assert state(app, "502")["attributes"] == {"title": "部長"}


def test_a_stage_move_hubspot_makes_without_the_pacts_criteria_is_rejected_with_leadpacts_reason(
    client: TestClient, app: App
) -> None:
    sign_example_pact(app)
    event = contact_event(1, minutes(app, 5), "propertyChange", 503, property="lifecyclestage", value="opportunity")
    body = body_of([event])
    client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, app.clock.now()))
    report = webhooks.process(app.engine, app.clock, Mappings(owners=OWNERS))
    assert (report.rejected, report.leads_created) == (1, 1)
    (stored,) = webhooks.newest(app.store())
    assert (stored.outcome, stored.note) == (
        "rejected",
        "a lead cannot move from lead to opportunity; from lead it may go to: mql, sql, disqualified",
    )
    assert state(app, "503")["stage"] == "lead"
