"""`leadpact kpi`: the shared KPIs of a period, each with its owner, target and the previous period."""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from leadpact.domain.errors import DomainError
from leadpact.domain.funnel import FUNNEL
from leadpact.domain.kpis import DEFINITIONS, Figure, GroupBy, KpiReport, KpiResult, Unit, View, choose
from leadpact.domain.lifecycle import ReasonKind
from leadpact.domain.pact import Kpi, Pact, ReasonCode
from leadpact.services.kpis import LeadRow, leads_behind, report


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


KPI_NAMES: dict[Kpi, dict[str, str]] = {
    Kpi.MQL_COUNT: {"ja": "MQL数(初回)", "en": "MQLs (first)"},
    Kpi.RE_MQL_COUNT: {"ja": "再MQL数(リサイクルから復帰)", "en": "Re-MQLs (back from recycling)"},
    Kpi.MQL_TO_SAL_RATE: {"ja": "MQL→SAL 受入率", "en": "MQL → SAL acceptance rate"},
    Kpi.MQL_TO_SAL_HOURS: {"ja": "MQL→SAL 受入までの時間", "en": "MQL → SAL time to accept"},
    Kpi.TIME_TO_FIRST_CONTACT_HOURS: {"ja": "初回接触までの時間", "en": "Time to first contact"},
    Kpi.MQL_TO_SQL_RATE: {"ja": "MQL→SQL 転換率", "en": "MQL → SQL rate"},
    Kpi.SQL_TO_OPPORTUNITY_RATE: {"ja": "SQL→商談 転換率", "en": "SQL → opportunity rate"},
    Kpi.OPPORTUNITY_TO_WON_RATE: {"ja": "商談→受注率", "en": "Opportunity → won rate"},
    Kpi.RECYCLE_RATE: {"ja": "リサイクル率", "en": "Recycle rate"},
    Kpi.SQL_WITHOUT_MQL: {"ja": "MQLを経ないSQL", "en": "SQLs without an MQL"},
    Kpi.SLA_COMPLIANCE: {"ja": "SLA遵守率", "en": "SLA attainment"},
    Kpi.NEGLECTED_LEADS: {"ja": "放置リード(期末時点)", "en": "Neglected leads (at period end)"},
}
SHORT: dict[Kpi, dict[str, str]] = {  # column heads of the grouped table
    Kpi.MQL_COUNT: {"ja": "MQL", "en": "MQLs"},
    Kpi.RE_MQL_COUNT: {"ja": "再MQL", "en": "re-MQLs"},
    Kpi.MQL_TO_SAL_RATE: {"ja": "受入率", "en": "accepted"},
    Kpi.TIME_TO_FIRST_CONTACT_HOURS: {"ja": "初回接触", "en": "1st contact"},
    Kpi.MQL_TO_SQL_RATE: {"ja": "MQL→SQL", "en": "MQL→SQL"},
    Kpi.SQL_TO_OPPORTUNITY_RATE: {"ja": "SQL→商談", "en": "SQL→opp."},
    Kpi.OPPORTUNITY_TO_WON_RATE: {"ja": "商談→受注", "en": "opp.→won"},
    Kpi.RECYCLE_RATE: {"ja": "リサイクル率", "en": "recycled"},
    Kpi.SLA_COMPLIANCE: {"ja": "SLA遵守", "en": "SLA met"},
    Kpi.NEGLECTED_LEADS: {"ja": "放置", "en": "neglected"},
}
GROUP_NAMES = {
    "ja": {
        GroupBy.SOURCE: "流入元",
        GroupBy.CAMPAIGN: "キャンペーン",
        GroupBy.SEGMENT: "セグメント",
        GroupBy.OWNER: "担当者",
        GroupBy.TEAM: "部門",
        GroupBy.PACT_VERSION: "合意書",
    },
    "en": {
        GroupBy.SOURCE: "source",
        GroupBy.CAMPAIGN: "campaign",
        GroupBy.SEGMENT: "segment",
        GroupBy.OWNER: "owner",
        GroupBy.TEAM: "team",
        GroupBy.PACT_VERSION: "pact version",
    },
}
STAGE_NAMES = {
    "ja": {"mql": "MQL", "sal": "SAL", "sql": "SQL", "opportunity": "商談", "won": "受注"},
    "en": {"mql": "MQL", "sal": "SAL", "sql": "SQL", "opportunity": "opportunity", "won": "won"},
}
TEXT: dict[str, dict[str, Any]] = {
    "ja": {
        "title": "共通KPI {label}({first}〜{last}、{zone})",
        "cohort": "コホート表示: この期間に初めてMQLになったリード {n}件を {now} まで追跡。前期 {previous} と比較",
        "period": "期間表示: この期間に起きた遷移・判断。前期 {previous} と比較",
        "kpi": "KPI",
        "value": "実績",
        "basis": "内訳",
        "target": "目標",
        "verdict": "判定",
        "previous": "前期",
        "owner": "責任部門",
        "met": "✓ 達成",
        "missed": "✗ 未達",
        "none": "リードなし",
        "no_leads": "{label} にはリードがありません(すべて0件)。",
        "measured": "{n}/{d}件",
        "of": "{n}/{d}",
        "days": "{n}営業日",
        "department": "  部門 {name}",
        "clock": "  時計 {name}",
        "per": {"month": "月", "quarter": "四半期"},
        "funnel_cohort": "コホート別ファネル(初回MQLの月 × その後の到達ステージ)",
        "funnel_period": "月別のステージ到達(期間内の遷移、リードごとに1回)",
        "cohort_col": "コホート",
        "month_col": "月",
        "total": "合計",
        "stay": "ステージ滞留時間(中央値、暦日)",
        "stays": "{stage} {days:.1f}日({n}件)",
        "hint": "内訳: --by source|campaign|segment|owner|team|pact_version 根拠のリード: --leads KPI名"
        "(例 --leads {kpi})",
        "grouped": "{by}別",
        "unset": "(なし)",
        "each": "(部門ごと)",
        "lead": "リード",
        "email": "メール",
        "company": "会社",
        "stage": "現在のステージ",
        "when": "日時",
        "counted": "計上",
        "waited": "待ち時間",
        "bdays": "営業日",
        "leads_title": "{kpi} の根拠となるリード {n}件({label}、{view})",
        "size": "従業員{band}名",
        "size_up": "従業員{band}名以上",
        "view_cohort": "コホート表示",
        "view_period": "期間表示",
    },
    "en": {
        "title": "Shared KPIs {label} ({first} – {last}, {zone})",
        "cohort": "cohort view: the {n} leads whose first MQL fell in the period, followed to {now}; compared with "
        "{previous}",
        "period": "period view: the moves and decisions made in the period; compared with {previous}",
        "kpi": "KPI",
        "value": "actual",
        "basis": "basis",
        "target": "target",
        "verdict": "verdict",
        "previous": "previous",
        "owner": "owner",
        "met": "✓ met",
        "missed": "✗ missed",
        "none": "no leads",
        "no_leads": "no leads in {label} (every count is 0).",
        "measured": "{n} of {d}",
        "of": "{n} of {d}",
        "days": "{n} bus. days",
        "department": "  department {name}",
        "clock": "  clock {name}",
        "per": {"month": "month", "quarter": "quarter"},
        "funnel_cohort": "Cohort funnel (month of the first MQL × stages reached since)",
        "funnel_period": "Stage entries by month (moves in the period, each lead once)",
        "cohort_col": "cohort",
        "month_col": "month",
        "total": "total",
        "stay": "Time in stage (median, calendar days)",
        "stays": "{stage} {days:.1f} d ({n})",
        "hint": "Break down: --by source|campaign|segment|owner|team|pact_version. The leads behind a figure: "
        "--leads KPI (e.g. --leads {kpi})",
        "grouped": "by {by}",
        "unset": "(none)",
        "each": "(each department)",
        "lead": "lead",
        "email": "e-mail",
        "company": "company",
        "stage": "stage now",
        "when": "when",
        "counted": "counted",
        "waited": "waited",
        "bdays": "business days",
        "leads_title": "{n} lead(s) behind {kpi} ({label}, {view})",
        "size": "{band} employees",
        "size_up": "{band}+ employees",
        "view_cohort": "cohort view",
        "view_period": "period view",
    },
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


# --- words and numbers -------------------------------------------------------------------------------


def value_text(unit: Unit, value: float | None, t: dict[str, Any]) -> str:
    """A KPI figure as people read it: a count, a share in %, or hours (the KPI reports share it)."""
    if value is None:
        return str(t["none"])
    if unit is Unit.COUNT:
        return f"{value:,.0f}"
    if unit is Unit.SHARE:
        return f"{value:.1%}"
    return f"{value:.1f}h"


def change_text(unit: Unit, change: float | None, missing: str = "") -> str:
    """A change against the previous period: ±count, ±points for a share, ±hours."""
    if change is None:
        return missing
    if unit is Unit.COUNT:
        return f"{change:+,.0f}"
    if unit is Unit.SHARE:
        return f"{change * 100:+.1f}pt"
    return f"{change:+.1f}h"


def _basis(result: KpiResult, t: dict[str, Any]) -> str:
    f, unit = result.figure, result.definition.unit
    if unit is Unit.COUNT:
        return ""
    if unit is Unit.SHARE:
        return str(t["of"]).format(n=f"{f.numerator:,}", d=f"{f.denominator:,}")
    text = str(t["measured"]).format(n=f"{f.numerator:,}", d=f"{f.denominator:,}")
    if f.p90_hours is not None:
        text += f" · p90 {f.p90_hours:.1f}h"
    if f.median_business_days is not None:
        text += " · " + str(t["days"]).format(n=f"{f.median_business_days:g}")
    return text


def department_name(pact: Pact | None, department: str, lang: str) -> str:
    """A department by its name in the pact (its English name in English), else by its id."""
    found = pact.department(department) if pact is not None else None
    if found is None:
        return department
    return found.name if lang == "ja" or not found.name_en else found.name_en


def reason_label(labels: Mapping[tuple[ReasonKind, str], ReasonCode], kind: ReasonKind, code: str, lang: str) -> str:
    """A reason code as the pact labels it, in `lang`, with the code (the code alone when the pact has no label)."""
    found = labels.get((kind, code))
    if found is None:
        return code
    return f"{found.label if lang == 'ja' else found.label_en or found.label} ({code})"


def _clock(pact: Pact | None, clock: str, lang: str) -> str:
    """A clock by its label in Japanese (the pact's labels are written for its people), by its id in English."""
    found = next((c for c in pact.clocks if c.id == clock), None) if pact is not None else None
    return found.label if lang == "ja" and found is not None and found.label else clock


def _owners(result: KpiResult, pact: Pact | None, lang: str) -> str:
    if result.definition.by_department and result.department is None and result.clock is None:
        return str(TEXT[lang]["each"])  # the total of a per-department KPI: each department owns its row
    return ", ".join(department_name(pact, d, lang) for d in result.owners)


def _group(found: KpiReport, value: str | None, lang: str) -> str:
    """A group's value as people read it: a team by its department's name, a size band in words."""
    t = TEXT[lang]
    if value is None:
        return str(t["unset"])
    if found.by is GroupBy.TEAM:
        return department_name(found.pact, value, lang)
    if found.by is GroupBy.SEGMENT and value.startswith("size:"):
        band = value.removeprefix("size:")
        return str(t["size_up" if band.endswith("+") else "size"]).format(band=band.rstrip("+"))
    if found.by is GroupBy.PACT_VERSION:
        return f"v{value}"
    return value


def _target(result: KpiResult, t: dict[str, Any]) -> str:
    target = result.target
    if target is None:
        return ""
    shown = value_text(result.definition.unit, target.value, t)
    if result.definition.flow and target.value != target.stated:
        shown += f" ({target.stated:g}/{t['per'][target.per.value]})"
    return shown


def _verdict(result: KpiResult, t: dict[str, Any]) -> str:
    if result.met is None:
        return ""
    return f"[green]{t['met']}[/]" if result.met else f"[red]{t['missed']}[/]"


def local_time(at: datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _zone(found: KpiReport) -> str:
    return found.period.zone


# --- the table ----------------------------------------------------------------------------------------


def _print_table(found: KpiReport, lang: str) -> None:
    cli, t, pact = _cli(), TEXT[lang], found.pact
    period, zone = found.period, _zone(found)
    last = period.after.toordinal() - 1
    cli.out.print(
        "[bold]"
        + t["title"].format(
            label=period.label,
            first=period.first.isoformat(),
            last=type(period.first).fromordinal(last).isoformat(),
            zone=zone,
        )
        + "[/bold]"
    )
    cohort = found.find(Kpi.MQL_COUNT).figure.numerator
    note = t["cohort" if found.view is View.COHORT else "period"]
    cli.out.print(note.format(n=f"{cohort:,}", now=local_time(found.now, zone), previous=found.previous.label))
    if found.leads == 0:
        cli.out.print(t["no_leads"].format(label=period.label))
    table = Table(title_justify="left")
    for column in ("kpi", "value", "basis", "target", "verdict", "previous", "owner"):
        table.add_column(t[column], justify="right" if column in ("value", "target", "previous") else "left")
    for result in found.totals():
        if result.department is not None:
            label = t["department"].format(name=department_name(pact, result.department, lang))
        elif result.clock is not None:
            label = t["clock"].format(name=_clock(pact, result.clock, lang))
        else:
            label = KPI_NAMES[result.kpi][lang]
        unit = result.definition.unit
        previous = value_text(unit, result.previous.value, t) if result.previous.value is not None else "—"
        change = change_text(unit, result.change)
        table.add_row(
            escape(label),
            value_text(unit, result.value, t),
            _basis(result, t),
            _target(result, t),
            _verdict(result, t),
            f"{previous} ({change})" if change else previous,
            escape(_owners(result, pact, lang)),
            style="dim" if result.department is not None or result.clock is not None else "",
        )
    cli.out.print(table)
    if found.by is not None:
        cli.out.print(_grouped(found, lang))
    cli.out.print(_funnel(found, lang))
    stays = [s for s in found.time_in_stage if s.stage in FUNNEL[:4] and s.median_hours is not None]
    if stays:
        parts = [
            t["stays"].format(stage=STAGE_NAMES[lang][s.stage.value], days=(s.median_hours or 0) / 24, n=f"{s.stays:,}")
            for s in stays
        ]
        cli.out.print(f"{t['stay']}: " + " · ".join(parts))
    cli.out.print(t["hint"].format(kpi=Kpi.MQL_TO_SQL_RATE.value), soft_wrap=True)


def _grouped(found: KpiReport, lang: str) -> Table:
    t = TEXT[lang]
    assert found.by is not None
    name = GROUP_NAMES[lang][found.by]
    table = Table(title=t["grouped"].format(by=name), title_justify="left")
    table.add_column(name)
    for kpi in SHORT:
        table.add_column(SHORT[kpi][lang], justify="right")
    for group in found.groups():
        cells = []
        for kpi in SHORT:
            result = found.find_group(kpi, group)
            cells.append(value_text(result.definition.unit, result.value, t) if result.value is not None else "—")
        table.add_row(escape(_group(found, group, lang)), *cells)
    return table


def _funnel(found: KpiReport, lang: str) -> Table:
    t = TEXT[lang]
    cohort = found.view is View.COHORT
    table = Table(title=t["funnel_cohort" if cohort else "funnel_period"], title_justify="left")
    table.add_column(t["cohort_col" if cohort else "month_col"])
    for stage in FUNNEL:
        table.add_column(STAGE_NAMES[lang][stage.value], justify="right")

    def cells(reached: list[int]) -> list[str]:
        if not cohort or not reached[0]:
            return [f"{n:,}" for n in reached]
        return [f"{reached[0]:,}"] + [f"{n:,} ({n / reached[0]:.0%})" for n in reached[1:]]

    funnel = found.funnel
    for month, reached in zip(funnel.months, funnel.reached.tolist(), strict=True):
        table.add_row(month, *cells(reached))
    table.add_row(f"[bold]{t['total']}[/bold]", *cells(funnel.total().tolist()))
    return table


# --- json and csv -------------------------------------------------------------------------------------


def _figure_json(figure: Figure) -> dict[str, Any]:
    return {
        "value": figure.value,
        "numerator": figure.numerator,
        "denominator": figure.denominator,
        "p90_hours": figure.p90_hours,
        "median_business_days": figure.median_business_days,
    }


def _result_json(result: KpiResult) -> dict[str, Any]:
    target = result.target
    return {
        "kpi": result.kpi.value,
        "unit": result.definition.unit.value,
        "better": result.definition.better,
        "by": result.by.value if result.by else None,
        "group": result.group,
        "department": result.department,
        "clock": result.clock,
        **_figure_json(result.figure),
        "target": (
            {"value": target.value, "stated": target.stated, "per": target.per.value, "owner": target.owner}
            if target
            else None
        ),
        "met": result.met,
        "previous": _figure_json(result.previous),
        "change": result.change,
        "owners": list(result.owners),
    }


def _period_json(found: KpiReport, previous: bool = False) -> dict[str, Any]:
    period = found.previous if previous else found.period
    return {
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": period.zone,
    }


def _report_json(found: KpiReport) -> dict[str, Any]:
    return {
        "period": _period_json(found),
        "previous_period": _period_json(found, previous=True),
        "view": found.view.value,
        "now": found.now.isoformat(),
        "neglected_at": found.neglected_at.isoformat(),
        "by": found.by.value if found.by else None,
        "leads": found.leads,
        "kpis": [_result_json(r) for r in found.results],
        "funnel": {
            "kind": "cohort" if found.view is View.COHORT else "entries",
            "stages": [s.value for s in FUNNEL],
            "months": list(found.funnel.months),
            "reached": found.funnel.reached.tolist(),
        },
        "time_in_stage": [
            {"stage": s.stage.value, "stays": s.stays, "median_hours": s.median_hours} for s in found.time_in_stage
        ],
    }


CSV_COLUMNS = (
    "period",
    "view",
    "kpi",
    "by",
    "group",
    "department",
    "clock",
    "unit",
    "value",
    "numerator",
    "denominator",
    "p90_hours",
    "median_business_days",
    "target",
    "met",
    "previous",
    "change",
    "owners",
)


def _print_csv(found: KpiReport) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in found.results:
        writer.writerow(
            [
                found.period.label,
                found.view.value,
                r.kpi.value,
                r.by.value if r.by else "",
                r.group or "",
                r.department or "",
                r.clock or "",
                r.definition.unit.value,
                _plain(r.value),
                r.figure.numerator,
                r.figure.denominator,
                _plain(r.figure.p90_hours),
                _plain(r.figure.median_business_days),
                _plain(r.target.value if r.target else None),
                "" if r.met is None else str(r.met).lower(),
                _plain(r.previous.value),
                _plain(r.change),
                " ".join(r.owners),
            ]
        )


def _plain(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


# --- the leads behind a figure --------------------------------------------------------------------------


LEAD_COLUMNS = (
    "lead_id",
    "email",
    "company",
    "stage",
    "at",
    "counted",
    "waited_hours",
    "business_days",
    "group",
    "clock",
    "department",
)


def _lead_json(row: LeadRow) -> dict[str, Any]:
    return {
        "lead_id": row.lead_id,
        "email": row.email,
        "company": row.company,
        "stage": row.stage,
        "at": row.at.isoformat(),
        "counted": row.counted,
        "waited_hours": row.waited_hours,
        "business_days": row.business_days,
        "group": row.group,
        "clock": row.clock,
        "department": row.department,
    }


def _print_leads(found: KpiReport, kpi: Kpi, rows: list[LeadRow], output: Format, lang: str) -> None:
    cli, t, zone = _cli(), TEXT[lang], _zone(found)
    if output is Format.JSON:
        listed = [_lead_json(r) for r in rows]
        cli._print_json({"kpi": kpi.value, "period": _period_json(found), "view": found.view.value, "leads": listed})
        return
    if output is Format.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(LEAD_COLUMNS)
        for row in rows:
            data = _lead_json(row)
            writer.writerow(["" if data[n] is None else data[n] for n in LEAD_COLUMNS])
        return
    view = t["view_cohort" if found.view is View.COHORT else "view_period"]
    title = t["leads_title"].format(kpi=KPI_NAMES[kpi][lang], n=f"{len(rows):,}", label=found.period.label, view=view)
    table = Table(title=title, title_justify="left")
    unit = DEFINITIONS[kpi].unit
    columns = ["lead", "email", "company", "stage", "when"]
    if found.by is not None:
        columns.append("group")
    if DEFINITIONS[kpi].by_department:
        columns.append("clock")
    if unit is Unit.SHARE:
        columns.append("counted")
    if unit is Unit.HOURS:
        columns += ["waited", "bdays"]
    for column in columns:
        head = GROUP_NAMES[lang][found.by] if column == "group" and found.by else t.get(column, column)
        table.add_column(head, justify="right" if column in ("lead", "waited", "bdays") else "left")
    for row in rows:
        cells = {
            "lead": str(row.lead_id),
            "email": escape(row.email or ""),
            "company": escape(row.company or ""),
            "stage": row.stage or "",
            "when": local_time(row.at, zone),
            "group": escape(_group(found, row.group, lang)),
            "clock": f"{row.clock} ({row.department})" if row.clock else "",
            "counted": "✓" if row.counted else "✗",
            "waited": f"{row.waited_hours:.1f}h" if row.waited_hours is not None else "—",
            "bdays": str(row.business_days) if row.business_days is not None else "—",
        }
        table.add_row(*(cells[c] for c in columns))
    cli.out.print(table)


PERIOD_HELP = (
    "2026-Q3, 2026-10, 2026-H1, 2026, FROM..TO (days, both included), or FY2026-Q2 when the pact sets its "
    "fiscal year; in the pact's time zone."
)
# --period of a report that defaults to the last whole period of the pact's review cycle.
CyclePeriod = Annotated[
    str | None,
    typer.Option(
        "--period",
        help=PERIOD_HELP + " Default: the last whole period of the pact's review cycle.",
        show_default=False,
    ),
]


# --- the command ---------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    @app.command("kpi")
    def kpi_command(
        ctx: typer.Context,
        period: CyclePeriod = None,
        view: Annotated[
            str,
            typer.Option(
                "--view",
                help="cohort: the leads whose first MQL falls in the period, followed to now; "
                "period: what happened in it.",
            ),
        ] = View.COHORT.value,
        by: Annotated[
            str | None,
            typer.Option("--by", help="Also per source, campaign, segment, owner, team or pact_version."),
        ] = None,
        output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = Format.TABLE.value,
        leads: Annotated[
            str | None, typer.Option("--leads", help="List the leads behind one KPI (e.g. mql_to_sql_rate).")
        ] = None,
        now: Annotated[str | None, typer.Option("--now", help="As of this instant (ISO with offset).")] = None,
    ) -> None:
        """The shared KPIs of a period: actual, target, verdict, previous period and owner; the funnel."""
        cli = _cli()
        context = cli._ctx(ctx)
        lang = context.settings.lang
        try:
            chosen_view = choose(View, view, "view")
            chosen_by = choose(GroupBy, by, "group-by field") if by is not None else None
            chosen_format = choose(Format, output, "format")
            wanted = choose(Kpi, leads, "KPI") if leads is not None else None
        except DomainError as exc:
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        at = cli.now_option(ctx, now)
        engine = context.app.engine
        try:
            found = report(engine, at, period, chosen_view, chosen_by)
        except DomainError as exc:  # an unknown period: bad input
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        if wanted is not None:
            _print_leads(found, wanted, leads_behind(engine, found, wanted), chosen_format, lang)
            return
        if chosen_format is Format.JSON:
            cli._print_json(_report_json(found))
        elif chosen_format is Format.CSV:
            _print_csv(found)
        else:
            _print_table(found, lang)
