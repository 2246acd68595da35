"""`leadpact accountability`: per department of the pact, what it answers for in a period and why a KPI was missed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from leadpact.cli.kpi import KPI_NAMES, CyclePeriod, change_text, department_name, local_time, reason_label, value_text
from leadpact.domain.accountability import (
    CLOCKED,
    Breaches,
    Charged,
    DepartmentAccount,
    MissedKpi,
    Quality,
    ReasonLine,
    Redefinition,
    Speed,
    Volume,
)
from leadpact.domain.disputes import Charge
from leadpact.domain.errors import DomainError
from leadpact.domain.holding import Held
from leadpact.domain.kpis import Figure, KpiResult, Unit, choose
from leadpact.domain.pact import Kpi, Pact
from leadpact.domain.period import UnknownPeriod
from leadpact.services.accountability import AccountabilityReport, accountability


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


# What a KPI's items are, what going the target's way is called, and what going against it is.
ITEMS: dict[Kpi, dict[str, tuple[str, str, str]]] = {
    Kpi.MQL_COUNT: {"ja": ("MQL", "MQL", ""), "en": ("MQLs", "MQLs", "")},
    Kpi.RE_MQL_COUNT: {"ja": ("再MQL", "再MQL", ""), "en": ("re-MQLs", "re-MQLs", "")},
    Kpi.MQL_TO_SAL_RATE: {
        "ja": ("MQLへの判断", "受入", "受け入れなかった判断"),
        "en": ("decisions on MQLs", "acceptances", "decisions that did not accept"),
    },
    Kpi.MQL_TO_SAL_HOURS: {
        "ja": ("受入", "受入", "目標を超えた待ち"),
        "en": ("acceptances", "acceptances", "waits longer than the target"),
    },
    Kpi.TIME_TO_FIRST_CONTACT_HOURS: {
        "ja": ("初回接触", "初回接触", "目標を超えた待ち"),
        "en": ("first contacts", "first contacts", "waits longer than the target"),
    },
    Kpi.MQL_TO_SQL_RATE: {
        "ja": ("MQL・SALへの判断", "SQL化", "SQLに至らなかった判断"),
        "en": ("decisions on MQLs and SALs", "SQLs", "decisions that did not reach SQL"),
    },
    Kpi.SQL_TO_OPPORTUNITY_RATE: {
        "ja": ("SQLへの判断", "商談化", "商談にならなかった判断"),
        "en": ("decisions on SQLs", "opportunities", "decisions that did not become an opportunity"),
    },
    Kpi.OPPORTUNITY_TO_WON_RATE: {
        "ja": ("決着した商談", "受注", "失注した商談"),
        "en": ("closed opportunities", "wins", "opportunities lost"),
    },
    Kpi.RECYCLE_RATE: {
        "ja": ("営業の対応が終わったリード", "リサイクル", "リサイクル"),
        "en": ("handlings by sales that ended", "recycles", "recycles"),
    },
    Kpi.SQL_WITHOUT_MQL: {"ja": ("MQLを経ないSQL", "MQLを経ないSQL", ""), "en": ("SQLs without an MQL", "SQLs", "")},
    Kpi.SLA_COMPLIANCE: {
        "ja": ("判定済みの時計", "期限内の対応", "期限超過の時計"),
        "en": ("clock runs decided", "clocks met", "late clocks"),
    },
    Kpi.NEGLECTED_LEADS: {"ja": ("放置リード", "放置リード", "放置リード"), "en": ("neglected leads", "leads", "")},
}
STAGES = {
    "ja": {"mql": "MQL", "sal": "SAL", "sql": "SQL", "opportunity": "商談"},
    "en": {"mql": "MQL", "sal": "SAL", "sql": "SQL", "opportunity": "opportunity"},
}
MOVES = {
    "ja": {
        "recycled": "リサイクル",
        "disqualified": "失格",
        "lost": "失注",
        "lead": "リードに戻す",
        "won": "受注",
        "opportunity": "商談",
        None: "ステージ移動なし",
    },
    "en": {
        "recycled": "recycled",
        "disqualified": "disqualified",
        "lost": "lost",
        "lead": "back to lead",
        "won": "won",
        "opportunity": "opportunity",
        None: "no stage move",
    },
}
TEXT: dict[str, dict[str, Any]] = {
    "ja": {
        "title": "責任分担レポート {label}({first}〜{last}、{zone})、{now} 時点",
        "intro": "各部門が責任を負うもの。KPIは期間表示(`leadpact kpi --view period` と同じ数値)、"
        "前期 {previous} と比較。目標は合意書 v{active}",
        "no_leads": "{label} にはリードがありません(すべて0件)。",
        "section": "■ {name}",
        "kpis": "責任KPI",
        "no_kpis": "この部門が責任を負うKPIはありません。",
        "kpi": "KPI",
        "value": "実績",
        "basis": "内訳",
        "target": "目標",
        "verdict": "判定",
        "previous": "前期",
        "met": "✓ 達成",
        "missed": "✗ 未達",
        "none": "リードなし",
        "of": "{n}/{d}",
        "breaches": "SLA違反: 期間内に動いた時計 {decided}件のうち {late}件が期限超過({share})、リード {leads}件",
        "no_breaches": "SLA違反: なし(期間内に動いた時計 {decided}件)",
        "split": "  超過した時計の時間: 部門自身の時間 {own}営業日({own_share})"
        "・振り分け遅延 {routing}営業日({routing_share})・業務時間外 {off}日",
        "by_clock": "  時計別: {items}",
        "by_owner": "  担当者別(期限内に対応した時点、または期限の時点の担当者): {items}",
        "late_of": "{name} {late}/{decided}件",
        "nobody": "担当者なし",
        "held": "リード保有: 期間内 {days}営業日、リード {leads}件",
        "held_stages": "  ステージ別: {stages}",
        "held_stage": "{stage} {days}営業日(期間内に終わった滞留 {ended}件、中央値 {median}営業日)",
        "held_spells": "  連続した保有(ステージをまたいで): 期間内に終わった {ended}件(中央値 {ended_median}営業日)・"
        "期末に保有中 {still}件(ここまでの中央値 {still_median}営業日)",
        "no_held": "リード保有: なし",
        "charge": {Charge.LEAD_QUALITY: "リード品質", Charge.SALES_ACCEPTANCE: "営業の受け入れ(異議で取消された却下)"},
        "charged": "計上された却下({charge}): {count}件(うち時計の期限超過の後 {after}件)",
        "no_charged": "計上された却下: なし",
        "reason": "理由",
        "count": "件数",
        "sources": "流入元別",
        "after": "期限超過の後",
        "pending": "異議の審議中で、まだどの部門にも計上されていない却下: {n}件",
        "no_missed": "未達のKPI: なし",
        "missed_title": "未達: {kpi} {value}(目標 {target})",
        "missed_elsewhere": "未達: {kpi}(共同責任。内訳は {owner} の欄)",
        "short_more": "  不足: 目標まであと {k}件の{forward}が必要でした({items} {d}件中)",
        "short_fewer": "  不足: 目標には{forward}が {k}件少ない必要がありました({items} {d}件中)",
        "short_count_more": "  不足: 目標まであと {k}件の{items}が必要でした",
        "short_count_fewer": "  不足: 目標には{items}が {k}件少ない必要がありました",
        "short_hours": "  不足: 中央値 {value} に対し目標 {target}",
        "volume": "  量: 流入元別の{items}(前期 {previous} と比較)",
        "volume_none": "  量: 今期・前期とも{items}はありません",
        "mix": "    変化 {change} = 流入元の構成 {mix} + 流入元内の率 {within}",
        "source": "流入元",
        "now": "今期",
        "change": "増減",
        "unset": "(なし)",
        "quality": "  質: {against}{n}件の内訳",
        "lead_quality": "    リード品質({dept})に計上された却下 {n}件",
        "sales_acceptance": "    営業の受け入れ({dept})に計上された却下(異議で取消) {n}件",
        "pending_line": "    異議の審議中の却下 {n}件",
        "no_rejection": "    却下ではない移動 {n}件: {moves}",
        "speed": "  速度: {against}{n}件のうち {late}件は、この段階の時計の期限超過の後でした{clocks}",
        "speed_shares": "    {against}の割合: 期限超過の後 {late_share}({late}件中)、"
        "期限内 {on_time_share}({on_time}件中)",
        "speed_none": "  速度: この段階の時計が期限を超えた後の{items}はありません",
        "speed_clocked": "  速度: 上記のSLA違反 {late}件(時計別・担当者別)",
        "definition_same": "  定義: 今期・前期とも合意書 {version}(定義の変更なし)",
        "definition_none": "  定義: 今期・前期に有効な合意書はありません",
        "definition": "  定義: 合意書 {versions} が有効。版ごとの数値:",
        "version": "版",
        "changed": "    {old} → {new}({at} 発効):",
        "no_change": "    (差分なし)",
        "hint": "根拠のリード: leadpact kpi --period {label} --view period --leads KPI名 · "
        "リードごとの時計: leadpact sla list",
    },
    "en": {
        "title": "Accountability {label} ({first} – {last}, {zone}), as of {now}",
        "intro": "What each department answers for. KPIs of the period view (the figures of "
        "`leadpact kpi --view period`), compared with {previous}; targets of pact v{active}",
        "no_leads": "no leads in {label} (every count is 0).",
        "section": "■ {name}",
        "kpis": "KPIs it owns",
        "no_kpis": "This department owns no KPI.",
        "kpi": "KPI",
        "value": "actual",
        "basis": "basis",
        "target": "target",
        "verdict": "verdict",
        "previous": "previous",
        "met": "✓ met",
        "missed": "✗ missed",
        "none": "no leads",
        "of": "{n} of {d}",
        "breaches": "SLA breaches: {late} of the {decided} clocks it ran in the period were late ({share}), "
        "on {leads} lead(s)",
        "no_breaches": "SLA breaches: none (of the {decided} clocks it ran in the period)",
        "split": "  time of the late clocks: the department's own {own} bus. days ({own_share}) · "
        "routing delay {routing} bus. days ({routing_share}) · off-hours {off} days",
        "by_clock": "  by clock: {items}",
        "by_owner": "  by rep (who held the lead when the clock was met or fell due): {items}",
        "late_of": "{name} {late} of {decided}",
        "nobody": "no owner",
        "held": "Leads held: {days} bus. days in the period, {leads} lead(s)",
        "held_stages": "  by stage: {stages}",
        "held_stage": "{stage} {days} bus. days ({ended} stays ended in the period, median {median})",
        "held_spells": "  holdings in a row, across stages: {ended} ended in the period "
        "(median {ended_median} bus. days) · {still} still held at its end (median so far {still_median} bus. days)",
        "no_held": "Leads held: none",
        "charge": {
            Charge.LEAD_QUALITY: "lead quality",
            Charge.SALES_ACCEPTANCE: "sales acceptance: rejections overturned on dispute",
        },
        "charged": "Rejections charged to it ({charge}): {count} ({after} after a late clock)",
        "no_charged": "Rejections charged to it: none",
        "reason": "reason",
        "count": "count",
        "sources": "by source",
        "after": "after a late clock",
        "pending": "Rejections disputed and waiting for a manager, charged to nobody yet: {n}",
        "no_missed": "Missed KPIs: none",
        "missed_title": "Missed: {kpi} {value} (target {target})",
        "missed_elsewhere": "Missed: {kpi} (owned jointly; decomposed under {owner})",
        "short_more": "  shortfall: the target needed {k} more {forward} among the {d} {items}",
        "short_fewer": "  shortfall: the target needed {k} fewer {forward} among the {d} {items}",
        "short_count_more": "  shortfall: the target needed {k} more {items}",
        "short_count_fewer": "  shortfall: the target needed {k} fewer {items}",
        "short_hours": "  shortfall: a median of {value} against a target of {target}",
        "volume": "  volume: {items} by source, against {previous}",
        "volume_none": "  volume: no {items} in this period or the one before",
        "mix": "    change {change} = source mix {mix} + within sources {within}",
        "source": "source",
        "now": "now",
        "change": "change",
        "unset": "(none)",
        "quality": "  quality: the {n} {against}, by what they were",
        "lead_quality": "    rejections charged to lead quality ({dept}): {n}",
        "sales_acceptance": "    rejections overturned, charged to sales acceptance ({dept}): {n}",
        "pending_line": "    rejections disputed, waiting for a manager: {n}",
        "no_rejection": "    moves that are no rejection: {n}: {moves}",
        "speed": "  speed: {late} of the {n} {against} came after a late clock of this step{clocks}",
        "speed_shares": "    {against}: {late_share} of the {late} after a late clock, "
        "{on_time_share} of the {on_time} on time",
        "speed_none": "  speed: none of the {items} came after a late clock of this step",
        "speed_clocked": "  speed: the {late} breaches above (by clock and rep)",
        "definition_same": "  definition: pact {version} throughout this period and the one before: no change",
        "definition_none": "  definition: no pact was in force in this period or the one before",
        "definition": "  definition: pact {versions} in force; the figure by version:",
        "version": "version",
        "changed": "    {old} → {new} (in force from {at}):",
        "no_change": "    (no difference)",
        "hint": "The leads behind a figure: leadpact kpi --period {label} --view period --leads KPI · "
        "each lead's clocks: leadpact sla list",
    },
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


# --- words and numbers ----------------------------------------------------------------------------------


def _days(value: float) -> str:
    return f"{value:,.1f}"


def _timedays(value: timedelta) -> str:
    return _days(value / timedelta(days=1))


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def _change(unit: Unit, change: float | None) -> str:
    return change_text(unit, change, missing="—")


def _basis(unit: Unit, figure: Figure, t: dict[str, Any]) -> str:
    if unit is Unit.COUNT:
        return ""
    return str(t["of"]).format(n=f"{figure.numerator:,}", d=f"{figure.denominator:,}")


def _department(pact: Pact, department: str | None, lang: str) -> str:
    return "—" if department is None else department_name(pact, department, lang)


def _reason(found: AccountabilityReport, line: ReasonLine, lang: str) -> str:
    return "—" if line.code is None else reason_label(found.reasons, line.kind, line.code, lang)


def _sources(pairs: Sequence[tuple[str | None, int]], t: dict[str, Any]) -> str:
    return " · ".join(f"{escape(s) if s is not None else t['unset']} {n:,}" for s, n in pairs)


def _version(version: int | None) -> str:
    return f"v{version}" if version is not None else "—"


# --- the table --------------------------------------------------------------------------------------------


def _print_table(found: AccountabilityReport, lang: str) -> None:
    cli, t, account, pact = _cli(), TEXT[lang], found.account, found.pact
    period, zone = account.period, account.period.zone
    cli.out.print(
        "[bold]"
        + escape(
            t["title"].format(
                label=period.label,
                first=period.first.isoformat(),
                last=(period.after - timedelta(days=1)).isoformat(),
                zone=zone,
                now=local_time(account.now, zone),
            )
        )
        + "[/bold]"
    )
    cli.out.print(escape(t["intro"].format(previous=period.previous().label, active=found.version)), soft_wrap=True)
    if account.leads == 0:
        cli.out.print(t["no_leads"].format(label=period.label))
    first_owner = _first_owners(account.departments)
    for section in account.departments:
        cli.out.print()
        cli.out.print(f"[bold]{escape(t['section'].format(name=_department(pact, section.department, lang)))}[/bold]")
        _print_kpis(section, pact, lang)
        _print_breaches(section.breaches, found, lang)
        _print_held(section.held, lang)
        _print_charged(section.charged, found, lang)
        missed_here = [m for m in section.missed if first_owner.get(_key(m.result)) == section.department]
        missed_there = [m for m in section.missed if first_owner.get(_key(m.result)) != section.department]
        if not section.missed:
            cli.out.print(t["no_missed"])
        for missed in missed_here:
            _print_missed(missed, found, lang)
        for missed in missed_there:
            owner = _department(pact, first_owner[_key(missed.result)], lang)
            cli.out.print(escape(t["missed_elsewhere"].format(kpi=KPI_NAMES[missed.result.kpi][lang], owner=owner)))
    if account.pending:
        cli.out.print()
        cli.out.print(t["pending"].format(n=f"{account.pending:,}"))
    cli.out.print()
    cli.out.print(escape(t["hint"].format(label=period.label)), soft_wrap=True)


def _key(result: KpiResult) -> tuple[Kpi, str | None]:
    return result.kpi, result.department


def _first_owners(sections: Sequence[DepartmentAccount]) -> dict[tuple[Kpi, str | None], str]:
    """A jointly owned missed KPI is decomposed once, in the first of its owners' sections."""
    found: dict[tuple[Kpi, str | None], str] = {}
    for section in sections:
        for missed in section.missed:
            found.setdefault(_key(missed.result), section.department)
    return found


