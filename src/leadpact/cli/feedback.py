"""`leadpact feedback`: the reasons sales gave in a period, by source, campaign or content."""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from leadpact.cli.kpi import PERIOD_HELP, reason_label
from leadpact.domain.disputes import RejectionStatus
from leadpact.domain.errors import DomainError
from leadpact.domain.feedback import GroupLine, ReasonLine
from leadpact.domain.period import UnknownPeriod
from leadpact.services.feedback import FeedbackReport, feedback_report, parse_grouping

FORMATS = ("table", "json", "csv")

TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "title": "営業からのフィードバック {label} ({first}〜{last}, {zone}): 却下 {n} 件、{by}別",
        "empty": "{label} ({first}〜{last}, {zone}) の却下はありません",
        "none": "(なし)",
        "rejections": "却下",
        "share": "構成比",
        "reason": "理由",
        "count": "件数",
        "of_group": "グループ内",
        "disputes": "異議",
        RejectionStatus.PENDING: "審議中",
        RejectionStatus.UPHELD: "支持",
        RejectionStatus.OVERTURNED: "取消",
        RejectionStatus.UNDISPUTED: "異議なし",
        "recycle": "リサイクル",
        "disqualify": "失格",
        "summary": "異議: 審議中 {pending} 件、支持 {upheld} 件 (リード品質)、"
        "取消 {overturned} 件 (営業の受け入れ)、異議なし {undisputed} 件",
        "notes": "営業のメモ (新しい順)",
    },
    "en": {
        "title": "Feedback from sales, {label} ({first} – {last}, {zone}): {n} rejection(s) by {by}",
        "empty": "no rejections in {label} ({first} – {last}, {zone})",
        "none": "(none)",
        "rejections": "rejections",
        "share": "share",
        "reason": "reason",
        "count": "count",
        "of_group": "of group",
        "disputes": "disputes",
        RejectionStatus.PENDING: "pending",
        RejectionStatus.UPHELD: "upheld",
        RejectionStatus.OVERTURNED: "overturned",
        RejectionStatus.UNDISPUTED: "undisputed",
        "recycle": "recycled",
        "disqualify": "disqualified",
        "summary": "disputes: {pending} pending, {upheld} upheld (lead quality), {overturned} overturned "
        "(sales acceptance), {undisputed} undisputed",
        "notes": "Notes from sales (newest first)",
    },
}
GROUP_NAMES = {
    "ja": {"source": "流入元", "campaign": "キャンペーン", "content": "コンテンツ"},
    "en": {"source": "source", "campaign": "campaign", "content": "content"},
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _label(report: FeedbackReport, line: ReasonLine, lang: str) -> str:
    """The reason as the pact labels it, in `lang`, with its code."""
    return "-" if line.code is None else reason_label(report.labels, line.kind, line.code, lang)


def _disputes(statuses: Mapping[RejectionStatus, int], lang: str) -> str:
    shown = [
        f"{TEXT[lang][s]} {statuses[s]}"
        for s in (RejectionStatus.PENDING, RejectionStatus.UPHELD, RejectionStatus.OVERTURNED)
        if statuses.get(s)
    ]
    return " · ".join(shown) or "-"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _period(report: FeedbackReport) -> dict[str, str]:
    p = report.period
    return {
        "label": p.label,
        "first": p.first.isoformat(),
        "last": (p.after - timedelta(days=1)).isoformat(),
        "zone": p.zone,
    }


def _print_table(report: FeedbackReport, lang: str) -> None:
    cli, text = _cli(), TEXT[lang]
    period = _period(report)
    if not report.total:
        cli.out.print(escape(text["empty"].format(**period)))
        return
    by = GROUP_NAMES[lang][report.by.value]
    table = Table(title=escape(text["title"].format(**period, n=report.total, by=by)))
    for column, right in (
        (by, False),
        (text["rejections"], True),
        (text["share"], True),
        (text["reason"], False),
        (text["count"], True),
        (text["of_group"], True),
        (text["disputes"], False),
    ):
        table.add_column(column, justify="right" if right else "left")
    for group in report.groups:
        for i, line in enumerate(group.reasons):
            first = i == 0
            table.add_row(
                escape(group.key or text["none"]) if first else "",
                str(group.count) if first else "",
                _percent(group.share) if first else "",
                f"{escape(_label(report, line, lang))} [dim]{text[line.kind]}[/dim]",
                str(line.count),
                _percent(line.share),
                escape(_disputes(line.statuses, lang)),
            )
        table.add_section()
    cli.out.print(table)
    cli.out.print(escape(text["summary"].format(**{s.value: report.statuses[s] for s in RejectionStatus})))
    notes = [(group, line) for group in report.groups for line in group.reasons if line.examples]
    if not notes:
        return
    cli.out.print(f"\n[bold]{escape(text['notes'])}[/bold]")
    zone = ZoneInfo(report.period.zone)
    for group, line in notes:
        cli.out.print(escape(f"{group.key or text['none']} · {_label(report, line, lang)}"))
        for example in line.examples:
            cli.out.print(
                "  "
                + escape(f"「{example.note}」 — {example.actor}, {example.at.astimezone(zone):%Y-%m-%d}, ")
                + escape(f"lead {example.lead_id} (#{example.seq})")
            )


def _reason_json(report: FeedbackReport, line: ReasonLine) -> dict[str, Any]:
    code = report.labels.get((line.kind, line.code)) if line.code else None
    return {
        "kind": line.kind,
        "code": line.code,
        "label": code.label if code else None,
        "label_en": code.label_en if code else None,
        "count": line.count,
        "share": line.share,
        "disputes": {s.value: n for s, n in line.statuses.items()},
        "examples": [
            {"lead_id": e.lead_id, "entry": e.seq, "at": e.at.isoformat(), "by": e.actor, "note": e.note}
            for e in line.examples
        ],
    }


def _group_json(report: FeedbackReport, group: GroupLine) -> dict[str, Any]:
    return {
        report.by.value: group.key,
        "rejections": group.count,
        "share": group.share,
        "recycled": group.recycled,
        "disqualified": group.disqualified,
        "disputes": {s.value: n for s, n in group.statuses.items()},
        "reasons": [_reason_json(report, line) for line in group.reasons],
    }


def report_json(report: FeedbackReport) -> dict[str, Any]:
    p = report.period
    return {
        "period": {**_period(report), "start": p.start.isoformat(), "end": p.end.isoformat()},
        "by": report.by.value,
        "rejections": report.total,
        "disputes": {s.value: n for s, n in report.statuses.items()},
        "groups": [_group_json(report, group) for group in report.groups],
    }


CSV_COLUMNS = (
    "period",
    "by",
    "group",
    "group_rejections",
    "group_share",
    "kind",
    "reason",
    "label",
    "count",
    "share_of_group",
    "undisputed",
    "pending",
    "upheld",
    "overturned",
    "newest_note",
)


def _print_csv(report: FeedbackReport, lang: str) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in report.groups:
        for line in group.reasons:
            code = report.labels.get((line.kind, line.code)) if line.code else None
            label = (code.label if lang == "ja" else code.label_en or code.label) if code else ""
            writer.writerow(
                (
                    report.period.label,
                    report.by.value,
                    group.key or "",
                    group.count,
                    f"{group.share:.4f}",
                    line.kind,
                    line.code or "",
                    label,
                    line.count,
                    f"{line.share:.4f}",
                    line.statuses[RejectionStatus.UNDISPUTED],
                    line.statuses[RejectionStatus.PENDING],
                    line.statuses[RejectionStatus.UPHELD],
                    line.statuses[RejectionStatus.OVERTURNED],
                    line.examples[0].note if line.examples else "",
                )
            )


def register(app: typer.Typer) -> None:
    @app.command("feedback")
    def feedback_command(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help=PERIOD_HELP)],
        by: Annotated[str, typer.Option("--by", help="Group by source, campaign or content.")] = "source",
        output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    ) -> None:
        """The reasons sales gave for its rejections in a period, by source, campaign or content, with disputes."""
        cli = _cli()
        context = cli._ctx(ctx)
        if output not in FORMATS:
            cli.err.print(f"[red]error:[/red] unknown format {output!r}; use one of: {', '.join(FORMATS)}")
            raise typer.Exit(2)
        try:
            grouping = parse_grouping(by)
        except DomainError as exc:
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        try:
            report = feedback_report(context.app.store(), period, grouping)
        except UnknownPeriod as exc:  # invalid input, like a bad --by: exit 2
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except DomainError as exc:
            cli.err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
        lang = context.settings.lang
        if output == "json":
            cli._print_json(report_json(report))
        elif output == "csv":
            _print_csv(report, lang)
        else:
            _print_table(report, lang)
