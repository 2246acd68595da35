"""Checking the ledger's hash chain."""

from __future__ import annotations

from leadpact.adapters.db.store import Store
from leadpact.domain.ledger import ChainBreak


def verify_ledger(store: Store) -> tuple[int, ChainBreak | None]:
    """Every entry in order; returns how many checked out and the first break, if any."""
    with store:
        return store.ledger.verify()