def _print_kpis(section: DepartmentAccount, pact: Pact, lang: str) -> None:
    cli, t = _cli(), TEXT[lang]
    if not section.kpis:
        cli.out.print(t["no_kpis"])
        return
    table = Table(title=t["kpis"], title_justify="left")
    for column in ("kpi", "value", "basis", "target", "verdict", "previous"):
        table.add_column(t[column], justify="right" if column in ("value", "target", "previous") else "left")
    for r in section.kpis:
        unit = r.definition.unit
        previous = value_text(unit, r.previous.value, t) if r.previous.value is not None else "—"
        if r.change is not None:
            previous += f" ({_change(unit, r.change)})"
        verdict = "" if r.met is None else (f"[green]{t['met']}[/]" if r.met else f"[red]{t['missed']}[/]")
        table.add_row(
            escape(KPI_NAMES[r.kpi][lang]),  # a per-department row: the section names the department
            value_text(unit, r.value, t),
            _basis(unit, r.figure, t),
            value_text(unit, r.target.value, t) if r.target is not None else "",
            verdict,
            previous,
        )
    cli.out.print(table)


def _clock(found: AccountabilityReport, clock: str, lang: str) -> str:
    """A clock by its label in Japanese (the pact's labels are written for its people), by its id in English,
    as `leadpact kpi` names them."""
    return found.clocks.get(clock, clock) if lang == "ja" else clock


