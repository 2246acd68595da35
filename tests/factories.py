"""Plain builders with sane defaults: a pact, users, and canonical event lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from leadpact.adapters.analytics.scoring import Snapshot, SnapshotLayout
from leadpact.adapters.db import tables as t
from leadpact.adapters.db.score_state import StateLayout
from leadpact.adapters.db.tables import to_micros
from leadpact.adapters.events import LineError, ParsedLine, parse_line
from leadpact.adapters.pact_yaml import PactDocument, parse_pact, read_pact_file
from leadpact.bootstrap import App
from leadpact.domain.pact import Pact
from leadpact.domain.scoring import Activity
from leadpact.services import pacts, users
from tests.conftest import EXAMPLE_PACT

_ids = count(1)


def example_text(*replacements: tuple[str, str]) -> str:
    """The shipped example pact's text, with each (old, new) replacement applied once."""
    text = EXAMPLE_PACT.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, f"{old!r} is not in the example pact"
        text = text.replace(old, new, 1)
    return text


def example_document(*replacements: tuple[str, str]) -> PactDocument:
    """The shipped example pact, optionally edited."""
    if not replacements:
        return read_pact_file(EXAMPLE_PACT)
    return parse_pact(example_text(*replacements), "pact.yaml")


def sign_example_pact(app: App, document: PactDocument | None = None) -> int:
    """Add one user per department and make the example pact active; returns its version."""
    existing = {u.name for u in users.list_users(app.store())}
    for name, department, manager in (
        ("佐藤", "marketing", True),
        ("田中", "inside_sales", False),
        ("鈴木", "field_sales", True),
    ):
        if name not in existing:
            users.add_user(app.store(), app.clock, name, department, f"{name}@corp.example", manager)
    proposed = pacts.propose_pact(app.store(), app.clock, document or example_document(), "佐藤")
    for name in ("佐藤", "田中", "鈴木"):
        pacts.approve_pact(app.store(), app.clock, proposed.version, name)
    return proposed.version


def event(kind: str, at: datetime, lead: str = "taro@example.co.jp", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": fields.pop("id", f"e{next(_ids)}"),
        "source": fields.pop("source", "test"),
        "type": kind,
        "at": at.isoformat(),
        "lead": {"email": lead} if "@" in lead else {"system": "hubspot", "id": lead},
    }
    body.update(fields)
    return body


def lines(events: Iterable[dict[str, Any] | str]) -> list[ParsedLine | LineError]:
    """Events as JSONL lines, numbered from 1 (strings are taken as raw lines)."""
    parsed = []
    for number, item in enumerate(events, start=1):
        raw = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        found = parse_line(number, raw.encode())
        if found is not None:
            parsed.append(found)
    return parsed


def qualifying_leads_file(path: Path, leads: int, start: datetime) -> int:
    """Write a JSONL file of `leads` fitting leads, each made an MQL by its third activity; returns the event count.

    Fit 25 (industry 15 + size 10) + download 20 + seminar 30 + pricing page 12 ≈ 87 ≥ 80.
    """
    events = []
    for i in range(leads):
        email = f"lead{i}@example.co.jp"
        events.append(event("lead_upsert", start, lead=email, attributes={"industry": "製造業", "employees": 500}))
        for k, kind in enumerate(("document_download", "seminar_attended", "page_view")):
            at = start + timedelta(hours=k + 1)
            events.append(event("activity", at, lead=email, activity=kind, properties={"url": "/pricing"}))
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events))
    return len(events)


def activity_snapshot(pact: Pact, activities: Sequence[tuple[int, Activity]], lead_ids: Sequence[int]) -> Snapshot:
    """A batch-scoring snapshot of these (lead, activity) pairs for leads without attributes."""
    layout = SnapshotLayout.of(pact)
    return Snapshot.of(
        layout,
        pa.table(
            {
                "lead_id": [lead for lead, _ in activities],
                "type": [a.type for _, a in activities],
                "occurred_at": [to_micros(a.at) for _, a in activities],
                **{
                    layout.property_column(name): [
                        json.dumps(a.properties[name]) if name in a.properties else None for _, a in activities
                    ]
                    for name in layout.properties
                },
            },
            schema=layout.activity_schema(),
        ),
        pa.table({"lead_id": list(lead_ids)}, schema=layout.lead_schema()),
    )


def stored_scores(app: App) -> dict[int, tuple[Any, ...]]:
    """Each lead's stored score, its state decoded (rule values to 9 places: the two engines add
    the same terms in another order)."""
    s = t.lead_scores.c
    with app.engine.connect() as c:
        rows = list(c.execute(select(s.lead_id, s.as_of, s.behaviour, s.attributes, s.total, s.state)))
    layout = StateLayout.of(example_document().pact)
    states = layout.decode([bytes(r.state) for r in rows])
    return {
        r.lead_id: (
            r.as_of,
            round(r.behaviour, 9),
            r.attributes,
            round(r.total, 9),
            tuple(np.round(states.raw[i], 9)),
            tuple(states.matches[i]),
            tuple(states.actions[i]),
        )
        for i, r in enumerate(rows)
    }


class CutOff(Exception):
    """Raised by `cut_off_after`: the import is stopped between two batches, as a crash would."""


def cut_off_after(batches: int) -> Callable[[int, int], None]:
    """An import progress callback that raises `CutOff` once `batches` batches have been committed."""
    done: list[int] = []

    def progress(rows: int, position: int) -> None:
        done.append(rows)
        if len(done) == batches:
            raise CutOff

    return progress
