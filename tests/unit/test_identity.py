"""Identity rules, hand-written: addresses, plus-addressing, company names and domains, one person, the merged lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadpact.domain.identity import (
    EMAIL,
    EmailPolicy,
    Record,
    company_domain,
    is_free_mail,
    merged_state,
    normalise_company_name,
    normalise_email,
    plan_identities,
    survivor_order,
)
from leadpact.domain.lead import Lead
from leadpact.domain.lifecycle import Stage
from leadpact.domain.pact import BantItem
from leadpact.domain.qualification import Bant

GMAIL_ONLY = EmailPolicy(strip_plus=True, domains=frozenset({"gmail.com"}))


@pytest.mark.parametrize(
    ("raw", "policy", "expected"),
    [
        ("taro@example.co.jp", EmailPolicy(), "taro@example.co.jp"),
        ("Taro.Yamada@Example-Seiki.CO.JP", EmailPolicy(), "taro.yamada@example-seiki.co.jp"),
        ("Ｔａｒｏ.Yamada＠Example-Seiki.CO.JP", EmailPolicy(), "taro.yamada@example-seiki.co.jp"),  # full width
        ("taro＠example．co．jp", EmailPolicy(), "taro@example.co.jp"),  # full-width ＠ and ．
        ("  taro@example.co.jp\t", EmailPolicy(), "taro@example.co.jp"),
        ("taro @ example.co.jp", EmailPolicy(), "taro@example.co.jp"),  # stray inner spaces
        ("taro\u3000@example.co.jp", EmailPolicy(), "taro@example.co.jp"),  # ideographic space
        ("ta\u200bro@example.co.jp\ufeff", EmailPolicy(), "taro@example.co.jp"),  # zero-width space, BOM
        ("mailto:Taro@Example.co.jp", EmailPolicy(), "taro@example.co.jp"),
        ("山田 太郎 <Taro@Example.co.jp>", EmailPolicy(), "taro@example.co.jp"),
        ("taro@example.co.jp.", EmailPolicy(), "taro@example.co.jp"),
        ("taro+news@example.co.jp", EmailPolicy(), "taro+news@example.co.jp"),  # keep: a tag is part of it
        ("taro+news@example.co.jp", EmailPolicy(strip_plus=True), "taro@example.co.jp"),
        ("taro+a+b@example.co.jp", EmailPolicy(strip_plus=True), "taro@example.co.jp"),
        ("+news@example.co.jp", EmailPolicy(strip_plus=True), "+news@example.co.jp"),  # nothing left: kept
        ("Taro+News@GMAIL.com", GMAIL_ONLY, "taro@gmail.com"),
        ("taro+news@example.co.jp", GMAIL_ONLY, "taro+news@example.co.jp"),  # not a listed domain
        ("yamada at example", EmailPolicy(), "yamadaatexample"),  # still no address: refused by callers
    ],
)
def test_addresses_normalise(raw: str, policy: EmailPolicy, expected: str) -> None:
    assert normalise_email(raw, policy) == expected


@given(st.text(max_size=40), st.sampled_from([EmailPolicy(), EmailPolicy(strip_plus=True), GMAIL_ONLY]))
def test_normalising_twice_changes_nothing(raw: str, policy: EmailPolicy) -> None:
    once = normalise_email(raw, policy)
    assert normalise_email(once, policy) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("keep", EmailPolicy()),
        (" STRIP ", EmailPolicy(strip_plus=True)),
        ("strip:gmail.com", GMAIL_ONLY),
        ("strip:gmail.com, googlemail.com", EmailPolicy(True, frozenset({"gmail.com", "googlemail.com"}))),
    ],
)
def test_policies_are_read_and_written_back(text: str, expected: EmailPolicy) -> None:
    policy = EmailPolicy.parse(text)
    assert policy == expected
    assert EmailPolicy.parse(str(policy)) == policy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drop", "plus-addressing 'drop': expected keep, strip, or strip:DOMAIN,DOMAIN"),
        ("strip:", "'' is not a domain name; write e.g. strip:gmail.com"),
        ("strip:gmail", "'gmail' is not a domain name; write e.g. strip:gmail.com"),
    ],
)
def test_a_bad_policy_says_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        EmailPolicy.parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("株式会社サンプル精機", "サンプル精機"),
        ("サンプル精機株式会社", "サンプル精機"),
        ("(株)サンプル精機", "サンプル精機"),
        ("㈱サンプル精機", "サンプル精機"),
        ("サンプル精機（株）", "サンプル精機"),
        ("株式会社　サンプル精機", "サンプル精機"),  # ideographic space
        ("有限会社テスト商店", "テスト商店"),
        ("㈲テスト商店", "テスト商店"),
        ("合同会社 テスト・ラボ", "テストラボ"),  # 中黒 is punctuation
        ("一般社団法人日本テスト協会", "日本テスト協会"),
        ("Sample Seiki Co., Ltd.", "sampleseiki"),
        ("SAMPLE SEIKI CO.,LTD", "sampleseiki"),
        ("Sample Seiki, Inc.", "sampleseiki"),
        ("Sample Seiki Inc", "sampleseiki"),
        ("Sample Seiki Corp.", "sampleseiki"),
        ("Sample Seiki Corporation", "sampleseiki"),
        ("Sample Seiki K.K.", "sampleseiki"),
        ("Sample Seiki LLC", "sampleseiki"),
        ("Ｓａｍｐｌｅ Ｓｅｉｋｉ Ｉｎｃ．", "sampleseiki"),  # full width
        ("Bookk", "bookk"),  # a name ending in kk is not K.K.
        ("Incline Systems", "inclinesystems"),  # nor one starting with Inc
        ("株式会社", None),  # nothing but a legal form
        ("  ", None),
    ],
)
def test_company_names_normalise(raw: str, expected: str | None) -> None:
    assert normalise_company_name(raw) == expected


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("taro@example-seiki.co.jp", "example-seiki.co.jp"),
        ("taro@gmail.com", None),
        ("taro@yahoo.co.jp", None),
        ("taro@outlook.jp", None),
        ("taro@icloud.com", None),
        ("taro@docomo.ne.jp", None),
        ("taro@abc.ocn.ne.jp", None),  # an ISP's subdomain
        ("taro@sales.example.co.jp", "sales.example.co.jp"),
        (None, None),
    ],
)
def test_the_company_domain_of_an_address_leaves_out_free_mail(email: str | None, domain: str | None) -> None:
    assert company_domain(email) == domain


def test_a_domain_merely_ending_like_a_free_mail_one_is_a_company() -> None:
    assert not is_free_mail("notgmail.com") and is_free_mail("gmail.com")


T = datetime(2026, 4, 1, tzinfo=UTC)
A, B, C = (EMAIL, "a@x.jp"), ("hubspot", "101"), ("salesforce", "00Q1")


@pytest.mark.parametrize(
    ("records", "known", "persons", "outcomes"),
    [
        # a record naming a known address and a new id: the id joins that lead
        ([Record((A, B))], {A: 1}, [({1}, None, [B], [])], [0]),
        # the e-mail of lead 1 and the HubSpot id of lead 2: one person
        ([Record((A, B))], {A: 1, B: 2}, [({1, 2}, None, [], [0])], [0]),
        # a Salesforce Lead Id and the Contact Id it converted into, known as two leads
        ([Record((C, ("salesforce", "0031")))], {C: 1, ("salesforce", "0031"): 2}, [({1, 2}, None, [], [0])], [0]),
        # two records link three leads through a chain
        ([Record((A, B)), Record((B, C))], {A: 1, B: 2, C: 3}, [({1, 2, 3}, None, [], [0, 1])], [0, 0]),
        # unknown: the first creating record makes the lead, later ones join it
        ([Record((A,)), Record((A, B))], {}, [(set(), 0, [A, B], [])], [0, 0]),
        # a record that may not create, naming nobody known: resolves to nobody, links nothing
        ([Record((A, B), create=False), Record((B,))], {}, [(set(), 1, [B], [])], [None, 0]),
        # a new lead needed earlier in the batch turns out to be a stored one: no lead is created
        ([Record((A,)), Record((A, B))], {B: 7}, [({7}, None, [A], [])], [0, 0]),
    ],
)
def test_records_naming_identifiers_of_one_person_resolve_to_one_lead(
    records: list[Record],
    known: dict[tuple[str, str], int],
    persons: list[tuple[set[int], int | None, list[tuple[str, str]], list[int]]],
    outcomes: list[int | None],
) -> None:
    plan = plan_identities(records, known)
    assert [(p.leads, p.created_by, p.new_identifiers, p.bridges) for p in plan.persons] == persons
    assert [o.person for o in plan.outcomes] == outcomes


def test_leads_an_admin_separated_stay_apart_and_the_record_naming_both_is_refused() -> None:
    plan = plan_identities([Record((A, B)), Record((A,))], {A: 1, B: 2}, apart={frozenset({1, 2}): 5})
    refused, fine = plan.outcomes
    assert refused.person is None
    assert refused.refused == (
        "a@x.jp is lead 1 and hubspot:101 is lead 2, which were kept apart when merge 5 was undone; "
        "correct the record in its source system, or merge them by hand with `leadpact identities merge`"
    )
    assert fine.person is not None and plan.persons[fine.person].leads == {1}


def test_the_older_lead_survives_ties_by_id() -> None:
    assert survivor_order({5: T, 3: T + timedelta(days=1), 9: T}) == [5, 9, 3]


def lead(lead_id: int, stage: Stage, **fields: object) -> Lead:
    values: dict[str, object] = {"email": None, "attributes": {}, "stage_changed_at": T, "owner": None}
    values.update(fields)
    return Lead(id=lead_id, stage=stage, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("survivor", "absorbed", "state_of", "stage", "owner"),
    [
        (Stage.LEAD, Stage.LEAD, 1, Stage.LEAD, "田中"),  # a tie keeps the survivor's state
        (Stage.MQL, Stage.SAL, 2, Stage.SAL, "鈴木"),  # the absorbed lead is further along
        (Stage.SQL, Stage.SAL, 1, Stage.SQL, "田中"),
        (Stage.DISQUALIFIED, Stage.MQL, 2, Stage.MQL, "鈴木"),  # a disqualified duplicate is not ahead
        (Stage.WON, Stage.LOST, 1, Stage.WON, "田中"),
        (Stage.RECYCLED, Stage.LEAD, 1, Stage.RECYCLED, "田中"),
    ],
)
def test_the_merged_lead_keeps_the_state_of_the_lead_furthest_along(
    survivor: Stage, absorbed: Stage, state_of: int, stage: Stage, owner: str
) -> None:
    merged = merged_state([lead(1, survivor, owner="田中"), lead(2, absorbed, owner="鈴木")])
    assert (merged.state_of, merged.lead.stage, merged.lead.owner, merged.lead.id) == (state_of, stage, owner, 1)


def test_the_merged_lead_combines_attributes_bant_and_addresses() -> None:
    older = lead(
        1,
        Stage.MQL,
        attributes={"company": "株式会社テスト", "industry": "製造業"},
        bant=Bant(frozenset({BantItem.BUDGET}), {"decision_maker_access": False}),
    )
    newer = lead(
        2,
        Stage.SAL,
        email="taro@example.co.jp",
        attributes={"industry": "小売業", "employees": 300},
        stage_changed_at=T + timedelta(days=2),
        owner="田中",
        bant=Bant(frozenset({BantItem.NEED}), {"decision_maker_access": True}),
    )
    merged = merged_state([older, newer]).lead
    assert merged.attributes == {"company": "株式会社テスト", "industry": "製造業", "employees": 300}
    assert merged.bant == Bant(frozenset({BantItem.BUDGET, BantItem.NEED}), {"decision_maker_access": True})
    assert (merged.email, merged.stage, merged.stage_changed_at, merged.owner) == (
        "taro@example.co.jp",
        Stage.SAL,
        T + timedelta(days=2),
        "田中",
    )


def test_an_owner_comes_from_another_lead_when_the_one_ahead_has_none() -> None:
    merged = merged_state([lead(1, Stage.LEAD, owner="田中"), lead(2, Stage.SQL)])
    assert (merged.lead.stage, merged.lead.owner, merged.owner_of) == (Stage.SQL, "田中", 1)