def _print_breaches(b: Breaches, found: AccountabilityReport, lang: str) -> None:
    cli, t = _cli(), TEXT[lang]
    if not b.late:
        cli.out.print(t["no_breaches"].format(decided=f"{b.decided:,}"))
        return
    cli.out.print(
        t["breaches"].format(
            late=f"{b.late:,}", decided=f"{b.decided:,}", share=_share(b.late, b.decided), leads=f"{b.leads:,}"
        )
    )
    working = b.split.own + b.split.routing
    cli.out.print(
        t["split"].format(
            own=_timedays(b.split.own),
            own_share=_share(b.split.own / timedelta(seconds=1), working / timedelta(seconds=1)),
            routing=_timedays(b.split.routing),
            routing_share=_share(b.split.routing / timedelta(seconds=1), working / timedelta(seconds=1)),
            off=_timedays(b.split.off_hours),
        )
    )
    clocks = [
        t["late_of"].format(name=escape(_clock(found, c.clock, lang)), late=f"{c.late:,}", decided=f"{c.decided:,}")
        for c in b.clocks
        if c.late
    ]
    cli.out.print(t["by_clock"].format(items=" · ".join(clocks)), soft_wrap=True)
    owners = [
        t["late_of"].format(
            name=escape(o.owner) if o.owner is not None else t["nobody"], late=f"{o.late:,}", decided=f"{o.decided:,}"
        )
        for o in b.owners
        if o.late
    ]
    cli.out.print(t["by_owner"].format(items=" · ".join(owners)), soft_wrap=True)


