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


def test_leads_found_again_after_a_cut_off_have_no_bound_but_keep_their_earliest_row() -> None:
    touched = Touched()
    touched.add([4], ["page_view"], [30])
    touched.recall([(4, 12), (7, 99)])
    assert touched.unbounded == {4, 7}
    found = table(touched.reduced())
    assert (found[4][1], found[7][1]) == (12, 99)
