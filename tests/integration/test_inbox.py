"""The inbox answers, for a batch of event ids, which were applied before and with what payload
hash (`known`), and whether all of them were, each with the hash given (`all_same`), on both engines."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from leadpact.adapters.db.store import Store
from leadpact.bootstrap import App

STORED = [("e-1", "a" * 32), ("e-2", "b" * 32), ("e-3", "c" * 32)]


def stored(app: App) -> None:
    with Store(app.engine) as store:
        lead_id = store.leads.create("inbox@example.co.jp", app.clock.now())
        rows = [(event_id, lead_id, "1", 1_000 + i, "{}", digest) for i, (event_id, digest) in enumerate(STORED)]
        store.imported_activities.add("marketo", app.clock.now(), rows)
        store.commit()


def inbox_id(app: App, event_id: str) -> int:
    with app.engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM inbox WHERE event_id = :e"), {"e": event_id}).scalar_one()
    return int(found)


@pytest.mark.parametrize(
    ("asked", "last"),
    [
        (STORED, "e-3"),
        (STORED[::-1], "e-1"),  # in any order asked
        ([STORED[1], STORED[1]], "e-2"),  # an id twice in a batch
        ([], None),  # nothing to compare
        ([("e-1", "a" * 32), ("e-2", "x" * 32)], None),  # imported with other content
        ([("e-1", "a" * 32), ("e-9", "a" * 32)], None),  # one not imported
        ([("e-1\x1fa", "a" * 32)], None),  # an id holding a separator is never taken as the same
    ],
    ids=["all", "reversed", "twice", "none", "changed", "new", "separator"],
)
def test_all_same_says_whether_every_event_was_applied_with_its_hash(
    app: App, asked: list[tuple[str, str]], last: str | None
) -> None:
    stored(app)
    ids, hashes = [a[0] for a in asked], [a[1] for a in asked]
    expected = None if last is None else inbox_id(app, last) + 1  # where the next batch would start
    with Store(app.engine) as store:
        assert store.inbox.all_same("marketo", ids, hashes) == expected
        assert store.inbox.all_same("hubspot", ids, hashes) is None  # another source's ids are its own


def test_all_same_reads_the_rows_from_where_the_batch_before_ended(app: App) -> None:
    stored(app)
    ids, hashes = [a[0] for a in STORED], [a[1] for a in STORED]
    first, after = inbox_id(app, "e-1"), inbox_id(app, "e-3") + 1
    with Store(app.engine) as store:
        assert store.inbox.all_same("marketo", ids, hashes, start=first) == after  # the range holds them
        assert store.inbox.all_same("marketo", ids, hashes, start=first + 1) == after  # it does not: each is found
        assert store.inbox.all_same("marketo", ids[::-1], hashes[::-1], start=first) == first + 1
        assert store.inbox.all_same("marketo", ids, [*hashes[:2], "x" * 32], start=first) is None
        assert store.inbox.all_same("hubspot", ids, hashes, start=first) is None


def test_known_gives_the_hash_of_each_event_applied_before(app: App) -> None:
    stored(app)
    with Store(app.engine) as store:
        assert store.inbox.known("marketo", ["e-3", "e-1", "e-9"]) == {"e-1": "a" * 32, "e-3": "c" * 32}


ODD_IDS = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "", "日本語-１", "plain"]


def test_imported_activities_keep_every_character_of_their_text(app: App) -> None:
    # On PostgreSQL the rows go through COPY's text format, where a backslash, tab or line break
    # in a value must be escaped, and `\N` alone means NULL: each must come back as it went in.
    properties = [
        json.dumps({"said": 'a "quote"\n', "path": "C:\\temp", "n": i}, ensure_ascii=False) for i in range(len(ODD_IDS))
    ]
    with Store(app.engine) as store:
        lead_id = store.leads.create("odd@example.co.jp", app.clock.now())
        rows = [
            (event_id, lead_id, f"type\t{i}", 2_000 + i, properties[i], f"hash\\{i}")
            for i, event_id in enumerate(ODD_IDS)
        ]
        store.imported_activities.add("marketo", app.clock.now(), rows)
        store.commit()
    with app.engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT i.event_id, i.payload_hash, a.type, a.occurred_at, a.properties, a.lead_id "
                "FROM inbox AS i JOIN activities AS a ON a.inbox_id = i.id ORDER BY a.occurred_at"
            )
        ).all()
    assert [tuple(r[:4]) for r in found] == [
        (event_id, f"hash\\{i}", f"type\t{i}", 2_000 + i) for i, event_id in enumerate(ODD_IDS)
    ]
    stored_properties = [r[4] if isinstance(r[4], dict) else json.loads(r[4]) for r in found]
    assert stored_properties == [json.loads(p) for p in properties]
    assert {r[5] for r in found} == {lead_id}