def _print_held(held: Held, lang: str) -> None:
    cli, t = _cli(), TEXT[lang]
    if not held.leads:
        cli.out.print(t["no_held"])
        return
    stages = " · ".join(
        t["held_stage"].format(
            stage=STAGES[lang][s.stage.value],
            days=_days(s.business_days),
            ended=f"{s.ended:,}",
            median=_days(s.ended_median) if s.ended_median is not None else "—",
        )
        for s in held.stages
    )
    cli.out.print(t["held"].format(days=_days(held.business_days), leads=f"{held.leads:,}"))
    cli.out.print(t["held_stages"].format(stages=stages))
    cli.out.print(
        t["held_spells"].format(
            ended=f"{held.ended:,}",
            ended_median=_days(held.ended_median) if held.ended_median is not None else "—",
            still=f"{held.still:,}",
            still_median=_days(held.still_median) if held.still_median is not None else "—",
        )
    )


def _reasons_table(lines: Sequence[ReasonLine], found: AccountabilityReport, lang: str) -> Table:
    t = TEXT[lang]
    table = Table(box=None, padding=(0, 1), show_header=True, pad_edge=False)
    table.add_column(f"    {t['reason']}")
    table.add_column(t["count"], justify="right")
    table.add_column(t["sources"])
    table.add_column(t["after"], justify="right")
    for line in lines:
        table.add_row(
            "    " + escape(_reason(found, line, lang)),
            f"{line.count:,}",
            _sources(line.sources, t),
            f"{line.after_late_clock:,}",
        )
    return table


