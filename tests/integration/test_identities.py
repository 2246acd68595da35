"""Identity resolution on the migrated store (SQLite and PostgreSQL): merges by evidence, by hand, their undo."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select

from leadpact.adapters.db import tables as t
from leadpact.adapters.db.identities import Identities
from leadpact.bootstrap import App
from leadpact.domain.errors import DomainError
from leadpact.domain.identity import EmailPolicy
from leadpact.services import users
from leadpact.services.identities import (
    IdentityRow,
    change_policy,
    list_merges,
    merge_leads,
    resolve_leads,
    undo_merge,
)
from leadpact.services.ingest import ingest
from leadpact.services.leads import show_lead
from leadpact.services.ledger import verify_ledger
from leadpact.services.routing import route
from tests.factories import event, lines, sign_example_pact
from tests.query_plans import plan_of

JST = timezone(timedelta(hours=9))
T1 = datetime(2026, 4, 6, 10, 0, tzinfo=JST)
FIT = {"company": "株式会社テスト製作所", "industry": "製造業", "employees": 300}
TARO = "taro@example.co.jp"


def marketing(lead: str = TARO, at: datetime = T1, prefix: str = "a") -> list[dict[str, Any]]:
    """Fit 25 + download 20 + seminar 30 + pricing page 12 ≥ 80: an MQL at the third activity."""
    return [
        event("lead_upsert", at - timedelta(days=1), lead=lead, id=f"{prefix}u", attributes=FIT),
        event("activity", at, lead=lead, id=f"{prefix}1", activity="document_download"),
        event("activity", at + timedelta(hours=1), lead=lead, id=f"{prefix}2", activity="seminar_attended"),
        event(
            "activity",
            at + timedelta(hours=2),
            lead=lead,
            id=f"{prefix}3",
            activity="page_view",
            properties={"url": "/pricing"},
        ),
    ]


def both(at: datetime, event_id: str, kind: str = "lead_upsert", **fields: Any) -> dict[str, Any]:
    """An event naming taro's address and HubSpot contact 101 together."""
    body = event(kind, at, id=event_id, **fields)
    body["lead"] = {"email": TARO, "system": "hubspot", "id": "101"}
    return body


def apply(app: App, events: list[dict[str, Any]]) -> Any:
    report = ingest(app.engine, app.clock, lines(events))
    assert report.rejected == [], report.rejected
    return report


def lead_ids(engine: Engine) -> list[int]:
    with engine.connect() as c:
        return list(c.execute(select(t.leads.c.id).order_by(t.leads.c.id)).scalars())


def state(engine: Engine) -> dict[int, dict[str, Any]]:
    """Everything a merge touches, per lead: the lead row, its ids, addresses, activities, contacts,
    clocks and score."""
    found: dict[int, dict[str, Any]] = {}
    with engine.connect() as c:
        owners = dict(c.execute(select(t.users.c.id, t.users.c.name)).all())
        for row in c.execute(select(t.leads).order_by(t.leads.c.id)):
            found[row.id] = {
                "email": row.email,
                "attributes": row.attributes,
                "stage": row.stage,
                "stage_changed_at": row.stage_changed_at,
                "owner": owners.get(row.owner_id),
                "bant": row.bant,
                "refs": [],
                "emails": [],
                "activities": [],
                "contacts": [],
                "clocks": [],
                "score": None,
            }
        for system, external_id, lead in c.execute(select(t.lead_refs)):
            found[lead]["refs"].append(f"{system}:{external_id}")
        for email, lead, _ in c.execute(select(t.lead_emails)):
            found[lead]["emails"].append(email)
        for lead in found.values():
            lead["refs"].sort()
            lead["emails"].sort()
        for row in c.execute(select(t.activities).order_by(t.activities.c.id)):
            found[row.lead_id]["activities"].append(row.id)
        for row in c.execute(select(t.contacts).order_by(t.contacts.c.id)):
            found[row.lead_id]["contacts"].append(row.id)
        for row in c.execute(select(t.clocks).order_by(t.clocks.c.id)):
            found[row.lead_id]["clocks"].append((row.id, row.clock_id, row.stopped_at, row.stopped_by))
        for row in c.execute(select(t.lead_scores)):
            found[row.lead_id]["score"] = (row.pact_version, row.as_of, round(row.total, 9))
    return found


