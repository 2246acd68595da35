"""Sending one breach notification: a Slack incoming webhook, an e-mail over SMTP, a signed webhook.

Each send is one short request with the channel's timeout; any failure (no connection, a
timeout, a refusal, a non-2xx answer) is raised as `DeliveryFailed` with one readable line,
and the caller decides when to try again. Nothing here retries or stores anything.

Must not import: services or entry points.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import httpx

from leadpact.adapters.channels import Channel, EmailChannel, Recipient, SlackChannel, WebhookChannel
from leadpact.domain.escalation import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BreachNotice,
    Message,
    render,
    signature,
    webhook_body,
)

USER_AGENT = "leadpact-escalation"


class DeliveryFailed(Exception):
    """A notification did not reach its channel; the message says why in one line."""


def send(channel: Channel, recipient: Recipient, notice: BreachNotice, delivery: str, now: datetime) -> None:
    """Send `notice` to one recipient of `channel` in the recipient's language, or raise DeliveryFailed.

    `delivery` identifies the notification across retries (webhook header, e-mail Message-ID).
    """
    if isinstance(channel, SlackChannel):
        _post_slack(channel, render(notice, recipient.lang))
    elif isinstance(channel, EmailChannel):
        _send_mail(channel, recipient, render(notice, recipient.lang), delivery, now)
    else:
        _post_webhook(channel, webhook_body(notice, delivery, recipient.lang), delivery, now)


def _post_slack(channel: SlackChannel, message: Message) -> None:
    # Slack's mrkdwn: the subject in bold over the plain body
    body = json.dumps({"text": f"*{message.subject}*\n{message.text}"}, ensure_ascii=False).encode("utf-8")
    _post(channel.url, channel.timeout.total_seconds(), body, {})


def _post_webhook(channel: WebhookChannel, body: bytes, delivery: str, now: datetime) -> None:
    timestamp = int(now.timestamp())
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(channel.secret, timestamp, body),
        DELIVERY_HEADER: delivery,
    }
    _post(channel.url, channel.timeout.total_seconds(), body, headers)


def _post(url: str, timeout: float, body: bytes, headers: dict[str, str]) -> None:
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8", **headers}
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise DeliveryFailed(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        # the error is stored and printed: never with the URL, which for Slack is a secret
        raise DeliveryFailed(f"{type(exc).__name__}: {str(exc).replace(url, '<url>')}") from None
    if not response.is_success:
        answer = " ".join(response.text.split())[:200]
        raise DeliveryFailed(f"HTTP {response.status_code}" + (f": {answer}" if answer else ""))


def _send_mail(channel: EmailChannel, recipient: Recipient, message: Message, delivery: str, now: datetime) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.subject  # non-ASCII is encoded as UTF-8 (RFC 2047) by the email package
    mail["From"] = channel.sender
    mail["To"] = recipient.address
    mail["Date"] = format_datetime(now)
    # The same Message-ID on every retry: a mail system that got it once can drop the repeat.
    mail["Message-ID"] = f"<{delivery.replace('@', '=')}@leadpact>"
    mail.set_content(message.text, charset="utf-8")
    timeout = channel.timeout.total_seconds()
    try:
        if channel.tls == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.host, channel.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
        with smtp:
            if channel.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if channel.username is not None and channel.password is not None:
                smtp.login(channel.username, channel.password)
            smtp.send_message(mail)
    except TimeoutError:
        raise DeliveryFailed(f"SMTP {channel.host}:{channel.port}: no answer within {timeout:g} s") from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryFailed(f"SMTP {channel.host}:{channel.port}: {exc.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP {channel.host}:{channel.port}: {exc or type(exc).__name__}") from None
