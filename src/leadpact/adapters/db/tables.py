"""The store's schema: SQLAlchemy 2 tables, migrated by Alembic (see migrations/).

Instants are stored as integer microseconds since the Unix epoch (UTC). That keeps
ordering and arithmetic identical on SQLite and PostgreSQL and lets the analytics
path read timestamps as plain int64 columns, with no string parsing (see #2 W2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


MICROSECOND = timedelta(microseconds=1)


def to_micros(at: datetime) -> int:
    """An aware instant as integer microseconds since the epoch."""
    if at.tzinfo is None:
        raise ValueError("naive datetimes are not stored; pass a timezone-aware instant")
    return (at - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class Instant(TypeDecorator[datetime]):
    """A timezone-aware instant stored as BIGINT microseconds since the epoch (UTC)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("department", String(64), nullable=False),
    Column("email", String(320)),
    Column("is_manager", Boolean, nullable=False, default=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", Instant, nullable=False),
)

pact_versions = Table(
    "pact_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("content_hash", String(64), nullable=False, unique=True),
    Column("source_text", Text, nullable=False),
    Column("document", JSON, nullable=False),
    Column("proposed_by", ForeignKey("users.id"), nullable=False),
    Column("proposed_at", Instant, nullable=False),
    Column("status", String(16), nullable=False),  # draft | active | superseded
    Column("activated_at", Instant),
)

