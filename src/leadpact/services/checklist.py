"""`leadpact checklist`: the seed's 12 responsibility items, judged from the store at one instant.

The snapshot is read in one short read-only unit of work (the pact versions and their
sign-offs, the people, a few aggregates of the feeds, clocks and ledger), plus the
notification channels file, which is configuration rather than data. `domain.checklist`
judges it; nothing is written.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from leadpact.adapters.channels import Channels, ChannelsInvalid, load_channels
from leadpact.adapters.db.checklist import ChecklistFacts
from leadpact.adapters.db.rejections import Rejections
from leadpact.adapters.db.store import PactVersion, Store
from leadpact.adapters.pact_yaml import PactInvalid, parse_pact
from leadpact.domain.checklist import (
    SWEEP_GRACE,
    ChannelReach,
    Checklist,
    Member,
    PactRecord,
    Returned,
    Signature,
    Snapshot,
    cycle_start,
    evaluate,
)
from leadpact.services.disputes import Pacts


def run_checklist(engine: Engine, now: datetime, channels_file: Path | None, env: Mapping[str, str]) -> Checklist:
    """Every item of the checklist as the store and the channels file stand at `now`."""
    return evaluate(take_snapshot(engine, now, channels_file, env))


def take_snapshot(engine: Engine, now: datetime, channels_file: Path | None, env: Mapping[str, str]) -> Snapshot:
    channels, problems = _channels(channels_file, env)
    with Store(engine) as store:
        facts = ChecklistFacts(store.connection)
        approvals = store.pacts.approvals()
        stored = store.pacts.all()
        versions = tuple(
            _record(v, [Signature(a.user, a.department, a.approved_at) for a in approvals if a.version == v.version])
            for v in stored
        )
        active = next((v for v in versions if v.status == "active"), None)
        active_text = next((v.source_text for v in stored if v.status == "active"), None)
        since = cycle_start(now, active.pact if active else None)
        leads, scored = facts.lead_counts(active.version if active else None)
        unswept, oldest = facts.unswept(now - SWEEP_GRACE)
        return Snapshot(
            now=now,
            versions=versions,
            members=tuple(Member(u.name, u.department, u.email, u.is_active) for u in store.users.all()),
            leads=leads,
            scored=scored,
            channels=tuple(ChannelReach(c.id, c.type, c.departments) for c in channels),
            channels_file=str(channels_file) if channels_file else None,
            channel_problems=problems,
            unswept=unswept,
            oldest_unswept_due=oldest,
            last_breach_at=facts.last_breach_at(),
            feeds=tuple(facts.feeds()),
            since=since,
            returns=_sales_returns(store, since, now),
            assignments=facts.assignments(since, now),
            review_cycle_written=active_text is None or _says_review_cycle(active_text),
        )


def _sales_returns(store: Store, since: datetime, now: datetime) -> tuple[Returned, ...]:
    """The rejections by sales dated in [since, now], by department, stage, reason and pact version.

    A rejection is what `leadpact feedback` and the accountability report count (domain.rejection):
    a sales department's move of a handed-off lead to recycled or disqualified, however it came.
    """
    active = store.pacts.active()
    if active is None:
        return ()
    pacts = Pacts(store, active)
    counts: Counter[tuple[str, str, str | None, int | None]] = Counter()
    for seq, entry in Rejections(store.connection).between(since, now + timedelta(microseconds=1)):
        rejection = pacts.rejection(seq, entry)
        if rejection is not None:
            counts[(rejection.department, rejection.to_stage.value, rejection.reason, rejection.pact_version)] += 1
    ordered = sorted(counts.items(), key=lambda item: tuple(str(part) for part in item[0]))
    return tuple(Returned(*key, count) for key, count in ordered)


def _channels(path: Path | None, env: Mapping[str, str]) -> tuple[Channels, int]:
    """The configured channels; a file with problems gives none and the number of its problems."""
    try:
        return load_channels(path, env), 0
    except ChannelsInvalid as exc:
        return Channels(), len(exc.problems)


def _record(version: PactVersion, approvals: list[Signature]) -> PactRecord:
    return PactRecord(
        version=version.version,
        pact=version.pact,
        status=version.status,
        proposed_by=version.proposed_by,
        proposed_at=version.proposed_at,
        activated_at=version.activated_at,
        approvals=tuple(approvals),
    )


def _says_review_cycle(text: str) -> bool:
    """Whether the signed text itself sets review_cycle (the stored document holds the default as well)."""
    try:
        return "review_cycle" in parse_pact(text).pact.model_fields_set
    except PactInvalid:  # written under rules this version no longer accepts: nothing to tell from it
        return False
