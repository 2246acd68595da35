"""The shared KPIs of the store: its ledger history read as columns, every KPI of one view of a period.

`report` reads the whole history in one short read transaction and computes on it in memory
(`domain.kpis`); the active pact gives the targets and the calendar (periods are read in its
time zone, waits are measured on its business days). Without `period`, the last whole period of
the pact's review cycle (a quarter by default) is shown: the one a review looks at. `leads_behind`
lists the leads behind one KPI's figure with their e-mail address and stage now.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from leadpact.adapters.db.store import Store
from leadpact.adapters.db.tables import from_micros
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.history import History
from leadpact.domain.kpis import HOUR_MICROS, GroupBy, KpiReport, KpiResult, View, kpi_report, last_review_period
from leadpact.domain.lead import company_of
from leadpact.domain.pact import Calendar, Kpi, ReviewCycle
from leadpact.domain.period import parse_period


def report(
    engine: Engine,
    now: datetime,
    period: str | None = None,
    view: View = View.COHORT,
    by: GroupBy | None = None,
    history: History | None = None,
) -> KpiReport:
    """Every KPI of `view` over `period` (text such as 2026-Q3; None: the last whole review period)
    as the store's history stood at `now`, with the previous period's and the active pact's targets.

    `history`: the store's history read already (with the lead groups `by` needs), so that a report
    made of several views reads the ledger once."""
    with Store(engine) as store:
        active = store.pacts.active()
        pact = active.pact if active is not None else None
        calendar = pact.calendar if pact is not None else Calendar()
        if period is None:
            cycle = pact.review_cycle if pact is not None else ReviewCycle.QUARTERLY
            chosen = last_review_period(cycle, now, calendar.timezone)
        else:
            chosen = parse_period(period, calendar.timezone, calendar.fiscal_year_start)
        if history is None:
            grouped = (by.value,) if by in (GroupBy.SOURCE, GroupBy.CAMPAIGN, GroupBy.SEGMENT) else ()
            history = store.history.read(grouped)
    return kpi_report(history, pact, BusinessCalendar.of(calendar), chosen, view, now, by)


@dataclass(frozen=True, slots=True)
class LeadRow:
    """One lead behind a figure: who it is, its stage now, and how it counted."""

    lead_id: int
    email: str | None
    company: str | None
    stage: str | None  # now (None: the lead is gone from the store's list of leads)
    at: datetime  # the instant that put it in the figure
    counted: bool  # in the numerator (a rate's "yes"; a count's every row)
    waited_hours: float | None  # waits: the business hours measured
    business_days: int | None
    group: str | None  # with a group-by field: its value for this lead
    clock: str | None  # SLA attainment and neglected leads: the clock
    department: str | None  # and its responsible department


def leads_behind(engine: Engine, found: KpiReport, kpi: Kpi) -> list[LeadRow]:
    """The leads behind `kpi`'s figure in `found` (by group, when it is grouped), earliest first."""
    rows: list[tuple[KpiResult, str | None]] = []
    if found.by is None:
        rows = [(found.find(kpi), None)]
    else:
        rows = [(found.find_group(kpi, group), group) for group in found.groups()]
    with Store(engine) as store:
        leads = store.leads.get_many({int(i) for result, _ in rows for i in result.items.lead.tolist()})
    out = []
    for result, group in rows:
        i = result.items
        for n in range(len(i)):
            lead = leads.get(int(i.lead[n]))
            waited = int(i.waited[n])
            out.append(
                LeadRow(
                    lead_id=int(i.lead[n]),
                    email=lead.email if lead else None,
                    company=company_of(lead.attributes) if lead else None,
                    stage=lead.stage.value if lead else None,
                    at=from_micros(int(i.at[n])),
                    counted=bool(i.counted[n]),
                    waited_hours=waited / HOUR_MICROS if waited >= 0 else None,
                    business_days=int(i.days[n]) if waited >= 0 else None,
                    group=group,
                    clock=found.clocks[int(i.clock[n])] if i.clock[n] >= 0 else None,
                    department=found.departments[int(i.department[n])] if i.department[n] >= 0 else None,
                )
            )
    return sorted(out, key=lambda r: (r.at, r.lead_id))