def _print_charged(charges: Sequence[Charged], found: AccountabilityReport, lang: str) -> None:
    cli, t = _cli(), TEXT[lang]
    if not charges:
        cli.out.print(t["no_charged"])
        return
    for c in charges:
        cli.out.print(
            t["charged"].format(charge=t["charge"][c.charge], count=f"{c.count:,}", after=f"{c.after_late_clock:,}")
        )
        cli.out.print(_reasons_table(c.reasons, found, lang))


def _print_missed(missed: MissedKpi, found: AccountabilityReport, lang: str) -> None:
    cli, t, r = _cli(), TEXT[lang], missed.result
    unit = r.definition.unit
    items, forward, against = ITEMS[r.kpi][lang]
    target = value_text(unit, r.target.value, t) if r.target is not None else "—"
    value = value_text(unit, r.value, t)
    if unit is not Unit.COUNT:
        value += f" ({_basis(unit, r.figure, t)})"
    cli.out.print(
        f"[bold red]{escape(t['missed_title'].format(kpi=KPI_NAMES[r.kpi][lang], value=value, target=target))}[/]"
    )
    lower = r.definition.better == "lower"
    if unit is Unit.HOURS:
        cli.out.print(t["short_hours"].format(value=value_text(unit, r.value, t), target=target))
    elif missed.short_by is not None:
        key = ("short_count_" if unit is Unit.COUNT else "short_") + ("fewer" if lower else "more")
        cli.out.print(
            t[key].format(k=f"{missed.short_by:,}", forward=forward, items=items, d=f"{r.figure.denominator:,}")
        )
    _print_volume(missed.volume, items, found, lang)
    if missed.quality is not None:
        _print_quality(missed.quality, against, found, lang)
    if missed.speed is not None:
        _print_speed(missed.speed, items, against, found, lang)
    if missed.breaches is not None and r.kpi in CLOCKED:
        cli.out.print(t["speed_clocked"].format(late=f"{missed.breaches.late:,}"))
    _print_definition(missed.redefinition, found, r, lang)


