"""Exporting every lead in the import layout of HubSpot, Salesforce or leadpact's own CSV.

Each lead goes out with its stage, its score and its owner, and the state of its newest
handoff clock, all as of `now`: the score is the stored total decayed to `now` (recomputed
from the lead's activities when none is stored under the active pact), and the clock is
judged as the neglected-lead board judges clocks (`domain.clocks.judge_runs`).

Leads are read a page at a time in id order (keyset paging), each page in its own short unit
of work, and written before the next is read: an export of a million leads never holds them
all in memory, nor keeps a transaction open that others wait for (on SQLite every transaction
begins IMMEDIATE, so a long one would hold up ingest and webhooks for the whole export). A
lead added during the export is written if its id comes after the page being read.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from leadpact.adapters.db.store import PactVersion, Store, activity_from_row
from leadpact.adapters.exporters import hubspot, native, salesforce
from leadpact.adapters.exporters.record import Layout, LeadRecord
from leadpact.adapters.exporters.writer import ENCODINGS, write_csv
from leadpact.adapters.importers.table import encoding_name
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.clocks import judge_runs
from leadpact.domain.errors import DomainError
from leadpact.domain.lead import Lead, scoring_attributes
from leadpact.domain.scoring import ScoreState, score

LAYOUTS: Mapping[str, Layout] = {layout.name: layout for layout in (hubspot.LAYOUT, salesforce.LAYOUT, native.LAYOUT)}
PAGE = 1_000
DEFAULT_ZONE = "Asia/Tokyo"  # without an active pact, times are written as the pact's default calendar has them


@dataclass(frozen=True, slots=True)
class ExportReport:
    target: str
    encoding: str
    rows: int
    now: datetime
    timezone: str
    pact_version: int | None  # the pact the scores were computed under; None: no active pact, no scores
    replaced: list[tuple[int, str]] = field(default_factory=list)  # (lead id, column) written with `?`


@dataclass(frozen=True, slots=True)
class LeadPages:
    """Every lead as an export writes it, read page by page as `leads` is iterated."""

    timezone: str
    pact_version: int | None
    leads: Iterator[LeadRecord]


def export_encoding(target: str, given: str | None) -> str:
    """The file encoding: the one given (utf-8, utf-8-sig or cp932; Shift_JIS is CP932), else the layout's."""
    layout = _layout(target)
    if given is None:
        return layout.encoding
    try:
        name = encoding_name(given)
    except ValueError:
        name = given
    if name not in ENCODINGS:
        raise DomainError(f"--encoding {given!r}: an export is written as {', '.join(ENCODINGS)}")
    return name


def export_leads(
    engine: Engine,
    now: datetime,
    target: str,
    stream: IO[bytes],
    encoding: str | None = None,
    page: int = PAGE,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write every lead to `stream` in the layout of `target` (hubspot, salesforce or csv), as of `now`."""
    layout = _layout(target)
    chosen = export_encoding(target, encoding)
    pages = read_leads(engine, now, page)
    written = write_csv(stream, layout, pages.leads, ZoneInfo(pages.timezone), chosen, progress)
    return ExportReport(layout.name, chosen, written.rows, now, pages.timezone, pages.pact_version, written.replaced)


def count_leads(engine: Engine) -> int:
    """How many leads an export would write now (for a progress bar)."""
    with Store(engine) as store:
        return store.leads.count()


def read_leads(engine: Engine, now: datetime, page: int = PAGE) -> LeadPages:
    """Every lead, in id order, with its score and newest clock as of `now`, `page` leads per read."""
    if page < 1:
        raise ValueError("a page holds at least one lead")
    with Store(engine) as store:
        active = store.pacts.active()
    zone = active.pact.calendar.timezone if active else DEFAULT_ZONE
    return LeadPages(zone, active.version if active else None, _pages(engine, now, active, page))


def _pages(engine: Engine, now: datetime, active: PactVersion | None, page: int) -> Iterator[LeadRecord]:
    calendars: dict[int, BusinessCalendar] = {}
    after = 0
    while True:
        with Store(engine) as store:
            found = store.leads.page(after, page)
            if not found:
                return
            ids = [lead.id for lead, _, _ in found]
            refs = store.leads.refs_of_many(ids)
            scores = _scores(store, [lead for lead, _, _ in found], active, now)
            newest = store.clocks.newest_of(ids)
            runs = list(newest.values())
            for version in {run.pact_version for run in runs} - calendars.keys():
                calendars[version] = BusinessCalendar.of(_pact_of(store, version).pact.calendar)
        verdicts = judge_runs(runs, calendars, now) if runs else None
        verdict_of = {run.lead_id: i for i, run in enumerate(runs)}
        for lead, owner_email, owner_department in found:
            i = verdict_of.get(lead.id)
            yield LeadRecord(
                id=lead.id,
                email=lead.email,
                attributes=lead.attributes,
                stage=lead.stage,
                stage_changed_at=lead.stage_changed_at,
                owner=lead.owner,
                owner_email=owner_email,
                owner_department=owner_department,
                score=scores.get(lead.id),
                clock=newest.get(lead.id),
                clock_state=verdicts.state_of(i) if verdicts is not None and i is not None else None,
                business_days_late=(
                    int(verdicts.business_days_late[i]) if verdicts is not None and i is not None else None
                ),
                refs=tuple(refs.get(lead.id, ())),
            )
        after = ids[-1]


def _scores(store: Store, leads: list[Lead], active: PactVersion | None, now: datetime) -> dict[int, float]:
    """Each lead's total under the active pact, decayed to `now`: from its stored state, else from
    its activities (a lead scored under an earlier pact, or never scored)."""
    if active is None:
        return {}
    stored = store.scores.current([lead.id for lead in leads], active.version, active.pact)
    missing = [lead.id for lead in leads if lead.id not in stored]
    activities = store.activities.of_leads(missing) if missing else {}
    totals = {}
    for lead in leads:
        if lead.id in stored:
            state = stored[lead.id].state
        else:
            state = ScoreState().fold_all(active.pact, (activity_from_row(r) for r in activities.get(lead.id, [])))
        attributes = scoring_attributes(lead.email, lead.attributes)
        totals[lead.id] = score(active.pact, active.version, state, attributes, now).total
    return totals


def _pact_of(store: Store, version: int) -> PactVersion:
    found = store.pacts.get(version)
    if found is None:
        raise DomainError(f"a clock names pact version {version}, which the store does not hold")
    return found


def _layout(target: str) -> Layout:
    layout = LAYOUTS.get(target)
    if layout is None:
        raise DomainError(f"unknown export format {target!r}; choose one of: {', '.join(LAYOUTS)}")
    return layout
