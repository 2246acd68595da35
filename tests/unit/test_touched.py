"""What an import run remembers of the leads its rows went to (services/import_scores.py): per lead,
its new rows per activity type and the earliest, the same whether or not the run compacted them."""

from __future__ import annotations

import pytest

from leadpact.services import import_scores
from leadpact.services.import_scores import NewRows, Touched

BATCHES = [
    ([3, 1, 3, 2], ["page_view", "document_download", "page_view", "page_view"], [50, 10, 40, 70]),
    ([1, 3], ["page_view", "email_click"], [5, 60]),
    ([2, 2, 9], ["document_download", "document_download", "page_view"], [80, 20, 90]),
]


def table(rows: NewRows) -> dict[int, tuple[dict[str, int], int]]:
    return {
        int(lead): (
            {kind: int(rows.counts[i, k]) for k, kind in enumerate(rows.kinds) if rows.counts[i, k]},
            int(rows.earliest[i]),
        )
        for i, lead in enumerate(rows.lead_ids)
    }


EXPECTED = {  # worked out by hand from BATCHES
    1: ({"document_download": 1, "page_view": 1}, 5),
    2: ({"page_view": 1, "document_download": 2}, 20),
    3: ({"page_view": 2, "email_click": 1}, 40),
    9: ({"page_view": 1}, 90),
}


@pytest.mark.parametrize("compact_at", [1 << 18, 1, 3], ids=["never", "every-batch", "now-and-then"])
def test_the_leads_of_a_run_and_their_new_rows_whether_compacted_or_not(
    monkeypatch: pytest.MonkeyPatch, compact_at: int
) -> None:
    monkeypatch.setattr(import_scores, "COMPACT_AT", compact_at)
    touched = Touched()
    for leads, types, micros in BATCHES:
        touched.add(leads, types, micros)
    assert table(touched.reduced()) == EXPECTED


def test_one_batch_reduced_on_its_own() -> None:
    leads, types, micros = BATCHES[0]
    assert table(NewRows.of(leads, types, micros)) == {
        1: ({"document_download": 1}, 10),
        2: ({"page_view": 1}, 70),
        3: ({"page_view": 2}, 40),
    }


@pytest.mark.parametrize(
    ("per_lead", "most_leads", "most_rows", "expected"),
    [
        ([1, 1, 1, 1, 1], 200_000, 1_500_000, [(0, 5)]),  # a small run: one step
        ([2, 2, 2, 2, 2], 2, 1_500_000, [(0, 2), (2, 4), (4, 5)]),  # by leads
        ([3, 1, 2, 5, 1], 200_000, 4, [(0, 2), (2, 3), (3, 4), (4, 5)]),  # by rows: 3+1 | 2 | 5 (alone) | 1
    ],
)
def test_a_run_is_settled_in_steps_bounded_by_leads_and_rows(
    monkeypatch: pytest.MonkeyPatch,
    per_lead: list[int],
    most_leads: int,
    most_rows: int,
    expected: list[tuple[int, int]],
) -> None:
    monkeypatch.setattr(import_scores, "SETTLE_LEADS", most_leads)
    monkeypatch.setattr(import_scores, "SETTLE_ROWS", most_rows)
    touched = Touched()
    for lead, rows in enumerate(per_lead, start=1):
        touched.add([lead] * rows, ["page_view"] * rows, [lead] * rows)
    steps = import_scores.settle_steps(touched.reduced())
    assert [(s.start, s.stop) for s in steps] == expected
