"""Escalation: breach notifications queued with the breach, delivered after, retried until sent.

The sweep queues one outbox row per breach, channel and recipient in its own transaction
(`enqueue`), so a breach is never recorded without its notifications and two sweeps never
queue them twice. `deliver` runs after that transaction: it claims the due rows for a while,
sends each outside any transaction, and records the outcome row by row. A failed send is
retried with backoff (`domain.escalation.retry_at`); the channel's other rows wait for the
same retry instead of stalling the run, so a channel that is down costs one timeout per run
and never holds back the others. A send can repeat only if a process dies between sending
and recording it: delivery is at least once, and the webhook's `delivery` id and the
e-mail's Message-ID stay the same so receivers can drop the repeat.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from leadpact.adapters.channels import Channel, Channels, Recipient, load_channels
from leadpact.adapters.db.store import Notification, Store
from leadpact.adapters.notifiers import DeliveryFailed, send
from leadpact.domain.escalation import (
    FIRST_RETRY,
    BreachNotice,
    DepartmentName,
    Lang,
    NotificationStatus,
    retry_at,
)

LEASE = timedelta(minutes=30)  # a claim outlives a run: BATCH sends, each bounded by its channel's timeout
BATCH = 100  # rows one run claims; the rest wait for the next sweep or `sla notify`


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    """A configured channel as people may see it: secrets masked."""

    id: str
    type: str
    target: str
    departments: tuple[str, ...]


def configured_channels(path: Path | None, env: Mapping[str, str]) -> list[ChannelSummary]:
    """The notification channels configured in the file at `path` (none without one); raises
    ChannelsInvalid when the file has problems. The checklist asks this whether breaches are escalated."""
    return [summary(channel) for channel in load_channels(path, env)]


def summary(channel: Channel) -> ChannelSummary:
    return ChannelSummary(channel.id, channel.type, channel.describe(), tuple(sorted(channel.departments)))


def enqueue(store: Store, channels: Channels, notices: Sequence[BreachNotice], now: datetime) -> int:
    """Queue each notice for every channel serving its responsible department, once per recipient."""
    rows = [
        (notice, channel.id, recipient.address, recipient.lang)
        for notice in notices
        for channel in channels
        if channel.serves(notice.responsible.id)
        for recipient in channel.targets()
    ]
    return store.notifications.enqueue(rows, now)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did with one notification."""

    notification: Notification
    status: NotificationStatus  # sent; pending: waiting for its retry; gave_up
    error: str | None = None
    next_attempt_at: datetime | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    now: datetime
    outcomes: list[Outcome]
    more_due: int  # due rows left for the next run (over BATCH, or claimed by another process)
    pending: int  # rows of the configured channels not sent yet, due now or later
    next_try: datetime | None  # the earliest time one of them is due
    unconfigured: dict[str, int]  # pending rows of channels no longer in the file, by channel

    def of(self, status: NotificationStatus) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is status]


def delivery_id(notification: Notification) -> str:
    """The same for every attempt at one notification."""
    return f"breach-{notification.breach_id}.{notification.channel}" + (
        f".{notification.recipient}" if notification.recipient else ""
    )


def deliver(engine: Engine, channels: Channels, now: datetime, *, batch: int = BATCH) -> DeliveryReport:
    """Send the due notifications of the configured channels, as of `now`; record each outcome."""
    token = uuid.uuid4().hex
    ids = [channel.id for channel in channels]
    with Store(engine) as store:
        claimed = store.notifications.claim(now, now + LEASE, token, ids, batch)
        store.commit()
    outcomes: list[Outcome] = []
    down: dict[str, tuple[str, datetime]] = {}  # channel -> (its error, when its rows are due again)
    postponed: list[Outcome] = []
    for notification in claimed:
        channel = channels.get(notification.channel)
        assert channel is not None  # claimed among the configured channels
        if notification.channel in down:
            error, until = down[notification.channel]
            note = f"not tried: the channel failed on an earlier notification in this run ({error})"
            postponed.append(
                Outcome(notification, NotificationStatus.PENDING, note, until, attempts=notification.attempts)
            )
            continue
        recipient = Recipient(notification.recipient, notification.lang)
        try:
            send(channel, recipient, notification.notice, delivery_id(notification), now)
        except DeliveryFailed as exc:
            outcome = _failed(engine, notification, token, str(exc), now)
            down[notification.channel] = (str(exc), outcome.next_attempt_at or now + FIRST_RETRY)
        else:
            with Store(engine) as store:
                store.notifications.sent(notification.id, token, now)
                store.commit()
            outcome = Outcome(notification, NotificationStatus.SENT, attempts=notification.attempts + 1)
        outcomes.append(outcome)
    with Store(engine) as store:
        for channel_id, (_, until) in down.items():  # one statement per down channel
            held_back = [o for o in postponed if o.notification.channel == channel_id]
            if held_back:
                note = held_back[0].error or ""
                store.notifications.postpone([o.notification.id for o in held_back], token, until, note)
        more_due = store.notifications.count_due(now, ids)
        pending, next_try = store.notifications.pending(ids)
        unconfigured = store.notifications.waiting_elsewhere(ids)
        store.commit()
    return DeliveryReport(now, outcomes + postponed, more_due, pending, next_try, unconfigured)


def _failed(engine: Engine, notification: Notification, token: str, error: str, now: datetime) -> Outcome:
    attempts = notification.attempts + 1
    retry = retry_at(attempts, now)
    with Store(engine) as store:
        store.notifications.failed(notification.id, token, error, retry)
        store.commit()
    status = NotificationStatus.PENDING if retry is not None else NotificationStatus.GAVE_UP
    return Outcome(notification, status, error, retry, attempts)


def outbox(engine: Engine, status: NotificationStatus | None = None) -> list[Notification]:
    """Every queued notification (or those in `status`), oldest first."""
    with Store(engine) as store:
        return store.notifications.find(status=status)


def sample_notice(now: datetime, timezone: str) -> BreachNotice:
    """A made-up breach for `channels test`: marked as a test in every language."""
    responsible = DepartmentName("inside_sales", "インサイドセールス部", "Inside sales")
    return BreachNotice(
        breach_id=0,
        lead_id=0,
        email="test@example.com",
        company="テスト株式会社",
        clock_id="is_first_contact",
        label="ISの初回接触(3営業日以内)",
        pact_version=0,
        state="breached",
        started_at=now - timedelta(days=5),
        due_at=now - timedelta(days=1),
        timezone=timezone,
        business_days_late=1,
        responsible=responsible,
        owner="田中",
        owner_department=responsible,
        detected_at=now,
        is_test=True,
    )


@dataclass(frozen=True, slots=True)
class ChannelTrial:
    recipient: Recipient
    error: str | None


def try_channel(
    channel: Channel, now: datetime, lang: Lang | None = None, timezone: str = "Asia/Tokyo"
) -> list[ChannelTrial]:
    """Send a test notification to every recipient of `channel` (in `lang`, or each one's own)."""
    notice = sample_notice(now, timezone)
    results = []
    for recipient in channel.targets():
        target = Recipient(recipient.address, lang or recipient.lang)
        try:
            send(channel, target, notice, f"test-{uuid.uuid4().hex[:12]}", now)
        except DeliveryFailed as exc:
            results.append(ChannelTrial(target, str(exc)))
        else:
            results.append(ChannelTrial(target, None))
    return results