pact_approvals = Table(
    "pact_approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", ForeignKey("pact_versions.version"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("department", String(64), nullable=False),
    Column("approved_at", Instant, nullable=False),
    UniqueConstraint("version", "department", name="uq_pact_approvals_version_department"),
)

# Partial indexes' conditions that queries also name word for word (a bound value would not prove
# them): MQLs for routing, pending notifications, rejected webhook events, clocks stopped late.
MQL = "stage = 'mql'"
PENDING = "status = 'pending'"
REJECTED = "outcome = 'rejected'"
LATE_STOP = "stopped_at > due_at"

leads = Table(
    "leads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), unique=True),
    Column("attributes", JSON, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("stage_changed_at", Instant, nullable=False),
    Column("owner_id", ForeignKey("users.id"), index=True),  # the leads one person holds (0015)
    Column("bant", JSON, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    # The MQLs, oldest first, for routing (0015).
    Index(
        "ix_leads_mql",
        "stage_changed_at",
        "id",
        sqlite_where=text(MQL),
        postgresql_where=text(MQL),
    ),
)

lead_refs = Table(
    "lead_refs",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("lead_id", ForeignKey("leads.id"), nullable=False, index=True),
)

# On PostgreSQL the two foreign keys are checked once per statement by triggers (migration 0012).
activities = Table(
    "activities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lead_id", ForeignKey("leads.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", Instant, nullable=False),
    Column("properties", JSON, nullable=False),
    Column("inbox_id", ForeignKey("inbox.id")),
    Index("ix_activities_lead_id_occurred_at", "lead_id", "occurred_at"),
    Index("ix_activities_inbox_id", "inbox_id"),  # what a resumed import recalls, batch by batch (0016)
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lead_id", ForeignKey("leads.id"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("occurred_at", Instant, nullable=False),
    Column("note", Text),
    Column("inbox_id", ForeignKey("inbox.id")),
)

# Every applied canonical event, once: the idempotency key is (source, event_id).
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(64), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("type", String(32), nullable=False),
    Column("occurred_at", Instant, nullable=False),
    Column("received_at", Instant, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    UniqueConstraint("source", "event_id", name="uq_inbox_source_event_id"),
)

lead_scores = Table(
    "lead_scores",
    metadata,
    Column("lead_id", ForeignKey("leads.id"), primary_key=True),
    Column("pact_version", ForeignKey("pact_versions.version"), nullable=False),
    Column("as_of", Instant),
    Column("state", LargeBinary, nullable=False),  # fixed-width record, see adapters/db/score_state.py
    Column("behaviour", Float, nullable=False),
    Column("attributes", Float, nullable=False),
    Column("total", Float, nullable=False),
    Column("scored_at", Instant, nullable=False),
)

# The ledger entries the partial indexes of migration 0011 cover (leadpact.domain.rejection, .disputes).
REJECTIONS = "kind = 'transition' AND to_stage IN ('recycled', 'disqualified')"
DISPUTES = "kind IN ('dispute', 'resolution')"

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("lead_id", ForeignKey("leads.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("from_stage", String(16)),
    Column("to_stage", String(16)),
    Column("owner", String(200)),
    Column("at", Instant, nullable=False),
    Column("recorded_at", Instant, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("department", String(64), nullable=False),
    Column("pact_version", ForeignKey("pact_versions.version")),
    Column("evidence", JSON, nullable=False),
    Column("reason", String(64)),
    Column("note", Text),
    Column("override", Boolean, nullable=False, default=False),
    Column("imported", Boolean, nullable=False, default=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_ledger_entries_lead_id_at", "lead_id", "at"),
    # Routing reads each rep's newest assignment and the day's count (migration 0006).
    Index(
        "ix_ledger_entries_assignments",
        "owner",
        "at",
        sqlite_where=text("kind = 'assignment'"),
        postgresql_where=text("kind = 'assignment'"),
    ),
    # The feedback report reads a period's moves to recycled or disqualified (migration 0011).
    Index(
        "ix_ledger_entries_rejections",
        "at",
        sqlite_where=text(REJECTIONS),
        postgresql_where=text(REJECTIONS),
    ),
    # Disputes and their resolutions, listed and checked per lead (migration 0011).
    Index(
        "ix_ledger_entries_disputes",
        "lead_id",
        sqlite_where=text(DISPUTES),
        postgresql_where=text(DISPUTES),
    ),
)

# One row per handoff clock started for a lead (see leadpact.domain.clocks): what it was
# started under stays with it. Open clocks (stopped_at NULL) are found by due time.
clocks = Table(
    "clocks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lead_id", ForeignKey("leads.id"), nullable=False, index=True),
    Column("clock_id", String(64), nullable=False),
    Column("pact_version", ForeignKey("pact_versions.version"), nullable=False),
    Column("started_at", Instant, nullable=False),
    Column("due_at", Instant, nullable=False),
    Column("responsible", String(64), nullable=False),
    Column("stops", JSON, nullable=False),
    Column("due_soon", Float, nullable=False),
    Column("stopped_at", Instant),
    Column("stopped_by", String(32)),
    UniqueConstraint("lead_id", "clock_id", "started_at", name="uq_clocks_lead_id_clock_id_started_at"),
    # Covers what is read of open clocks, so that those reads never visit table rows (0006).
    Index(
        "ix_clocks_open",
        "due_at",
        "started_at",
        "pact_version",
        "due_soon",
        "responsible",
        "lead_id",
        sqlite_where=text("stopped_at IS NULL"),
        postgresql_where=text("stopped_at IS NULL"),
    ),
    # Clocks that stopped after their due time: the sweep records each once (0014).
    Index(
        "ix_clocks_stopped_late",
        "due_at",
        sqlite_where=text(LATE_STOP),
        postgresql_where=text(LATE_STOP),
    ),
)

# Each late clock, recorded once by the sweep that found it (the unique clock_run makes two
# overlapping sweeps record it once), with who held the lead then.
clock_breaches = Table(
    "clock_breaches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("clock_run", ForeignKey("clocks.id"), nullable=False, unique=True),
    Column("lead_id", ForeignKey("leads.id"), nullable=False, index=True),
    Column("clock_id", String(64), nullable=False),
    Column("pact_version", ForeignKey("pact_versions.version"), nullable=False),
    Column("responsible", String(64), nullable=False),
    Column("owner", String(200)),
    Column("owner_department", String(64)),
    Column("due_at", Instant, nullable=False),
    Column("detected_at", Instant, nullable=False),
)

# One row holding the hash of the newest ledger entry; writers lock it to append in order.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The escalation outbox: one row per (breach, channel, recipient), written in the transaction
# of the sweep that recorded the breach, so a crash never loses a notification and two sweeps
# never queue one twice. Delivery claims due rows for a while (claimed_by/claimed_until), sends
# them outside any transaction, and records the outcome (see leadpact.services.escalation).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("breach_id", ForeignKey("clock_breaches.id"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("recipient", String(320), nullable=False),  # an e-mail address; "" for Slack and webhooks
    Column("lang", String(2), nullable=False),
    Column("notice", JSON, nullable=False),  # the breach as the sweep saw it (domain.escalation.BreachNotice)
    Column("status", String(16), nullable=False),  # pending | sent | gave_up
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Instant, nullable=False),
    Column("last_error", Text),
    Column("sent_at", Instant),
    Column("claimed_by", String(32)),
    Column("claimed_until", Instant),
    Column("created_at", Instant, nullable=False),
    UniqueConstraint("breach_id", "channel", "recipient", name="uq_notifications_breach_id_channel_recipient"),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        sqlite_where=text(PENDING),
        postgresql_where=text(PENDING),
    ),
)

# One file of one format being imported in committed batches; `last_line` is where the newest
# committed batch ended, so a run that was cut off resumes after it (see services/imports.py).
import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("format", String(32), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of the file's bytes
    Column("header", Text, nullable=False),
    Column("encoding", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # running | done
    Column("started_at", Instant, nullable=False),
    Column("finished_at", Instant),
    Column("last_line", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Index("ix_import_runs_fingerprint", "fingerprint", "format"),
)

# Records an import could not take, once per file and line, with the raw text to fix.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("import_runs.id"), nullable=False, index=True),
    Column("fingerprint", String(64), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("line", Integer, nullable=False),
    Column("last_line", Integer, nullable=False),
    Column("column_name", String(500)),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("recorded_at", Instant, nullable=False),
    UniqueConstraint("fingerprint", "line", name="uq_quarantine_fingerprint_line"),
)

# --- identity resolution (migration 0010; leadpact.domain.identity, docs/identity.md) -------------

# Companies, keyed by normalised name and by the e-mail domains of their people.
companies = Table(
    "companies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200)),  # as first seen
    Column("name_key", String(200), unique=True),  # domain.identity.normalise_company_name
    Column("created_at", Instant, nullable=False),
)

company_domains = Table(
    "company_domains",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
)

lead_companies = Table(
    "lead_companies",
    metadata,
    Column("lead_id", ForeignKey("leads.id"), primary_key=True),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
)

# One row per merge of two leads: why, both leads' state before it and the survivor's after it,
# and its undo. A lead absorbed by a merge that is not undone is merged into its survivor.
identity_merges = Table(
    "identity_merges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("survivor_id", ForeignKey("leads.id"), nullable=False, index=True),
    Column("absorbed_id", ForeignKey("leads.id"), nullable=False, index=True),  # every merge of it (0013)
    Column("rule", String(32), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("merged_at", Instant, nullable=False),
    Column("merged_by", String(200), nullable=False),
    Column("note", Text),
    Column("merge_seq", Integer),  # the survivor's merge entry in the ledger
    Column("undone_at", Instant),
    Column("undone_by", String(200)),
    Column("undo", JSON),  # what the undo restored, and what stayed with the survivor
    Column("unmerge_seq", Integer, index=True),  # the last undo, read at each batch of an import (0013)
    # A lead is absorbed by at most one merge at a time (two writers cannot both absorb it).
    Index(
        "ix_identity_merges_absorbed",
        "absorbed_id",
        unique=True,
        sqlite_where=text("undone_at IS NULL"),
        postgresql_where=text("undone_at IS NULL"),
    ),
)

# What each merge moved from the absorbed lead to the survivor (or stopped), so its undo moves
# exactly those rows back: item is ref (system, key), email (key), activity, contact, clock,
# clock_stop (row_id: clocks.id) or company (row_id: the company the survivor took over).
identity_moves = Table(
    "identity_moves",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("merge_id", ForeignKey("identity_merges.id"), nullable=False, index=True),
    Column("item", String(16), nullable=False),
    Column("row_id", Integer),
    Column("system", String(64)),
    Column("key", String(320)),
)

# A lead's other e-mail addresses (its first is leads.email): the ones a record named beside a
# system id of the lead, and the addresses of the leads it absorbed (merge_id: that merge).
lead_emails = Table(
    "lead_emails",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("lead_id", ForeignKey("leads.id"), nullable=False, index=True),
    Column("merge_id", ForeignKey("identity_merges.id")),
)

# The e-mail policy the stored addresses are normalised under (one row, id 1; none: keep).
identity_policy = Table(
    "identity_policy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("plus_addressing", Text, nullable=False),
    Column("changed_at", Instant, nullable=False),
    Column("changed_by", String(200), nullable=False),
)

# Every event a webhook delivered, stored as received before the delivery is acknowledged (so an
# acknowledged event is never lost), then applied after; processing fills in the outcome.
# (channel, source, event_key) is the idempotency key: a redelivery stores nothing (docs/webhooks.md).
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),  # hubspot | generic: the endpoint, which decides how it applies
    Column("source", String(64), nullable=False),  # "hubspot", or the canonical event's source
    Column("event_key", String(200), nullable=False),  # HubSpot: eventId-digest; generic: the event's id
    Column("object_id", String(200)),  # the HubSpot contact (objectId) an event is about
    Column("occurred_at", Instant, nullable=False),
    Column("payload", Text, nullable=False),  # the event's JSON
    Column("payload_hash", String(64), nullable=False),
    Column("received_at", Instant, nullable=False),
    Column("processed_at", Instant),
    Column("outcome", String(16)),  # applied | superseded | rejected | not_applied | refused; NULL while pending
    Column("note", Text),
    UniqueConstraint("channel", "source", "event_key", name="uq_webhook_events_channel_source_event_key"),
    Index(
        "ix_webhook_events_pending",
        "id",
        sqlite_where=text("processed_at IS NULL"),
        postgresql_where=text("processed_at IS NULL"),
    ),
    # A contact's rejected events are tried again when an older event of it applies late.
    Index(
        "ix_webhook_events_rejected",
        "object_id",
        sqlite_where=text(REJECTED),
        postgresql_where=text(REJECTED),
    ),
)

# The newest applied value of each HubSpot contact's property (email, stage, owner, each attribute),
# with the event that set it: an older value delivered late never overwrites it.
hubspot_values = Table(
    "hubspot_values",
    metadata,
    Column("object_id", String(200), primary_key=True),
    Column("register", String(120), primary_key=True),
    Column("value", Text),
    Column("occurred_at", Instant, nullable=False),
    Column("event_key", String(200), nullable=False),
)
