"""A lead's identity and the attributes scoring sees.

Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from leadpact.domain.lifecycle import Stage
from leadpact.domain.qualification import Bant
from leadpact.domain.scoring import AttributeValue


def normalise_email(raw: str) -> str:
    """Case-fold and NFKC-normalise (full-width ＠ and letters as Japanese forms often send them)."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def is_plausible_email(email: str) -> bool:
    local, _, domain = email.partition("@")
    return bool(local) and "." in domain and " " not in email and domain.count("@") == 0


@dataclass(frozen=True, slots=True)
class Lead:
    """The current state of one lead, as read from the store."""

    id: int
    email: str | None
    attributes: Mapping[str, AttributeValue]
    stage: Stage
    stage_changed_at: datetime
    owner: str | None = None
    bant: Bant = field(default_factory=Bant)

    def scoring_attributes(self) -> dict[str, AttributeValue]:
        """Attributes plus the derived ones rules may use (`email_domain`)."""
        return scoring_attributes(self.email, self.attributes)


def company_of(attributes: object) -> str | None:
    """The company name a lead's stored attributes carry, if any (shown beside its e-mail)."""
    company = attributes.get("company") if isinstance(attributes, Mapping) else None
    return company if isinstance(company, str) else None


def scoring_attributes(email: str | None, attributes: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    derived: dict[str, AttributeValue] = dict(attributes)
    if email and "@" in email:
        derived["email_domain"] = email.rsplit("@", 1)[1]
    return derived
