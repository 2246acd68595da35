"""Escalation on the migrated store (SQLite and PostgreSQL), against local receivers: each breach
reaches each channel and recipient once, a failing channel is retried later and never holds back
the others, and two processes sweeping at once send one notification each."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from leadpact.adapters.channels import Channels, load_channels
from leadpact.adapters.db.engine import make_engine
from leadpact.adapters.db.store import Store
from leadpact.bootstrap import App
from leadpact.domain.escalation import MAX_ATTEMPTS, NotificationStatus
from leadpact.services.escalation import LEASE, deliver, outbox
from leadpact.services.ingest import ingest
from leadpact.services.sla import board, sweep
from tests.factories import event, lines
from tests.integration.test_ingest import marketing_events
from tests.integration.test_sweep import ASSIGNED, LATE, neglected
from tests.query_plans import plan_of
from tests.receivers import WEBHOOK_SECRET, Far, closed_port

SLACK_ENV, PASSWORD_ENV, SECRET_ENV = "LP_TEST_SLACK_URL", "LP_TEST_SMTP_PASSWORD", "LP_TEST_WEBHOOK_SECRET"


def channels_yaml(slack_url: str, smtp_url: str, webhook_url: str) -> tuple[str, dict[str, str]]:
    text = f"""
channels:
  - id: is-slack
    type: slack
    url_env: {SLACK_ENV}
    departments: [inside_sales]
  - id: fs-slack
    type: slack
    url_env: {SLACK_ENV}
    departments: [field_sales]
  - id: managers
    type: email
    url: {smtp_url}
    username: leadpact
    password_env: {PASSWORD_ENV}
    from: leadpact@corp.example
    to:
      - {{address: is-manager@corp.example, lang: ja}}
      - {{address: cro@corp.example, lang: en}}
  - id: crm
    type: webhook
    url: {webhook_url}
    secret_env: {SECRET_ENV}
    lang: en
