"""What a breach notification says in Japanese and English, its webhook signature, and the retry schedule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from leadpact.domain.escalation import (
    MAX_ATTEMPTS,
    BreachNotice,
    DepartmentName,
    render,
    retry_at,
    signature,
    webhook_body,
)
from tests.receivers import verify_signature

IS = DepartmentName("inside_sales", "インサイドセールス部", "Inside sales")
NOTICE = BreachNotice(
    breach_id=7,
    lead_id=42,
    email="taro@example.co.jp",
    company="株式会社テスト製作所",
    clock_id="is_first_contact",
    label="ISの初回接触(3営業日以内)",
    pact_version=1,
    state="breached",
    started_at=datetime(2026, 4, 6, 5, tzinfo=UTC),
    due_at=datetime(2026, 4, 9, 15, tzinfo=UTC),  # the end of Thursday 4/9 in Tokyo
    timezone="Asia/Tokyo",
    business_days_late=2,
    responsible=IS,
    owner="田中",
    owner_department=IS,
    detected_at=datetime(2026, 4, 13, 3, tzinfo=UTC),
)


def test_the_japanese_message() -> None:
    message = render(NOTICE, "ja")
    assert message.subject == "[leadpact] 放置リード: ISの初回接触(3営業日以内) 2営業日超過 — taro@example.co.jp"
    assert message.text == (
        "合意した期限を過ぎても対応されていないリードがあります。\n"
        "\n"
        "リード: taro@example.co.jp(株式会社テスト製作所)\n"
        "クロック: ISの初回接触(3営業日以内)\n"
        "期限: 2026-04-10 00:00 JST\n"
        "超過: 2営業日\n"
        "担当者: 田中(インサイドセールス部)\n"
        "責任部門: インサイドセールス部\n"
        "詳細: leadpact lead show 42\n"
    )


def test_the_english_message() -> None:
    message = render(NOTICE, "en")
    assert message.subject == (
        "[leadpact] Neglected lead: ISの初回接触(3営業日以内) 2 business day(s) late — taro@example.co.jp"
    )
    assert message.text == (
        "A lead is past its agreed deadline and nobody has handled it.\n"
        "\n"
        "Lead: taro@example.co.jp (株式会社テスト製作所)\n"
        "Clock: ISの初回接触(3営業日以内) [is_first_contact]\n"
        "Due: 2026-04-10 00:00 JST\n"
        "Late: 2 business day(s)\n"
        "Held by: 田中 (Inside sales)\n"
        "Responsible: Inside sales\n"
        "Details: leadpact lead show 42\n"
    )


@pytest.mark.parametrize(
    ("changes", "lang", "expected"),
    [
        ({"owner": None, "owner_department": None}, "ja", "担当者: 未割り当て"),
        ({"owner": None, "owner_department": None}, "en", "Held by: nobody (unassigned)"),
        ({"business_days_late": 0}, "ja", "超過: 1営業日未満"),
        ({"business_days_late": 0}, "en", "Late: less than a business day"),
        ({"state": "met_late"}, "ja", "合意した期限を過ぎてから対応されたリードがあります。"),
        ({"state": "met_late"}, "en", "A lead was handled after its agreed deadline."),
        ({"email": None, "company": None}, "ja", "リード: リード 42\n"),
        ({"timezone": "UTC"}, "en", "Due: 2026-04-09 15:00 UTC"),
        ({"is_test": True}, "ja", "これは leadpact の通知チャネルのテストです。"),
    ],
)
def test_message_variants(changes: dict[str, object], lang: str, expected: str) -> None:
    assert expected in render(replace(NOTICE, **changes), "en" if lang == "en" else "ja").text  # type: ignore[arg-type]


def test_a_breach_less_than_a_business_day_late_is_past_due_in_the_subject() -> None:
    assert " 期限超過 — " in render(replace(NOTICE, business_days_late=0), "ja").subject
    assert " past due — " in render(replace(NOTICE, business_days_late=0), "en").subject


def test_a_test_message_says_so_in_its_subject() -> None:
    assert render(replace(NOTICE, is_test=True), "ja").subject.startswith("【テスト】[leadpact]")
    assert render(replace(NOTICE, is_test=True), "en").subject.startswith("[test] [leadpact]")


def test_a_notice_survives_the_outbox_round_trip() -> None:
    assert BreachNotice.from_json(json.loads(json.dumps(NOTICE.to_json()))) == NOTICE
    unassigned = replace(NOTICE, owner=None, owner_department=None, company=None)
    assert BreachNotice.from_json(unassigned.to_json()) == unassigned


def test_the_webhook_body_carries_ids_iso_times_and_the_message() -> None:
    body = json.loads(webhook_body(NOTICE, "breach-7.crm", "en"))
    assert body["event"] == "clock.breached" and body["delivery"] == "breach-7.crm" and body["test"] is False
    assert body["breach"] == {"id": 7, "detected_at": "2026-04-13T03:00:00+00:00"}
    assert body["lead"] == {"id": 42, "email": "taro@example.co.jp", "company": "株式会社テスト製作所"}
    assert body["clock"]["due_at"] == "2026-04-09T15:00:00+00:00" and body["clock"]["responsible"] == "inside_sales"
    assert body["owner"] == {"name": "田中", "department": "inside_sales"}
    assert body["message"]["subject"] == render(NOTICE, "en").subject


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # the expected digest is `printf '%s' '1776049200.{"event":"clock.breached"}' | openssl dgst -sha256 -hmac …`
    body = b'{"event":"clock.breached"}'
    expected = "sha256=09e9a49f15b035927776d6ebf70c0767f67567e434478a0ca44e5c53f2523fa3"
    assert signature("whsec-0123456789", 1776049200, body) == expected
    assert verify_signature("whsec-0123456789", "1776049200", body, expected)
    assert not verify_signature("whsec-0123456789", "1776049201", body, expected)  # a replayed body, new time
    assert not verify_signature("whsec-0123456789", "1776049200", body + b" ", expected)
    assert not verify_signature("another-secret", "1776049200", body, expected)


FAILED = datetime(2026, 4, 13, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 60), (8, 60), (9, 60)],
)
def test_retries_wait_twice_as_long_each_time_up_to_an_hour(attempts: int, wait: int) -> None:
    assert retry_at(attempts, FAILED) == FAILED + timedelta(minutes=wait)


def test_the_tenth_failed_attempt_gives_up() -> None:
    assert MAX_ATTEMPTS == 10 and retry_at(MAX_ATTEMPTS, FAILED) is None
