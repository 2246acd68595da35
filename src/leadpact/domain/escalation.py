"""Escalation of neglected leads: what a breach notification says, how it is signed, when it is retried.

A breach recorded by the sweep becomes a `BreachNotice`: the facts as that sweep saw them
(who held the lead, how many business days late, the due time in the pact's time zone).
The notice is rendered per recipient in Japanese or English, or serialised as the
webhook's JSON body, which is signed with HMAC-SHA256 over `timestamp + "." + body`.
A failed delivery is retried after 1, 2, 4 … minutes, at most an hour apart, and given up
after `MAX_ATTEMPTS` attempts (the breach itself stays recorded and on the board).

Must not import: anything doing IO (sending is the adapters' job, storing the services').
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

Lang = Literal["ja", "en"]
LANGS: Final[tuple[Lang, ...]] = ("ja", "en")

EVENT_TYPE: Final = "clock.breached"
TIMESTAMP_HEADER: Final = "X-Leadpact-Timestamp"
SIGNATURE_HEADER: Final = "X-Leadpact-Signature"
DELIVERY_HEADER: Final = "X-Leadpact-Delivery"

MAX_ATTEMPTS: Final = 10
FIRST_RETRY: Final = timedelta(minutes=1)
LONGEST_WAIT: Final = timedelta(hours=1)


class NotificationStatus(StrEnum):
    PENDING = "pending"  # not sent yet: new, or waiting for its next attempt
    SENT = "sent"
    GAVE_UP = "gave_up"  # MAX_ATTEMPTS failed; kept and listed, never deleted


@dataclass(frozen=True, slots=True)
class DepartmentName:
    """A department's id with its Japanese and English names from the pact."""

    id: str
    ja: str
    en: str

    def name(self, lang: Lang) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True, slots=True)
