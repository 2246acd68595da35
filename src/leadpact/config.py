"""Infrastructure settings, from the environment (LEADPACT_*) or the command line.

Business definitions (stages, scoring, clocks) are not settings: they live in the pact.
Every setting is documented in docs/settings.md; a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadpact.domain.lifecycle import Stage

DEFAULT_DATABASE_URL = "sqlite:///leadpact.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPACT_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Where the store lives: a SQLite file (default ./leadpact.db) or postgresql://user@host/db.",
    )
    lang: Literal["ja", "en"] = Field(
        default="ja", description="Language of tables and messages meant for people: ja or en."
    )
    ingest_batch_size: int = Field(
        default=2_000, ge=1, le=100_000, description="Events applied and committed together by `leadpact ingest`."
    )
    import_batch_size: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Rows of an export applied and committed together by `leadpact import` "
        "(unset: 20,000 for activity files, 5,000 for lead files).",
    )
    import_read_ahead: bool | None = Field(
        default=None,
        description="Read an activity CSV in a process of its own while the batches before are written: "
        "true, false, or unset for files over 4 MiB on SQLite.",
    )
    channels: Path | None = Field(
        default=None,
        description="The notification channels file (YAML) for neglected-lead escalation; none: breaches are not sent.",
    )
    hubspot_client_secret: SecretStr | None = Field(
        default=None,
        description="The HubSpot app's client secret, which signs its webhooks; none: /webhooks/hubspot refuses every "
        "delivery.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The shared secret generic senders sign canonical events with; none: /webhooks/generic refuses "
        "every delivery.",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL senders reach leadpact at (scheme, host, any path prefix a proxy removes), e.g. "
        "https://leadpact.example.co.jp; HubSpot signs the full URL it called. None: the request's own.",
    )
    hubspot_owners: dict[str, str] = Field(
        default_factory=dict,
        description='HubSpot owner ids and the leadpact users they are, as JSON: {"12345": "田中美咲"}.',
    )
    hubspot_stages: dict[str, Stage | None] = Field(
        default_factory=dict,
        description="Custom HubSpot lifecycle stage values and the leadpact stages they are (null: none), as JSON: "
        '{"1234567": "sal"}.',
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError(f"{value!r} is not a base URL like https://leadpact.example.co.jp")
        return value.rstrip("/")
