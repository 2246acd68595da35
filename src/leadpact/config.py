"""Infrastructure settings, from the environment (LEADPACT_*) or the command line.

Business definitions (stages, scoring, clocks) are not settings: they live in the pact.
Every setting is documented in docs/settings.md; a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    import_batch_size: int = Field(
        default=5_000,
        ge=1,
        le=100_000,
        description="Rows of an export applied and committed together by `leadpact import`.",
    )
    channels: Path | None = Field(
        default=None,
        description="The notification channels file (YAML) for neglected-lead escalation; none: breaches are not sent.",
    )