def _print_volume(v: Volume, items: str, found: AccountabilityReport, lang: str) -> None:
    cli, t = _cli(), TEXT[lang]
    if not v.lines:
        cli.out.print(t["volume_none"].format(items=items))
        return
    cli.out.print(t["volume"].format(items=items, previous=found.account.period.previous().label))
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column(f"    {t['source']}")
    table.add_column(t["now"], justify="right")
    table.add_column(t["previous"], justify="right")
    table.add_column(t["change"], justify="right")
    for line in v.lines:
        if v.unit is Unit.COUNT:
            now, before = f"{line.now.numerator:,}", f"{line.before.numerator:,}"
            change = f"{line.now.numerator - line.before.numerator:+,}"
        else:
            now = _figure(v.unit, line.now, t)
            before = _figure(v.unit, line.before, t)
            change = _change(v.unit, _difference(line.now.value, line.before.value))
        table.add_row("    " + (escape(line.group) if line.group is not None else t["unset"]), now, before, change)
    cli.out.print(table)
    if v.mix is not None and v.within is not None and v.change is not None:
        cli.out.print(
            t["mix"].format(
                change=_change(v.unit, v.change), mix=_change(v.unit, v.mix), within=_change(v.unit, v.within)
            )
        )


def _figure(unit: Unit, figure: Figure, t: dict[str, Any]) -> str:
    if not figure.denominator:
        return "—"
    if unit is Unit.COUNT:
        return value_text(unit, figure.value, t)
    return f"{value_text(unit, figure.value, t)} ({_basis(unit, figure, t)})"