def ledger_kinds(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as c:
        rows = c.execute(select(t.ledger_entries.c.lead_id, t.ledger_entries.c.kind).order_by(t.ledger_entries.c.seq))
        return [(lead, kind) for lead, kind in rows if kind in ("merge", "unmerge")]


def two_people_who_are_one(app: App) -> None:
    """Taro by e-mail: an MQL, unassigned, its handoff clock running. HubSpot contact 101 (no address),
    a day younger: an MQL assigned to 田中 and accepted (sal), its first-contact clock running."""
    sign_example_pact(app)
    apply(app, marketing())
    day = T1 + timedelta(days=1)
    apply(
        app,
        [
            *marketing(lead="101", at=day, prefix="h"),
            event("contact_logged", day + timedelta(hours=3), lead="101", id="hc", by="田中", channel="phone"),
            event("assignment", day + timedelta(hours=4), lead="101", id="hs", to="田中"),
            event("stage_change", day + timedelta(hours=5), lead="101", id="hsal", to="sal", by="田中"),
        ],
    )


def test_an_event_naming_the_address_of_one_lead_and_the_id_of_another_merges_them(app: App) -> None:
    two_people_who_are_one(app)
    before = state(app.engine)
    taro, contact = lead_ids(app.engine)
    report = apply(app, [both(T1 + timedelta(days=3), "m1")])
    assert (report.created, report.leads_created, report.leads_merged) == (1, 0, 1)

    after = state(app.engine)
    merged = after[taro]
    # the older lead survives, with everything the other one had
    assert merged["refs"] == ["hubspot:101"]
    assert merged["activities"] == before[taro]["activities"] + before[contact]["activities"]
    assert merged["contacts"] == before[contact]["contacts"]
    # the contact lead was further along (sal, held by 田中): the merged lead takes its state
    assert (merged["stage"], merged["owner"], merged["stage_changed_at"]) == (
        "sal",
        "田中",
        before[contact]["stage_changed_at"],
    )
    # its running first-contact clock runs on for the survivor; taro's handoff clock stopped now
    (handoff,) = before[taro]["clocks"]
    first_contact = next(c for c in before[contact]["clocks"] if c[1] == "is_first_contact")
    assert sorted(merged["clocks"]) == sorted([(handoff[0], "mql_handoff", app.clock.now(), None), first_contact])
    # the absorbed lead keeps its history (ledger, the clock that stopped) and nothing else
    absorbed = after[contact]
    assert (absorbed["refs"], absorbed["activities"], absorbed["contacts"], absorbed["email"]) == ([], [], [], None)
    assert [c[1] for c in absorbed["clocks"]] == ["mql_handoff"]
    assert absorbed["score"] is None
    # the score is folded afresh from all six activities
    assert merged["score"] is not None and merged["score"][2] > before[taro]["score"][2]
    assert ledger_kinds(app.engine) == [(taro, "merge"), (contact, "merge")]

    (listed,) = list_merges(app.store())
    assert (listed.merge.survivor_id, listed.merge.absorbed_id, listed.merge.rule) == (taro, contact, "same_record")
    (proof,) = listed.merge.evidence["records"]
    assert proof == {
        "event": {"source": "test", "id": "m1"},
        "line": 1,
        "identifiers": [{"id": TARO, "lead": taro}, {"id": "hubspot:101", "lead": contact}],
    }
    # later events by either name find the merged lead; the absorbed lead's id does too
    apply(app, [event("activity", T1 + timedelta(days=4), lead="101", id="late", activity="page_view")])
    assert state(app.engine)[taro]["activities"][-1] > merged["activities"][-1]
    assert show_lead(app.store(), str(contact), app.clock.now()).lead.id == taro
    assert verify_ledger(app.store())[1] is None


def test_undoing_a_merge_restores_both_leads_exactly_and_both_steps_are_in_the_ledger(app: App) -> None:
    two_people_who_are_one(app)
    before = state(app.engine)
    taro, contact = lead_ids(app.engine)
    apply(app, [both(T1 + timedelta(days=3), "m1")])
    (merge,) = list_merges(app.store())

    app.clock.at += timedelta(hours=1)  # type: ignore[attr-defined]
    undone = undo_merge(app.engine, app.clock.now(), merge.merge.id, "鈴木")
    assert undone.merge.undone_by == "鈴木"
    assert undone.merge.undo == {
        "merge": merge.merge.id,
        "restored": ["stage", "owner", "bant", "attributes", "email"],
        "kept": [],
        "clocks_reopened": 1,
    }
    assert state(app.engine) == before
    assert ledger_kinds(app.engine) == [(taro, "merge"), (contact, "merge"), (taro, "unmerge"), (contact, "unmerge")]
    checked, broken = verify_ledger(app.store())
    assert broken is None and checked > 4


def test_after_an_undo_the_two_leads_stay_apart_and_the_event_naming_both_is_refused(app: App) -> None:
    two_people_who_are_one(app)
    taro, contact = lead_ids(app.engine)
    apply(app, [both(T1 + timedelta(days=3), "m1")])
    (merge,) = list_merges(app.store())
    undo_merge(app.engine, app.clock.now(), merge.merge.id, "鈴木")
    report = ingest(app.engine, app.clock, lines([both(T1 + timedelta(days=5), "m2")]))
    (rejected,) = report.rejected
    assert rejected.reason == (
        f"{TARO} is lead {taro} and hubspot:101 is lead {contact}, which were kept apart when merge "
        f"{merge.merge.id} was undone; correct the record in its source system, or merge them by hand "
        "with `leadpact identities merge`"
    )
    # a person may still merge them by hand; the evidence says they had been kept apart
    again = merge_leads(
        app.engine, app.clock.now(), "101" if False else str(contact), TARO, "田中", note="同一人物と確認"
    )
    assert (again.merge.survivor_id, again.merge.absorbed_id, again.merge.rule) == (taro, contact, "manual")
    assert again.merge.evidence == {"asked": [str(contact), TARO], "kept_apart_by": merge.merge.id}
    assert again.merge.note == "同一人物と確認"


def test_only_a_manager_may_undo_and_only_once(app: App) -> None:
    two_people_who_are_one(app)
    apply(app, [both(T1 + timedelta(days=3), "m1")])
    (merge,) = list_merges(app.store())
    with pytest.raises(DomainError) as refused:
        undo_merge(app.engine, app.clock.now(), merge.merge.id, "田中")
    assert str(refused.value) == "only a manager may undo a merge; 田中 is not one"
    undo_merge(app.engine, app.clock.now(), merge.merge.id, "佐藤")
    with pytest.raises(DomainError) as twice:
        undo_merge(app.engine, app.clock.now(), merge.merge.id, "佐藤")
    assert str(twice.value) == f"merge {merge.merge.id} was undone already, by 佐藤 at 2026-10-01 09:00 UTC"
    with pytest.raises(DomainError) as unknown:
        undo_merge(app.engine, app.clock.now(), 999, "佐藤")
    assert str(unknown.value) == "no merge 999; `leadpact identities` lists them"


def test_merges_are_undone_newest_first(app: App) -> None:
    sign_example_pact(app)
    apply(
        app,
        [
            event("lead_upsert", T1, lead="a@example.co.jp", id="1"),
            event("lead_upsert", T1 + timedelta(hours=1), lead="b@example.co.jp", id="2"),
            event("lead_upsert", T1 + timedelta(hours=2), lead="c@example.co.jp", id="3"),
        ],
    )
    a, b, c = lead_ids(app.engine)
    first = merge_leads(app.engine, app.clock.now(), "b@example.co.jp", "c@example.co.jp", "田中")
    second = merge_leads(app.engine, app.clock.now(), "c@example.co.jp", "a@example.co.jp", "田中")
    assert (first.merge.survivor_id, first.merge.absorbed_id) == (b, c)
    assert (second.merge.survivor_id, second.merge.absorbed_id) == (a, b)
    with pytest.raises(DomainError) as refused:
        undo_merge(app.engine, app.clock.now(), first.merge.id, "佐藤")
    assert str(refused.value) == f"undo merge {second.merge.id} first: it merged lead {b} into lead {a} after this one"
    undo_merge(app.engine, app.clock.now(), second.merge.id, "佐藤")
    undo_merge(app.engine, app.clock.now(), first.merge.id, "佐藤")
    emails = {lead: s["email"] for lead, s in state(app.engine).items()}
    assert emails == {a: "a@example.co.jp", b: "b@example.co.jp", c: "c@example.co.jp"}
    assert [m.merge.id for m in list_merges(app.store())] == [second.merge.id, first.merge.id]


def test_a_merge_and_the_events_around_it_in_one_batch(app: App) -> None:
    sign_example_pact(app)
    apply(app, [event("lead_upsert", T1, id="u1"), event("lead_upsert", T1 + timedelta(hours=1), lead="101", id="u2")])
    taro, contact = lead_ids(app.engine)
    report = apply(
        app,
        [
            event("activity", T1 + timedelta(days=1), lead="101", id="x1", activity="page_view"),
            both(T1 + timedelta(days=1, hours=1), "x2", kind="activity", activity="document_download"),
            event("activity", T1 + timedelta(days=1, hours=2), lead="101", id="x3", activity="seminar_attended"),
        ],
    )
    assert (report.created, report.leads_merged) == (3, 1)
    assert len(state(app.engine)[taro]["activities"]) == 3
    assert [m.merge.absorbed_id for m in list_merges(app.store())] == [contact]


def test_names_first_seen_together_in_one_batch_make_one_new_lead_without_a_merge(app: App) -> None:
    report = apply(
        app,
        [
            event("activity", T1, id="n1", activity="page_view"),
            event("activity", T1, lead="101", id="n2", activity="page_view"),
            both(T1 + timedelta(hours=1), "n3", kind="activity", activity="page_view"),
        ],
    )
    assert (report.leads_created, report.leads_merged) == (1, 0)
    (only,) = state(app.engine).values()
    assert (only["email"], only["refs"], len(only["activities"])) == (TARO, ["hubspot:101"], 3)


def test_a_salesforce_lead_converted_into_a_contact_known_as_another_lead_is_merged(app: App) -> None:
    apply(
        app,
        [
            event("lead_upsert", T1, lead=TARO, id="s1"),
            {
                **event("activity", T1, id="s2", activity="page_view"),
                "lead": {"system": "salesforce", "id": "00Q5g00000XyZ12"},
            },
            {
                **event("activity", T1 + timedelta(days=9), id="s3", activity="page_view"),
                "lead": {"system": "salesforce", "id": "0035g00000AbC34"},
            },
        ],
    )
    with app.store() as store:
        found = resolve_leads(
            store,
            [
                IdentityRow(
                    at=T1 + timedelta(days=10),
                    email="Taro@Example.co.jp",
                    refs=[("salesforce", "00Q5g00000XyZ12"), ("salesforce", "0035g00000AbC34")],
                    record={"file": "leads.csv", "line": 2},
                )
            ],
            app.clock.now(),
        )
        store.commit()
    first, sf_lead, sf_contact = lead_ids(app.engine)
    assert [r.lead_id for r in found.rows] == [first]
    assert len(found.merges) == 2
    assert state(app.engine)[first]["refs"] == ["salesforce:0035g00000AbC34", "salesforce:00Q5g00000XyZ12"]
    merges = list_merges(app.store())
    assert [(m.merge.survivor_id, m.merge.absorbed_id) for m in merges] == [(first, sf_contact), (first, sf_lead)]
    assert merges[0].merge.evidence["records"][0]["file"] == "leads.csv"


def test_addresses_differing_only_by_case_width_or_spaces_are_one_lead(app: App) -> None:
    def visit(address: str, event_id: str) -> dict[str, Any]:
        return {**event("activity", T1, id=event_id, activity="page_view"), "lead": {"email": address}}

    report = apply(
        app,
        [
            visit("Taro@Example.co.jp", "w1"),
            visit("ＴＡＲＯ＠example.co.jp", "w2"),
            visit(" taro @ example.co.jp ", "w3"),
        ],
    )
    assert report.leads_created == 1
    apply(app, [visit("taro＠EXAMPLE.CO.JP", "w4")])
    (only,) = state(app.engine).values()
    assert (only["email"], len(only["activities"])) == (TARO, 4)


def test_an_address_named_beside_a_known_id_becomes_another_address_of_that_lead(app: App) -> None:
    apply(app, [event("lead_upsert", T1, id="o1"), event("lead_upsert", T1, lead="101", id="o2")])
    taro, contact = lead_ids(app.engine)
    renamed = event("activity", T1, id="o3", activity="page_view")
    renamed["lead"] = {"email": "taro.yamada@example.co.jp", "system": "hubspot", "id": "101"}
    apply(app, [renamed])
    assert state(app.engine)[contact]["email"] == "taro.yamada@example.co.jp"  # it had none: its first
    other = event("activity", T1, id="o4", activity="page_view")
    other["lead"] = {"email": "t.yamada@example.co.jp", "system": "hubspot", "id": "101"}
    apply(app, [other, event("activity", T1, lead="t.yamada@example.co.jp", id="o5", activity="page_view")])
    found = state(app.engine)[contact]
    assert (found["email"], found["emails"], len(found["activities"])) == (
        "taro.yamada@example.co.jp",
        ["t.yamada@example.co.jp"],
        3,
    )
    assert show_lead(app.store(), "T.Yamada@example.co.jp", app.clock.now()).lead.id == contact
    assert state(app.engine)[taro]["activities"] == []


def test_a_new_plus_addressing_policy_renormalises_stored_addresses_and_merges_those_that_become_one(app: App) -> None:
    sign_example_pact(app)
    apply(
        app,
        [
            event("lead_upsert", T1, lead="taro+seminar@gmail.com", id="p1"),
            event("lead_upsert", T1 + timedelta(days=1), lead="taro@gmail.com", id="p2"),
            event("lead_upsert", T1, lead="hanako+news@gmail.com", id="p3"),
            event("lead_upsert", T1, lead="jiro+x@example.co.jp", id="p4"),
        ],
    )
    tagged, plain, hanako, jiro = lead_ids(app.engine)
    with pytest.raises(DomainError) as refused:
        change_policy(app.engine, app.clock.now(), EmailPolicy.parse("strip:gmail.com"), "田中")
    assert str(refused.value) == "only a manager may change how e-mail addresses are compared; 田中 is not one"
    dry = change_policy(app.engine, app.clock.now(), EmailPolicy.parse("strip:gmail.com"), "佐藤", dry_run=True)
    assert len(dry.merges) == 1 and state(app.engine)[tagged]["email"] == "taro+seminar@gmail.com"
    assert list_merges(app.store()) == []

    change = change_policy(app.engine, app.clock.now(), EmailPolicy.parse("strip:gmail.com"), "佐藤")
    assert sorted(change.renamed) == [
        (tagged, "taro+seminar@gmail.com", "taro@gmail.com"),
        (hanako, "hanako+news@gmail.com", "hanako@gmail.com"),
    ]
    emails = {lead: s["email"] for lead, s in state(app.engine).items()}
    assert emails == {tagged: "taro@gmail.com", plain: None, hanako: "hanako@gmail.com", jiro: "jiro+x@example.co.jp"}
    (merge,) = list_merges(app.store())
    assert (merge.merge.survivor_id, merge.merge.absorbed_id, merge.merge.rule) == (tagged, plain, "email_policy")
    assert merge.merge.evidence == {"from": "keep", "to": "strip:gmail.com", "addresses": ["taro@gmail.com"]}
    # from now on a new tag finds the same lead
    report = apply(app, [event("activity", T1, lead="Taro+Webinar@gmail.com", id="p5", activity="page_view")])
    assert report.leads_created == 0 and len(state(app.engine)[tagged]["activities"]) == 1
    # the undo gives both leads their addresses as they were
    undo_merge(app.engine, app.clock.now(), merge.merge.id, "佐藤")
    emails = {lead: s["email"] for lead, s in state(app.engine).items()}
    assert (emails[tagged], emails[plain]) == ("taro+seminar@gmail.com", "taro@gmail.com")


def test_leads_are_linked_to_their_company_by_domain_and_by_normalised_name(app: App) -> None:
    apply(
        app,
        [
            event(
                "lead_upsert",
                T1,
                lead="taro@sample-seiki.co.jp",
                id="c1",
                attributes={"company": "株式会社サンプル精機"},
            ),
            event("lead_upsert", T1, lead="hanako@sample-seiki.co.jp", id="c2"),
            event("lead_upsert", T1, lead="jiro@gmail.com", id="c3", attributes={"company": "サンプル精機（株）"}),
            event("lead_upsert", T1, lead="saburo@yahoo.co.jp", id="c4", attributes={"company": "Other Corp."}),
            event("lead_upsert", T1, lead="shiro@gmail.com", id="c5"),
        ],
    )
    taro, hanako, jiro, saburo, shiro = lead_ids(app.engine)
    with app.engine.connect() as c:
        links = dict(c.execute(select(t.lead_companies.c.lead_id, t.lead_companies.c.company_id)).all())
        companies = {row.id: (row.name, row.name_key) for row in c.execute(select(t.companies))}
        domains = dict(c.execute(select(t.company_domains.c.domain, t.company_domains.c.company_id)).all())
    assert links[taro] == links[hanako] == links[jiro] != links[saburo]
    assert shiro not in links  # free mail and no company name: nothing to go by
    assert companies[links[taro]] == ("株式会社サンプル精機", "サンプル精機")
    assert companies[links[saburo]] == ("Other Corp.", "other")
    assert domains == {"sample-seiki.co.jp": links[taro]}


def test_an_absorbed_mql_is_not_routed_and_not_counted(app: App) -> None:
    sign_example_pact(app)
    apply(app, marketing())
    apply(app, marketing(lead="101", at=T1 + timedelta(days=1), prefix="h"))
    with app.store() as store:
        assert store.leads.stage_counts() == {"mql": 2}
    apply(app, [both(T1 + timedelta(days=3), "m1")])
    taro, _ = lead_ids(app.engine)
    with app.store() as store:
        assert store.leads.stage_counts() == {"mql": 1}
    users.add_user(app.store(), app.clock, "山本", "inside_sales")
    report = route(app.engine, app.clock.now())
    assert [ref.lead_id for ref, _ in report.routed] == [taro]


def test_a_running_clock_the_survivor_already_ran_stops_instead_of_moving(app: App) -> None:
    # Both records were qualified and assigned at the same instants: the survivor already has an
    # is_first_contact run started then (stopped by its contact), so the absorbed lead's running one
    # cannot run on for it (same clock, same start) and stops with the merge instead.
    sign_example_pact(app)
    assigned = T1 + timedelta(hours=4)
    apply(
        app,
        [
            *marketing(),
            event("assignment", assigned, id="as", to="田中"),
            event("contact_logged", assigned + timedelta(hours=1), id="ac", by="田中", channel="phone"),
            *marketing(lead="101", prefix="h"),
            event("assignment", assigned, lead="101", id="hs", to="田中"),
            event("stage_change", assigned + timedelta(hours=2), lead="101", id="hsal", to="sal", by="田中"),
        ],
    )
    taro, contact = lead_ids(app.engine)
    running = next(c for c in state(app.engine)[contact]["clocks"] if c[1] == "is_first_contact")
    apply(app, [both(T1 + timedelta(days=3), "m1")])
    after = state(app.engine)
    assert after[taro]["stage"] == "sal"
    assert (running[0], "is_first_contact", app.clock.now(), None) in after[contact]["clocks"]
    (merge,) = list_merges(app.store())
    undo_merge(app.engine, app.clock.now(), merge.merge.id, "佐藤")
    assert running in state(app.engine)[contact]["clocks"]


def test_rows_with_ids_too_long_for_the_store_are_refused_and_the_others_resolve(app: App) -> None:
    with app.store() as store:
        found = resolve_leads(
            store,
            [
                IdentityRow(at=T1, refs=[("salesforce", "x" * 201)]),
                IdentityRow(at=T1, email="yamada at example"),
                IdentityRow(at=T1, email=TARO, refs=[("marketo", "2011")]),
            ],
            app.clock.now(),
        )
        store.commit()
    too_long, not_an_address, fine = found.rows
    assert too_long.lead_id is None and too_long.refused is not None
    assert too_long.refused.startswith("the id 'salesforce:xxxxxxxx")
    assert (not_an_address.lead_id, not_an_address.refused) == (None, "'yamada at example' is not an e-mail address")
    assert fine.lead_id is not None and fine.created
    assert state(app.engine)[fine.lead_id]["refs"] == ["marketo:2011"]


def test_a_merge_and_its_undo_each_show_that_system_ids_may_have_moved(app: App) -> None:
    """What a reader process checks before its lookups of system ids are taken (services/imports.py)."""
    two_people_who_are_one(app)
    with app.store() as store:
        at_first = store.leads.refs_moved()
    apply(app, [both(T1 + timedelta(days=3), "m1")])
    (merge,) = list_merges(app.store())
    with app.store() as store:
        merged = store.leads.refs_moved()
    app.clock.at += timedelta(hours=1)  # type: ignore[attr-defined]
    undo_merge(app.engine, app.clock.now(), merge.merge.id, "鈴木")
    with app.store() as store:
        undone = store.leads.refs_moved()
    assert len({at_first, merged, undone}) == 3


@pytest.mark.parametrize(
    ("table", "verb", "call", "index"),
    [
        # every batch of an import read ahead: has a merge or an undo happened since?
        ("identity_merges", "SELECT", lambda s: s.leads.refs_moved(), "ix_identity_merges_unmerge_seq"),
        # every batch that would join two leads: did an admin separate them?
        (
            "identity_merges",
            "SELECT",
            lambda s: Identities(s.connection).apart([1, 2]),
            "ix_identity_merges_absorbed_id",
        ),
        # an undo: the system ids the merge moved go back, found by their key
        ("lead_refs", "UPDATE", lambda s: Identities(s.connection).move_back(1, 2), "lead_refs' key"),
    ],
    ids=["refs_moved", "apart", "move_back"],
)
def test_merge_bookkeeping_reads_indexes_not_every_merge_or_system_id(
    app: App, table: str, verb: str, call: Any, index: str
) -> None:
    def run() -> None:
        with app.store() as store:
            call(store)

    plan = plan_of(app.engine, table, run, verb)
    keys = {"sqlite": "sqlite_autoindex_lead_refs_1", "postgresql": "pk_lead_refs"}
    assert (keys[app.engine.dialect.name] if index == "lead_refs' key" else index) in plan, plan
