"""The inbox answers, for a batch of event ids, which were applied before and with what payload
hash (`known`), and whether all of them were, each with the hash given (`all_same`), on both engines."""

from __future__ import annotations

import pytest

from leadpact.adapters.db.store import Store
from leadpact.bootstrap import App

STORED = [("e-1", "a" * 32), ("e-2", "b" * 32), ("e-3", "c" * 32)]


def stored(app: App) -> None:
    with Store(app.engine) as store:
        lead_id = store.leads.create("inbox@example.co.jp", app.clock.now())
        rows = [(event_id, lead_id, "1", 1_000 + i, "{}", digest) for i, (event_id, digest) in enumerate(STORED)]
        store.imported_activities.add("marketo", app.clock.now(), rows)
        store.commit()


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (STORED, True),
        (STORED[::-1], True),  # in any order asked
        ([STORED[1], STORED[1]], True),  # an id twice in a batch
        ([], True),
        ([("e-1", "a" * 32), ("e-2", "x" * 32)], False),  # imported with other content
        ([("e-1", "a" * 32), ("e-9", "a" * 32)], False),  # one not imported
        ([("e-1\x1fa", "a" * 32)], False),  # an id holding a separator is never taken as the same
    ],
    ids=["all", "reversed", "twice", "none", "changed", "new", "separator"],
)
def test_all_same_says_whether_every_event_was_applied_with_its_hash(
    app: App, asked: list[tuple[str, str]], expected: bool
) -> None:
    stored(app)
    with Store(app.engine) as store:
        ids, hashes = [a[0] for a in asked], [a[1] for a in asked]
        assert store.inbox.all_same("marketo", ids, hashes) is expected
        assert store.inbox.all_same("hubspot", ids, hashes) is (not asked)  # another source's ids are its own


def test_known_gives_the_hash_of_each_event_applied_before(app: App) -> None:
    stored(app)
    with Store(app.engine) as store:
        assert store.inbox.known("marketo", ["e-3", "e-1", "e-9"]) == {"e-1": "a" * 32, "e-3": "c" * 32}
