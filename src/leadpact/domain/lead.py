"""A lead's identity and the attributes scoring sees.

Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from leadpact.domain.identity import is_plausible_email, normalise_email
from leadpact.domain.lifecycle import Stage
from leadpact.domain.qualification import Bant
from leadpact.domain.scoring import AttributeValue

__all__ = ["Lead", "company_of", "is_plausible_email", "normalise_email", "scoring_attributes"]


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