def _difference(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _print_quality(q: Quality, against: str, found: AccountabilityReport, lang: str) -> None:
    cli, t, pact = _cli(), TEXT[lang], found.pact
    cli.out.print(t["quality"].format(n=f"{q.against:,}", against=against))
    for line in q.lines:
        dept = _department(pact, line.charged_to, lang)
        if line.fault.value == "no_rejection":
            moves = " · ".join(f"{MOVES[lang].get(s.value if s else None, s)} {n:,}" for s, n in line.moves)
            cli.out.print(t["no_rejection"].format(n=f"{line.count:,}", moves=moves))
            continue
        key = {"lead_quality": "lead_quality", "sales_acceptance": "sales_acceptance", "pending": "pending_line"}
        cli.out.print(t[key[line.fault.value]].format(n=f"{line.count:,}", dept=dept))
        cli.out.print(_reasons_table(line.reasons, found, lang))


def _print_speed(s: Speed, items: str, against: str, found: AccountabilityReport, lang: str) -> None:
    cli, t = _cli(), TEXT[lang]
    if not s.late:
        cli.out.print(t["speed_none"].format(items=items))
        return
    clocks = ""
    if s.by_clock:
        named = " · ".join(f"{escape(_clock(found, c, lang))} {n:,}" for c, n in s.by_clock)
        clocks = f"({named})" if lang == "ja" else f" ({named})"
    cli.out.print(
        t["speed"].format(late=f"{s.against_late:,}", n=f"{s.against:,}", against=against, clocks=clocks),
        soft_wrap=True,
    )
    on_time = s.items - s.late
    cli.out.print(
        t["speed_shares"].format(
            against=against,
            late_share=f"{s.against_share_late:.1%}" if s.against_share_late is not None else "—",
            late=f"{s.late:,}",
            on_time_share=f"{s.against_share_on_time:.1%}" if s.against_share_on_time is not None else "—",
            on_time=f"{on_time:,}",
        )
    )


def _print_definition(d: Redefinition | None, found: AccountabilityReport, result: KpiResult, lang: str) -> None:
    cli, t, account = _cli(), TEXT[lang], found.account
    if d is None:
        if account.versions:
            cli.out.print(t["definition_same"].format(version=_version(account.versions[0])))
        else:
            cli.out.print(t["definition_none"])
        return
    versions = ", ".join(_version(v) for v in account.versions)
    cli.out.print(t["definition"].format(versions=versions))
    unit = result.definition.unit
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column(f"    {t['version']}")
    table.add_column(t["now"], justify="right")
    table.add_column(t["previous"], justify="right")
    for line in d.versions:
        table.add_row(f"    {_version(line.version)}", _figure(unit, line.now, t), _figure(unit, line.before, t))
    cli.out.print(table)
    zone = account.period.zone
    for change in d.changes:
        at = local_time(change.activated_at, zone) if change.activated_at else "—"
        cli.out.print(t["changed"].format(old=_version(change.old), new=_version(change.new), at=at))
        for text in change.lines or (t["no_change"].strip(),):
            cli.out.print(f"      {escape(text)}", soft_wrap=True)


# --- json -------------------------------------------------------------------------------------------------


def _figure_json(figure: Figure) -> dict[str, Any]:
    return {"value": figure.value, "numerator": figure.numerator, "denominator": figure.denominator}


def _kpi_json(r: KpiResult) -> dict[str, Any]:
    return {
        "kpi": r.kpi.value,
        "department": r.department,
        "unit": r.definition.unit.value,
        **_figure_json(r.figure),
        "target": r.target.value if r.target is not None else None,
        "met": r.met,
        "previous": _figure_json(r.previous),
        "change": r.change,
        "owners": list(r.owners),
    }


def _split_json(split: Any) -> dict[str, float]:
    hour = timedelta(hours=1)
    return {
        "own_hours": split.own / hour,
        "routing_hours": split.routing / hour,
        "off_hours_hours": split.off_hours / hour,
    }


def _breaches_json(b: Breaches) -> dict[str, Any]:
    return {
        "decided": b.decided,
        "late": b.late,
        "leads": b.leads,
        "split": _split_json(b.split),
        "by_owner": [
            {"owner": o.owner, "late": o.late, "decided": o.decided, "own_hours": o.own / timedelta(hours=1)}
            for o in b.owners
        ],
        "by_clock": [{"clock": c.clock, "late": c.late, "decided": c.decided} for c in b.clocks],
        "items": [
            {
                "lead_id": i.run.lead_id,
                "clock": i.run.clock,
                "owner": i.run.owner,
                "started_at": i.run.started_at.isoformat(),
                "due_at": i.run.due_at.isoformat(),
                "stopped_at": i.run.stopped_at.isoformat() if i.run.stopped_at else None,
                **_split_json(i.split),
            }
            for i in b.items
        ],
    }


def _held_json(h: Held) -> dict[str, Any]:
    return {
        "leads": h.leads,
        "business_days": h.business_days,
        "stages": [
            {
                "stage": s.stage.value,
                "business_days": s.business_days,
                "ended": s.ended,
                "ended_median_business_days": s.ended_median,
            }
            for s in h.stages
        ],
        "ended": h.ended,
        "ended_median_business_days": h.ended_median,
        "still_held": h.still,
        "still_held_median_business_days": h.still_median,
        "still_held_leads": list(h.still_leads),
    }


def _reason_json(line: ReasonLine) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "reason": line.code,
        "count": line.count,
        "sources": [{"source": s, "count": n} for s, n in line.sources],
        "after_late_clock": line.after_late_clock,
        "entries": list(line.entries),
    }


