"""What each HubSpot webhook event means in leadpact: effects on canonical events, or why there are none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadpact.adapters.hubspot_webhooks import HubSpotEvent, meaning, read_element
from leadpact.domain.lifecycle import Stage
from tests.deliveries import contact_event

AT = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
LEAD = {"system": "hubspot", "id": "501"}
BASE = {"source": "hubspot", "at": "2026-04-01T00:00:00+00:00", "lead": LEAD}
OWNERS = {"77": "田中美咲"}


def of(event: dict[str, Any], stages: dict[str, Stage | None] | None = None) -> Any:
    return meaning(HubSpotEvent.model_validate(event), "K", OWNERS, stages)


def change(name: str, value: str | None) -> dict[str, Any]:
    return contact_event(9, AT, "propertyChange", property=name, value=value)


def test_a_creation_is_a_lead_upsert_of_the_contact() -> None:
    found = of(contact_event(1, AT))
    assert found.object_id == "501"
    assert [(e.register, e.event) for e in found.effects] == [(None, {**BASE, "id": "K", "type": "lead_upsert"})]


@pytest.mark.parametrize(
    ("name", "value", "register", "attributes"),
    [
        ("jobtitle", "生産技術部 部長", "attribute:title", {"title": "生産技術部 部長"}),
        ("company", "株式会社サンプル精機", "attribute:company", {"company": "株式会社サンプル精機"}),
        ("industry", "製造業", "attribute:industry", {"industry": "製造業"}),
        ("numberofemployees", "1,200", "attribute:employees", {"employees": 1200}),
        ("numberofemployees", "１２００名", "attribute:employees", {"employees": 1200}),
        ("state", "愛知県", "attribute:prefecture", {"prefecture": "愛知県"}),
        ("hs_custom_segment", "A", "attribute:hs_custom_segment", {"hs_custom_segment": "A"}),
        ("jobtitle", "", "attribute:title", {"title": None}),  # cleared in HubSpot: removed here
        ("hs_lead_status", "OPEN", "attribute:lead_status", {"lead_status": "OPEN"}),
    ],
)
def test_ordinary_properties_set_one_attribute(
    name: str, value: str, register: str, attributes: dict[str, Any]
) -> None:
    (effect,) = of(change(name, value)).effects
    assert effect.register == register
    assert effect.event == {**BASE, "id": "K", "type": "lead_upsert", "attributes": attributes}


def test_an_email_change_gives_the_lead_its_normalised_address() -> None:
    (effect,) = of(change("email", " Taro.Yamada＠Example-Seiki.CO.JP ")).effects
    assert (effect.register, effect.email) == ("email", "taro.yamada@example-seiki.co.jp")
    assert effect.event == {**BASE, "id": "K", "type": "lead_upsert"}  # makes sure the lead exists


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("subscriber", Stage.LEAD),
        ("marketingqualifiedlead", Stage.MQL),
        ("salesqualifiedlead", Stage.SQL),
        ("opportunity", Stage.OPPORTUNITY),
        ("customer", Stage.WON),
        ("Marketing Qualified Lead", Stage.MQL),  # a label, as some tools send
    ],
)
def test_a_lifecycle_stage_change_is_a_stage_change(value: str, stage: Stage) -> None:
    (effect,) = of(change("lifecyclestage", value)).effects
    assert (effect.register, effect.stage) == ("stage", stage)
    assert effect.event == {**BASE, "id": "K", "type": "stage_change", "to": stage.value, "note": f"HubSpot: {value}"}


def test_a_lead_status_that_implies_a_stage_sets_the_attribute_and_moves_the_stage_with_its_reason() -> None:
    attribute, stage = of(change("hs_lead_status", "UNQUALIFIED")).effects
    assert attribute.event["attributes"] == {"lead_status": "UNQUALIFIED"}
    assert (stage.register, stage.stage) == ("stage", Stage.DISQUALIFIED)
    assert stage.event == {
        **BASE,
        "id": "K.stage",
        "type": "stage_change",
        "to": "disqualified",
        "reason": "out_of_target",
        "note": "HubSpot: UNQUALIFIED",
    }


def test_a_custom_lifecycle_stage_maps_through_the_setting() -> None:
    assert of(change("lifecyclestage", "1234567"), {"1234567": Stage.SAL}).effects[0].stage is Stage.SAL
    assert of(change("lifecyclestage", "7654321"), {"7654321": None}).not_applied is not None


def test_an_owner_change_assigns_the_mapped_user() -> None:
    (effect,) = of(change("hubspot_owner_id", "77")).effects
    assert (effect.register, effect.event) == ("owner", {**BASE, "id": "K", "type": "assignment", "to": "田中美咲"})


@pytest.mark.parametrize(
    ("event", "rejected"),
    [
        (change("hubspot_owner_id", "88"), "HubSpot owner 88 is not mapped to a leadpact user; add it to LEADPACT_"),
        (change("lifecyclestage", "1234567"), "unknown lifecycle stage '1234567'; map custom stages in LEADPACT_"),
        (change("email", "yamada at example"), "email 'yamada at example' is not an e-mail address"),
        (change("numberofemployees", "many"), "numberofemployees: 'many' is not a whole number"),
        (contact_event(9, AT, "propertyChange"), "a propertyChange event without propertyName"),
    ],
)
def test_values_leadpact_cannot_take_are_rejected_with_the_reason(event: dict[str, Any], rejected: str) -> None:
    found = of(event)
    assert found.effects == ()
    assert found.rejected is not None and found.rejected.startswith(rejected)


@pytest.mark.parametrize(
    ("event", "note"),
    [
        (
            contact_event(9, AT, "deletion"),
            "the contact was deleted in HubSpot; leadpact keeps the lead and its ledger",
        ),
        (contact_event(9, AT, "privacyDeletion"), "the contact was deleted in HubSpot"),
        (
            contact_event(9, AT, "merge", primaryObjectId=501, mergedObjectIds=[502, 503]),
            "HubSpot merged contacts 502, 503 into 501; leadpact does not merge leads from webhooks",
        ),
        (contact_event(9, AT, "associationChange"), "leadpact does not act on contact.associationChange"),
        (change("lifecyclestage", "other"), "lifecycle stage 'other' says nothing about the funnel"),
        (change("lifecyclestage", ""), "the lifecycle stage was cleared in HubSpot"),
        (change("email", ""), "the e-mail address was cleared in HubSpot; leadpact keeps it"),
        (change("hubspot_owner_id", ""), "the owner was removed in HubSpot"),
        (change("lastmodifieddate", "1775000000000"), "lastmodifieddate is HubSpot bookkeeping"),
        (
            {**contact_event(9, AT), "subscriptionType": "deal.creation"},
            "leadpact maps contact events only; deal.creation is kept",
        ),
        (
            {**contact_event(9, AT), "subscriptionType": "object.creation", "objectTypeId": "0-3"},
            "leadpact maps contact events only",
        ),
    ],
)
def test_events_leadpact_does_not_act_on_say_why(event: dict[str, Any], note: str) -> None:
    found = of(event)
    assert found.effects == ()
    assert found.not_applied is not None and found.not_applied.startswith(note)


def test_generic_object_subscriptions_of_contacts_are_contact_events() -> None:
    event = {**change("jobtitle", "課長"), "subscriptionType": "object.propertyChange", "objectTypeId": "0-1"}
    assert of(event).effects[0].event["attributes"] == {"title": "課長"}


def test_a_retry_has_the_key_of_the_first_attempt_and_another_event_another_key() -> None:
    first = contact_event(7, AT, "propertyChange", property="jobtitle", value="課長", zeta=1, alpha="2")
    retry = {**first, "attemptNumber": 3}
    reordered = dict(reversed(list(first.items())))
    other = {**first, "propertyValue": "部長"}  # HubSpot: eventId alone is not guaranteed unique
    keys = [read_element(0, e).key for e in (first, retry, reordered, other)]
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert keys[0].startswith("7-") and keys[3].startswith("7-")


def test_a_malformed_element_is_read_with_its_problems() -> None:
    found = read_element(3, {"eventId": "x", "subscriptionType": "contact.creation"})
    assert found.event is None and found.key.startswith("malformed-")
    assert found.problem == (
        "eventId: Input should be a valid integer, unable to parse string as an integer; "
        "objectId: required field is missing; occurredAt: required field is missing"
    )
    assert read_element(0, 42).problem == "event: Input should be a valid dictionary or instance of HubSpotEvent"