"""
    return text, {SLACK_ENV: slack_url, PASSWORD_ENV: "pw", SECRET_ENV: WEBHOOK_SECRET}


def write_channels(tmp_path: Path, slack_url: str, smtp_url: str, webhook_url: str) -> tuple[Path, dict[str, str]]:
    text, env = channels_yaml(slack_url, smtp_url, webhook_url)
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return path, env


def two_neglected(app: App) -> None:
    """Two leads held by 田中 in inside sales, both past their first-contact clock at LATE."""
    neglected(app)
    hanako = "hanako@example.co.jp"
    events = [{**e, "id": f"h{e['id']}", "lead": {"email": hanako}} for e in marketing_events()]
    ingest(app.engine, app.clock, lines([*events, event("assignment", ASSIGNED, lead=hanako, id="s2", to="田中")]))


@pytest.fixture
def channels(far: Far, tmp_path: Path) -> Channels:
    path, env = write_channels(tmp_path, far.slack.url, far.smtp.url, far.hook.url)
    return load_channels(path, env)


def statuses(app: App) -> list[tuple[str, str, str, int]]:
    return [(n.channel, n.recipient, n.status.value, n.attempts) for n in outbox(app.engine)]


def test_each_breach_reaches_each_channel_and_recipient_once(app: App, far: Far, channels: Channels) -> None:
    two_neglected(app)
    report = sweep(app.engine, LATE, channels)
    # per breach: is-slack, the two mailboxes and the webhook; fs-slack serves field sales only
    assert len(report.new) == 2 and report.queued == 8
    delivered = deliver(app.engine, channels, LATE)
    assert len(delivered.of(NotificationStatus.SENT)) == 8 and delivered.more_due == 0
    assert len(far.slack.accepted) == 2 and len(far.hook.accepted) == 2 and len(far.smtp.mails) == 4
    assert {n.status for n in outbox(app.engine)} == {NotificationStatus.SENT}

    # again, later: nothing new to record, nothing sent twice
    assert sweep(app.engine, LATE + timedelta(hours=1), channels).queued == 0
    assert deliver(app.engine, channels, LATE + timedelta(hours=1)).outcomes == []
    assert len(far.slack.requests) == 2 and len(far.hook.requests) == 2 and len(far.smtp.mails) == 4


def test_messages_speak_each_recipients_language(app: App, far: Far, channels: Channels) -> None:
    neglected(app)
    sweep(app.engine, LATE, channels)
    deliver(app.engine, channels, LATE)
    mails = {m.recipients[0]: m.message for m in far.smtp.mails}
    ja, en = mails["is-manager@corp.example"], mails["cro@corp.example"]
    assert ja["Subject"] == "[leadpact] 放置リード: ISの初回接触(3営業日以内) 2営業日超過 — taro@example.co.jp"
    assert "担当者: 田中(インサイドセールス部)" in ja.get_content()
    assert "期限: 2026-04-10 00:00 JST" in ja.get_content()
    assert en["Subject"].startswith("[leadpact] Neglected lead: ISの初回接触(3営業日以内) 2 business day(s) late")
    assert "Held by: 田中 (Inside sales)" in en.get_content()
    assert "Details: leadpact lead show 1" in en.get_content()
    assert ja.get_content_charset() == "utf-8" and ja["Message-ID"] != en["Message-ID"]

    (slack,) = far.slack.accepted
    assert json.loads(slack.body)["text"].startswith("*[leadpact] 放置リード: ISの初回接触")
    (hook,) = far.hook.accepted
    body = json.loads(hook.body)
    assert body["event"] == "clock.breached" and body["message"]["lang"] == "en"
    assert (body["lead"]["email"], body["clock"]["id"], body["clock"]["business_days_late"]) == (
        "taro@example.co.jp",
        "is_first_contact",
        2,
    )
    assert body["clock"]["due_at"] == "2026-04-09T15:00:00+00:00" and body["owner"]["department"] == "inside_sales"
    assert hook.headers["X-Leadpact-Timestamp"] == str(int(LATE.timestamp()))
    assert hook.headers["X-Leadpact-Delivery"] == body["delivery"] == f"breach-{body['breach']['id']}.crm"


def test_a_failing_receiver_is_retried_later_and_gets_the_breach_once(app: App, far: Far, channels: Channels) -> None:
    two_neglected(app)
    far.hook.failures = 1
    sweep(app.engine, LATE, channels)
    first = deliver(app.engine, channels, LATE)
    # the webhook's first notification failed, its second was not tried; the other channels all went out
    waiting = first.of(NotificationStatus.PENDING)
    assert [(o.notification.channel, o.attempts, o.next_attempt_at) for o in waiting] == [
        ("crm", 1, LATE + timedelta(minutes=1)),
        ("crm", 0, LATE + timedelta(minutes=1)),
    ]
    assert waiting[0].error == "HTTP 500: upstream trouble"
    assert waiting[1].error is not None and waiting[1].error.startswith("not tried: the channel failed")
    assert len(far.hook.requests) == 1 and len(first.of(NotificationStatus.SENT)) == 6

    # not due yet: nothing is sent
    assert deliver(app.engine, channels, LATE + timedelta(seconds=30)).outcomes == []
    assert len(far.hook.requests) == 1
    # due: both are sent, once each
    again = deliver(app.engine, channels, LATE + timedelta(minutes=1))
    assert len(again.of(NotificationStatus.SENT)) == 2 and len(far.hook.accepted) == 2
    assert {json.loads(r.body)["delivery"] for r in far.hook.accepted} == {
        json.loads(r.body)["delivery"] for r in far.hook.requests
    }
    crm = sorted((n.attempts, n.status.value) for n in outbox(app.engine) if n.channel == "crm")
    assert crm == [(1, "sent"), (2, "sent")]


def test_a_channel_that_is_down_gives_up_after_the_last_attempt_and_the_breach_stays(
    app: App, far: Far, tmp_path: Path
) -> None:
    neglected(app)
    down = f"http://127.0.0.1:{closed_port()}/hook"
    path, env = write_channels(tmp_path, far.slack.url, far.smtp.url, down)
    channels = load_channels(path, env)
    sweep(app.engine, LATE, channels)
    at, waits = LATE, []
    for _ in range(MAX_ATTEMPTS):
        report = deliver(app.engine, channels, at)
        (outcome,) = [o for o in report.outcomes if o.notification.channel == "crm"]
        if outcome.next_attempt_at is None:
            break
        waits.append(outcome.next_attempt_at - at)
        at = outcome.next_attempt_at
    assert [w // timedelta(minutes=1) for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert outcome.status is NotificationStatus.GAVE_UP and outcome.attempts == MAX_ATTEMPTS
    assert outcome.error is not None and outcome.error.startswith("ConnectError") and down not in outcome.error
    (gave_up,) = outbox(app.engine, NotificationStatus.GAVE_UP)
    assert gave_up.channel == "crm" and gave_up.last_error == outcome.error
    assert deliver(app.engine, channels, at + timedelta(days=1)).outcomes == []
    # the other channels went out at once, and the breach is still recorded and on the board
    assert len(far.slack.accepted) == 1 and len(far.smtp.mails) == 2
    assert [n.held.run.clock_id for n in board(app.engine, at).items] == ["is_first_contact"]


def test_a_mail_server_refusing_for_a_while_holds_back_only_the_mail(app: App, far: Far, channels: Channels) -> None:
    neglected(app)
    far.smtp.failures = 1
    sweep(app.engine, LATE, channels)
    report = deliver(app.engine, channels, LATE)
    (failed, skipped) = report.of(NotificationStatus.PENDING)
    assert failed.error == f"SMTP 127.0.0.1:{far.smtp.port}: 451 4.3.0 try again later"
    assert skipped.notification.recipient == "cro@corp.example" and skipped.attempts == 0
    assert len(far.slack.accepted) == 1 and len(far.hook.accepted) == 1 and far.smtp.mails == []
    deliver(app.engine, channels, LATE + timedelta(minutes=1))
    assert sorted(m.recipients[0] for m in far.smtp.mails) == ["cro@corp.example", "is-manager@corp.example"]


def test_a_claim_left_by_a_process_that_died_is_taken_over_after_its_lease(
    app: App, far: Far, channels: Channels
) -> None:
    neglected(app)
    sweep(app.engine, LATE, channels)
    with Store(app.engine) as store:  # a deliverer claims everything, then dies before sending
        assert len(store.notifications.claim(LATE, LATE + LEASE, "dead", [c.id for c in channels], 100)) == 4
        store.commit()
    assert deliver(app.engine, channels, LATE + timedelta(minutes=5)).outcomes == []
    assert len(deliver(app.engine, channels, LATE + LEASE).of(NotificationStatus.SENT)) == 4
    assert len(far.slack.accepted) == 1 and len(far.hook.accepted) == 1 and len(far.smtp.mails) == 2


def test_a_sweep_without_channels_queues_nothing(app: App) -> None:
    neglected(app)
    assert sweep(app.engine, LATE).queued == 0
    assert outbox(app.engine) == []


def _sweep_and_deliver(
    url: str, path: str, env: dict[str, str], now: datetime, queue: multiprocessing.Queue[tuple[int, int]]
) -> None:
    engine = make_engine(url)
    channels = load_channels(Path(path), env)
    recorded = len(sweep(engine, now, channels).new)
    sent = len(deliver(engine, channels, now).of(NotificationStatus.SENT))
    queue.put((recorded, sent))


def test_two_processes_sweeping_and_notifying_at_once_send_one_notification_per_channel(
    app: App, far: Far, tmp_path: Path
) -> None:
    two_neglected(app)
    path, env = write_channels(tmp_path, far.slack.url, far.smtp.url, far.hook.url)
    url = app.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    workers = [context.Process(target=_sweep_and_deliver, args=(url, str(path), env, LATE, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    results = [queue.get(timeout=5) for _ in workers]
    # one sweep recorded both breaches in its transaction; the other found them recorded
    assert sorted(recorded for recorded, _ in results) == [0, 2] and sum(sent for _, sent in results) == 8
    assert sweep(app.engine, LATE).known == 2
    assert len(far.slack.requests) == 2 and len(far.hook.requests) == 2 and len(far.smtp.mails) == 4
    assert len({json.loads(r.body)["delivery"] for r in far.hook.accepted}) == 2
    assert sorted(m.recipients[0] for m in far.smtp.mails) == [
        "cro@corp.example",
        "cro@corp.example",
        "is-manager@corp.example",
        "is-manager@corp.example",
    ]
    assert statuses(app) == [
        (channel, recipient, "sent", 1)
        for _ in range(2)
        for channel, recipient in (
            ("is-slack", ""),
            ("managers", "is-manager@corp.example"),
            ("managers", "cro@corp.example"),
            ("crm", ""),
        )
    ]


def test_claiming_due_notifications_reads_the_pending_ones_only(app: App) -> None:
    """Every delivery run claims the due rows: in id order without the index of pending rows, SQLite
    read every notification ever sent to find them."""
    now = app.clock.now()

    def claim() -> None:
        with app.store() as store:
            store.notifications.claim(now, now + LEASE, "token", ["slack"], 10)

    plan = plan_of(app.engine, "notifications", claim)
    assert "ix_notifications_due" in plan, plan