def _missed_json(m: MissedKpi) -> dict[str, Any]:
    v = m.volume
    out: dict[str, Any] = {
        **_kpi_json(m.result),
        "short_by": m.short_by,
        "volume": {
            "change": v.change,
            "mix": v.mix,
            "within": v.within,
            "sources": [
                {"source": line.group, "now": _figure_json(line.now), "previous": _figure_json(line.before)}
                for line in v.lines
            ],
        },
        "quality": None,
        "speed": None,
        "definition": None,
    }
    if m.quality is not None:
        out["quality"] = {
            "against": m.quality.against,
            "lines": [
                {
                    "fault": line.fault.value,
                    "charged_to": line.charged_to,
                    "count": line.count,
                    "reasons": [_reason_json(r) for r in line.reasons],
                    "moves": [{"to": s.value if s else None, "count": n} for s, n in line.moves],
                    "leads": list(line.leads),
                }
                for line in m.quality.lines
            ],
        }
    if m.speed is not None:
        s = m.speed
        out["speed"] = {
            "clocks": list(s.clocks),
            "items": s.items,
            "after_late_clock": s.late,
            "against": s.against,
            "against_after_late_clock": s.against_late,
            "by_clock": [{"clock": c, "count": n} for c, n in s.by_clock],
            "leads": list(s.leads),
        }
    elif m.breaches is not None:
        out["speed"] = {"breaches": m.breaches.late, "decided": m.breaches.decided}
    if m.redefinition is not None:
        out["definition"] = {
            "versions": [
                {"version": line.version, "now": _figure_json(line.now), "previous": _figure_json(line.before)}
                for line in m.redefinition.versions
            ],
            "changes": [
                {
                    "from": c.old,
                    "to": c.new,
                    "activated_at": c.activated_at.isoformat() if c.activated_at else None,
                    "lines": list(c.lines),
                }
                for c in m.redefinition.changes
            ],
        }
    return out


def report_json(found: AccountabilityReport) -> dict[str, Any]:
    account, period = found.account, found.account.period
    previous = period.previous()
    return {
        "period": {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat()},
        "previous_period": {
            "label": previous.label,
            "start": previous.start.isoformat(),
            "end": previous.end.isoformat(),
        },
        "timezone": period.zone,
        "view": "period",
        "now": account.now.isoformat(),
        "leads": account.leads,
        "pact_version": found.version,
        "pact_versions_in_force": list(account.versions),
        "rejections": account.rejections,
        "pending_disputes": account.pending,
        "departments": [
            {
                "department": d.department,
                "kpis": [_kpi_json(r) for r in d.kpis],
                "breaches": _breaches_json(d.breaches),
                "held": _held_json(d.held),
                "rejections_charged": [
                    {
                        "charge": c.charge.value,
                        "count": c.count,
                        "after_late_clock": c.after_late_clock,
                        "reasons": [_reason_json(r) for r in c.reasons],
                    }
                    for c in d.charged
                ],
                "missed": [_missed_json(m) for m in d.missed],
            }
            for d in account.departments
        ],
    }


# --- the command ------------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    @app.command("accountability")
    def accountability_command(
        ctx: typer.Context,
        period: CyclePeriod = None,
        output: Annotated[str, typer.Option("--format", help="table or json.")] = Format.TABLE.value,
        now: Annotated[str | None, typer.Option("--now", help="As of this instant (ISO with offset).")] = None,
    ) -> None:
        """Per department: the KPIs it owns, its SLA breaches, how long it held leads, the rejections charged to it,
        and each missed KPI decomposed into volume, quality, speed and definition changes."""
        cli = _cli()
        context = cli._ctx(ctx)
        try:
            chosen = choose(Format, output, "format")
        except DomainError as exc:
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        at = cli.now_option(ctx, now)
        try:
            found = accountability(context.app.engine, at, period)
        except UnknownPeriod as exc:  # bad input: exit 2
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except DomainError as exc:  # no pact signed yet: refused
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
        if chosen is Format.JSON:
            cli._print_json(report_json(found))
        else:
            _print_table(found, context.settings.lang)