class BreachNotice:
    """A recorded breach, as its notification tells it."""

    breach_id: int
    lead_id: int
    email: str | None
    company: str | None
    clock_id: str
    label: str
    pact_version: int
    state: str  # breached (still running) or met_late (stopped after its due time)
    started_at: datetime
    due_at: datetime
    timezone: str  # the pact calendar's: due times are shown as the teams read them
    business_days_late: int
    responsible: DepartmentName
    owner: str | None
    owner_department: DepartmentName | None
    detected_at: datetime
    is_test: bool = field(default=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "breach_id": self.breach_id,
            "lead_id": self.lead_id,
            "email": self.email,
            "company": self.company,
            "clock_id": self.clock_id,
            "label": self.label,
            "pact_version": self.pact_version,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "timezone": self.timezone,
            "business_days_late": self.business_days_late,
            "responsible": _department_json(self.responsible),
            "owner": self.owner,
            "owner_department": _department_json(self.owner_department) if self.owner_department else None,
            "detected_at": self.detected_at.isoformat(),
            "is_test": self.is_test,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BreachNotice:
        owner_department = data.get("owner_department")
        return cls(
            breach_id=int(data["breach_id"]),
            lead_id=int(data["lead_id"]),
            email=data.get("email"),
            company=data.get("company"),
            clock_id=str(data["clock_id"]),
            label=str(data["label"]),
            pact_version=int(data["pact_version"]),
            state=str(data["state"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            due_at=datetime.fromisoformat(data["due_at"]),
            timezone=str(data["timezone"]),
            business_days_late=int(data["business_days_late"]),
            responsible=DepartmentName(**data["responsible"]),
            owner=data.get("owner"),
            owner_department=DepartmentName(**owner_department) if owner_department else None,
            detected_at=datetime.fromisoformat(data["detected_at"]),
            is_test=bool(data.get("is_test", False)),
        )


def _department_json(department: DepartmentName) -> dict[str, str]:
    return {"id": department.id, "ja": department.ja, "en": department.en}


@dataclass(frozen=True, slots=True)
class Message:
    """A notification for people: a one-line subject and a plain-text body."""

    subject: str
    text: str


_WORDS: Final[dict[Lang, dict[str, str]]] = {
    "ja": {
        "test": "【テスト】",
        "breached": "合意した期限を過ぎても対応されていないリードがあります。",
        "met_late": "合意した期限を過ぎてから対応されたリードがあります。",
        "subject": "[leadpact] 放置リード: {label} {late} — {who}",
        "lead": "リード",
        "clock": "クロック",
        "due": "期限",
        "late": "超過",
        "owner": "担当者",
        "responsible": "責任部門",
        "details": "詳細",
        "unassigned": "未割り当て",
        "days_late": "{n}営業日超過",
        "past_due": "期限超過",
        "days": "{n}営業日",
        "same_day": "1営業日未満",
        "no_email": "リード {id}",
        "test_note": "これは leadpact の通知チャネルのテストです。実際のリードではありません。",
    },
    "en": {
        "test": "[test] ",
        "breached": "A lead is past its agreed deadline and nobody has handled it.",
        "met_late": "A lead was handled after its agreed deadline.",
        "subject": "[leadpact] Neglected lead: {label} {late} — {who}",
        "lead": "Lead",
        "clock": "Clock",
        "due": "Due",
        "late": "Late",
        "owner": "Held by",
        "responsible": "Responsible",
        "details": "Details",
        "unassigned": "nobody (unassigned)",
        "days_late": "{n} business day(s) late",
        "past_due": "past due",
        "days": "{n} business day(s)",
        "same_day": "less than a business day",
        "no_email": "lead {id}",
        "test_note": "This is a test of a leadpact notification channel, not a real lead.",
    },
}


def render(notice: BreachNotice, lang: Lang) -> Message:
    """The notification in `lang`: subject and body, with the `leadpact lead show` hint."""
    words = _WORDS[lang]
    who = notice.email or words["no_email"].format(id=notice.lead_id)
    lead = f"{who}({notice.company})" if lang == "ja" and notice.company else who
    if lang == "en" and notice.company:
        lead = f"{who} ({notice.company})"
    n = notice.business_days_late
    late = words["days_late"].format(n=n) if n else words["past_due"]
    label = notice.label if lang == "ja" or notice.label == notice.clock_id else f"{notice.label} [{notice.clock_id}]"
    if notice.owner is None:
        owner = words["unassigned"]
    elif notice.owner_department is None:
        owner = notice.owner
    elif lang == "ja":
        owner = f"{notice.owner}({notice.owner_department.name(lang)})"
    else:
        owner = f"{notice.owner} ({notice.owner_department.name(lang)})"
    due = notice.due_at.astimezone(ZoneInfo(notice.timezone))
    lines = [
        words["breached"] if notice.state != "met_late" else words["met_late"],
        "",
        f"{words['lead']}: {lead}",
        f"{words['clock']}: {label}",
        f"{words['due']}: {due:%Y-%m-%d %H:%M %Z}",
        f"{words['late']}: {words['days'].format(n=n) if n else words['same_day']}",
        f"{words['owner']}: {owner}",
        f"{words['responsible']}: {notice.responsible.name(lang)}",
        f"{words['details']}: leadpact lead show {notice.lead_id}",
    ]
    subject = words["subject"].format(label=notice.label, late=late, who=who)
    if notice.is_test:
        subject = words["test"] + subject
        lines = [words["test_note"], "", *lines]
    return Message(subject=subject, text="\n".join(lines) + "\n")


def webhook_body(notice: BreachNotice, delivery: str, lang: Lang) -> bytes:
    """The webhook's JSON body (UTF-8): the breach's facts, ids and ISO times, and the message in `lang`.

    `delivery` stays the same across retries of one notification: a receiver drops repeats by it.
    """
    message = render(notice, lang)
    owner = notice.owner_department
    payload = {
        "event": EVENT_TYPE,
        "delivery": delivery,
        "test": notice.is_test,
        "breach": {"id": notice.breach_id, "detected_at": notice.detected_at.isoformat()},
        "lead": {"id": notice.lead_id, "email": notice.email, "company": notice.company},
        "clock": {
            "id": notice.clock_id,
            "label": notice.label,
            "pact_version": notice.pact_version,
            "state": notice.state,
            "started_at": notice.started_at.isoformat(),
            "due_at": notice.due_at.isoformat(),
            "timezone": notice.timezone,
            "business_days_late": notice.business_days_late,
            "responsible": notice.responsible.id,
        },
        "owner": {"name": notice.owner, "department": owner.id if owner else None} if notice.owner else None,
        "message": {"lang": lang, "subject": message.subject, "text": message.text},
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with `secret`, of `timestamp + "." + body`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_at(attempts: int, failed_at: datetime) -> datetime | None:
    """After `attempts` failed attempts, the earliest next one: 1, 2, 4 … minutes later, at most an
    hour; None once `MAX_ATTEMPTS` have failed (the notification is given up)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    wait: timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    return failed_at + wait
