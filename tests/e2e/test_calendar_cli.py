"""`leadpact calendar` as a user drives it: due times and day counts on the signed pact's calendar."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLE_PACT
from tests.e2e.test_cli import run, sign


def test_due_on_the_active_pact_names_the_days_it_skipped(sqlite_url: str) -> None:
    sign(sqlite_url)
    code, out, _ = run(
        sqlite_url, "--lang", "en", "calendar", "due", "--start", "2026-04-28T10:00", "--within", "3 business days"
    )
    assert code == 0
    assert (
        "due: 2026-05-08 00:00 JST (2026-05-07T15:00Z) — end of Thu 2026-05-07: business day 3 after Tue 2026-04-28"
        in out
    )
    assert "pact v1: Asia/Tokyo" in out
    for line in (
        "2026-04-29 │ holiday │ 昭和の日",
        "2026-05-06 │ holiday │ 振替休日",
        "2026-05-02 │ weekend │ Saturday",
    ):
        assert line in out


def test_due_as_json_reads_the_year_end_closure_from_a_pact_file(sqlite_url: str) -> None:
    code, out, _ = run(
        sqlite_url,
        "calendar",
        "due",
        "--start",
        "2026-12-25T17:00+09:00",
        "--within",
        "3 business days",
        "--pact",
        str(EXAMPLE_PACT),
        "--json",
    )
    assert code == 0
    found = json.loads(out)
    assert found["due"] == "2027-01-06T00:00:00+09:00"
    assert [d["date"] for d in found["days_off"] if d["reason"] == "closed"] == [
        "2026-12-29",
        "2026-12-30",
        "2026-12-31",
        "2027-01-01",
        "2027-01-02",
        "2027-01-03",
    ]


def test_hours_run_on_the_wall_clock_and_the_default_calendar_says_so(sqlite_url: str) -> None:
    code, out, err = run(sqlite_url, "calendar", "due", "--start", "2026-04-24T23:30", "--within", "24 hours", "--json")
    assert code == 0 and json.loads(out)["due"] == "2026-04-25T23:30:00+09:00"
    assert "using the default calendar" in err


def test_days_counts_after_the_first_day_up_to_and_including_the_last(sqlite_url: str) -> None:
    code, out, _ = run(sqlite_url, "calendar", "days", "2026-09-18", "2026-09-25", "--json")
    assert code == 0
    found = json.loads(out)
    assert found["business_days"] == 2
    assert {d["name"] for d in found["days_off"] if d["reason"] == "holiday"} == {"敬老の日", "国民の休日", "秋分の日"}


def test_bad_input_is_one_line_and_exit_2(sqlite_url: str) -> None:
    code, _, err = run(sqlite_url, "calendar", "due", "--start", "2026-04-28", "--within", "1.5 business days")
    assert code == 2 and "a business-day deadline is a whole number of days, not 1.5" in err
    code, _, err = run(sqlite_url, "calendar", "due", "--start", "next tuesday", "--within", "3 business days")
    assert code == 2 and "--start 'next tuesday' is not an ISO date or date-time" in err
    code, _, err = run(sqlite_url, "calendar", "due", "--start", "2026-04-28", "--within", "3 days")
    assert code == 2 and "must read like '24 hours' or '3 business days'" in err
