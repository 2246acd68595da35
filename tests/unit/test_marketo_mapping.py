"""Marketo exports: REST names from Bulk Lead Extract, or the list export's labels."""

from __future__ import annotations

import pytest

from leadpact.adapters.importers import marketo
from leadpact.adapters.importers.values import find_columns as columns


@pytest.mark.parametrize(
    "header",
    [
        ["id", "email", "firstName", "leadScore", "createdAt"],  # Bulk Lead Extract
        ["Lead ID", "Email Address", "First Name", "Lead Score", "Created At"],  # list export labels
    ],
)
def test_marketo_columns_by_rest_name_or_label(header: list[str]) -> None:
    assert list(columns(header, marketo.LEAD_COLUMNS)) == ["record_id", "email", "first_name", "score", "created_at"]
