"""`leadpact demo`: build the demo half year on an empty store and show what the system made of it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from leadpact.config import DEFAULT_DATABASE_URL
from leadpact.domain.ledger import LedgerEntry
from leadpact.services.demo import DEFAULT_LEADS, DEFAULT_SEED, EXAMPLE_PACT, JST, DemoSummary, ExplainedLead, run_demo
from leadpact.services.routing import route
from leadpact.services.sla import sweep

# Headings only: the data (company names, rule labels, reason labels) is shown as the pact and feeds wrote it.
TEXT = {
    "ja": {
        "stages": "ステージ別リード数",
        "stage": "ステージ",
        "leads": "リード数",
        "share": "構成比",
        "sources": "流入元別MQL",
        "source": "流入元",
        "mql_rate": "MQL率",
        "total": "合計",
        "examples": "3件のリードの説明",
        "mql": "MQLになったリード",
        "recycled": "リサイクルされたリード",
        "won": "受注したリード",
        "rule": "ルール",
        "kind": "種別",
        "matches": "件数",
        "points": "点",
        "when": "日時(JST)",
        "move": "遷移",
        "by": "実行者",
        "department": "部門",
        "pact": "合意書",
        "explore": "さらに見るには",
    },
    "en": {
        "stages": "Leads by stage",
        "stage": "stage",
        "leads": "leads",
        "share": "share",
        "sources": "MQLs by source",
        "source": "source",
        "mql_rate": "MQL rate",
        "total": "total",
        "examples": "Three leads explained",
        "mql": "A lead that became an MQL",
        "recycled": "A lead sales recycled",
        "won": "A lead that was won",
        "rule": "rule",
        "kind": "kind",
        "matches": "matches",
        "points": "points",
        "when": "when (JST)",
        "move": "move",
        "by": "by",
        "department": "department",
        "pact": "pact",
        "explore": "Explore further",
    },
}
STAGE_JA = {
    "lead": "リード",
    "mql": "MQL",
    "sal": "SAL(IS受入)",
    "sql": "SQL",
    "opportunity": "商談",
    "won": "受注",
    "lost": "失注",
    "recycled": "リサイクル",
    "disqualified": "失格",
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _jst(entry: LedgerEntry) -> str:
    return f"{entry.at.astimezone(JST):%Y-%m-%d %H:%M}"


def _entry_json(seq: int, entry: LedgerEntry) -> dict[str, Any]:
    return {
        "seq": seq,
        "kind": entry.kind.value,
        "at": entry.at.astimezone(JST).isoformat(),
        "from": entry.from_stage,
        "to": entry.to_stage,
        "actor": entry.actor,
        "department": entry.department,
        "pact_version": entry.pact_version,
        "reason": entry.reason,
        "note": entry.note,
        "evidence": dict(entry.evidence),
    }


def summary_json(summary: DemoSummary) -> dict[str, Any]:
    return {
        "seed": summary.seed,
        "leads": summary.leads,
        "activities": summary.activities,
        "events": summary.events,
        "rejected": [{"line": r.line, "id": r.event_id, "reason": r.reason} for r in summary.rejected],
        "pact": {
            "version": summary.pact_version,
            "name": summary.pact_name,
            "signed_by": [
                {"user": u, "department": d, "at": at.astimezone(JST).isoformat()} for u, d, at in summary.signatures
            ],
        },
        "processed_at": summary.processed_at.isoformat(),
        "stages": summary.stage_counts,
        "sources": [
            {"source": s.source, "leads": s.leads, "mqls": s.mqls, "mql_rate": round(s.rate, 4)}
            for s in summary.sources
        ],
        "examples": [
            {
                "role": e.role,
                "lead_id": e.lead_id,
                "email": e.email,
                "company": e.company,
                "source": e.source,
                "campaign": e.campaign,
                "stage": e.stage,
                "reason_label": e.reason_label,
                "entry": _entry_json(e.focus_seq, e.focus),
                "path": [_entry_json(seq, entry) for seq, entry in e.path],
            }
            for e in summary.examples
        ],
        "ledger": {"entries": summary.ledger_entries, "intact": summary.ledger_intact},
        "seconds": {k: round(v, 2) for k, v in summary.seconds.items()},
    }


def _stages(summary: DemoSummary, t: dict[str, str], lang: str) -> Table:
    table = Table(title=t["stages"])
    table.add_column(t["stage"])
    table.add_column(t["leads"], justify="right")
    table.add_column(t["share"], justify="right")
    total = sum(summary.stage_counts.values()) or 1
    for stage, count in summary.stage_counts.items():
        label = f"{stage} {STAGE_JA[stage]}" if lang == "ja" and STAGE_JA[stage] != stage.upper() else stage
        table.add_row(label, f"{count:,}", f"{count / total:.1%}")
    table.add_row(f"[bold]{t['total']}[/bold]", f"[bold]{total:,}[/bold]", "")
    return table


def _sources(summary: DemoSummary, t: dict[str, str]) -> Table:
    table = Table(title=t["sources"])
    table.add_column(t["source"])
    for column in (t["leads"], "MQL", t["mql_rate"]):
        table.add_column(column, justify="right")
    for row in sorted(summary.sources, key=lambda r: -r.rate):
        table.add_row(row.source, f"{row.leads:,}", f"{row.mqls:,}", f"{row.rate:.1%}")
    leads = sum(r.leads for r in summary.sources)
    mqls = sum(r.mqls for r in summary.sources)
    table.add_row(
        f"[bold]{t['total']}[/bold]", f"{leads:,}", f"[bold]{mqls:,}[/bold]", f"{mqls / leads:.1%}" if leads else "—"
    )
    return table


def _path(example: ExplainedLead, t: dict[str, str]) -> Table:
    table = Table(box=None, padding=(0, 1), show_header=True)
    for column in (t["when"], t["move"], t["by"], t["department"], t["pact"]):
        table.add_column(column)
    for seq, entry in example.path:
        move = f"{entry.from_stage} → {entry.to_stage}"
        if entry.reason:
            move += f" ({entry.reason})"
        style = "bold" if seq == example.focus_seq else ""
        table.add_row(
            _jst(entry),
            escape(move),
            escape(entry.actor),
            entry.department,
            f"v{entry.pact_version}" if entry.pact_version else "",
            style=style,
        )
    return table


def _score(entry: LedgerEntry, t: dict[str, str]) -> Table | None:
    score = entry.evidence.get("score")
    if not isinstance(score, dict):
        return None
    table = Table(box=None, padding=(0, 1))
    table.add_column(t["rule"])
    table.add_column(t["kind"])
    table.add_column(t["matches"], justify="right")
    table.add_column(t["points"], justify="right")
    for rule in score.get("rules", []):
        capped = " (cap)" if rule.get("capped") else ""
        table.add_row(
            escape(f"{rule.get('label')} [{rule.get('rule')}]"),
            str(rule.get("kind")),
            str(rule.get("matches")),
            f"{float(rule.get('points', 0)):+.1f}{capped}",
        )
    table.add_row(f"[bold]{t['total']}[/bold]", "", "", f"[bold]{float(score.get('total', 0)):.1f}[/bold]")
    return table


def _print_example(out: Any, n: int, example: ExplainedLead, t: dict[str, str]) -> None:
    entry = example.focus
    out.print(
        f"\n[bold]{n}. {t[example.role]}[/bold]: {escape(example.email)} — {escape(example.company)}"
        f" (source {example.source}, {escape(example.campaign)}); now [bold]{example.stage}[/bold]"
    )
    if example.role == "mql":
        trigger = entry.evidence.get("trigger")
        what = trigger.get("activity") if isinstance(trigger, dict) else None
        out.print(
            f"   lead → mql at {_jst(entry)} JST, made by {escape(entry.actor)} for {entry.department} under pact "
            f"[bold]v{entry.pact_version}[/bold] when a {what or 'new'} activity arrived; the score at that instant:"
        )
        table = _score(entry, t)
        if table is not None:
            out.print(table)
        criteria = entry.evidence.get("criteria")
        for condition in criteria if isinstance(criteria, list) else []:
            mark = "[green]✓[/green]" if condition.get("met") else "[red]✗[/red]"
            out.print(f"   {mark} {escape(str(condition.get('condition')))}")
    elif example.role == "recycled":
        out.print(
            f"   {entry.from_stage} → recycled at {_jst(entry)} JST by {escape(entry.actor)} ({entry.department}), "
            f"reason [bold]{entry.reason}[/bold] {escape(example.reason_label or '')} under pact v{entry.pact_version};"
            " the reason flows back to marketing by source and campaign"
        )
    elif example.role == "won":
        entered = next((e for _, e in example.path if e.to_stage == "mql"), None)
        days = f" {(entry.at - entered.at).days} days after it became an MQL" if entered else ""
        out.print(
            f"   opportunity → won at {_jst(entry)} JST by {escape(entry.actor)} ({entry.department}){days}; "
            "the SQL gate it passed, as recorded in the ledger:"
        )
        gate = next((e for _, e in example.path if e.to_stage == "sql"), None)
        criteria = gate.evidence.get("criteria") if gate else None
        for condition in criteria if isinstance(criteria, list) else []:
            mark = "[green]✓[/green]" if condition.get("met") else "[red]✗[/red]"
            out.print(f"   {mark} {escape(str(condition.get('condition')))}")
    out.print(_path(example, t))


def print_summary(summary: DemoSummary, lang: str, database_url: str) -> None:
    cli = _cli()
    out = cli.out
    t = TEXT.get(lang, TEXT["en"])
    signed = ", ".join(f"{user} ({department})" for user, department, _ in summary.signatures)
    out.print(
        f"[bold]leadpact demo[/bold] — seed {summary.seed}: {summary.leads:,} leads, "
        f"{summary.activities:,} activities, "
        f"{summary.events:,} events applied through ingest "
        f"([{'red' if summary.rejected else 'green'}]{len(summary.rejected)} rejected[/]) "
        f"in {summary.seconds.get('total', 0):.1f} s"
    )
    out.print(
        f"pact [bold]v{summary.pact_version}[/bold] {escape(summary.pact_name)}, signed by {escape(signed)}; "
        f"feeds 2026-04-01 … 2026-09-30, processed {summary.processed_at:%Y-%m-%d %H:%M} JST"
    )
    ledger = "[green]intact[/green]" if summary.ledger_intact else "[red]BROKEN[/red]"
    out.print(f"ledger: {summary.ledger_entries:,} entries, hash chain {ledger}\n")
    out.print(_stages(summary, t, lang))
    out.print(_sources(summary, t))
    out.print(f"\n[bold]{t['examples']}[/bold]")
    for n, example in enumerate(summary.examples, start=1):
        _print_example(out, n, example, t)
    db = "" if database_url == DEFAULT_DATABASE_URL else f" --db {database_url}"
    first = summary.examples[0].email if summary.examples else "<email>"
    out.print(f"\n[bold]{t['explore']}[/bold]")
    for command in (
        f"leadpact{db} lead show {first}",
        f"leadpact{db} score {first} --explain",
        f"leadpact{db} pact show",
        f"leadpact{db} pact history",
        f"leadpact{db} ledger verify",
        f"leadpact{db} kpi --period 2026-Q3",
        f"leadpact{db} kpi --period 2026-Q3 --by owner",
        f"leadpact{db} accountability --period 2026-Q3 --now {SWEEP_AT.isoformat()}",
        f"leadpact{db} feedback --period 2026-Q3 --by source",
        f"leadpact{db} checklist --now {SWEEP_AT.isoformat()}",
    ):
        out.print(f"  {escape(command)}", soft_wrap=True)
    for rejection in summary.rejected[:20]:
        cli.err.print(f"rejected line {rejection.line}: {rejection.event_id}: {rejection.reason}", markup=False)


SWEEP_AT = datetime(2026, 10, 1, 9, 0, tzinfo=JST)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        ctx: typer.Context,
        leads: Annotated[int, typer.Option("--leads", min=1, max=200_000, help="How many leads to generate.")] = (
            DEFAULT_LEADS
        ),
        seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed builds the same data.")] = (
            DEFAULT_SEED
        ),
        pact: Annotated[Path, typer.Option("--pact", help="The pact to propose and sign.")] = EXAMPLE_PACT,
        json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    ) -> None:
        """Build a realistic half year (leads, activities, sales follow-up) on an empty store and explain it."""
        cli = _cli()
        context = cli._ctx(ctx)
        if not pact.is_file():
            cli.err.print(f"[red]error:[/red] no such pact file: {pact} (pass --pact examples/pact.yaml)")
            raise typer.Exit(2)
        progress = None if json_output else (lambda message: cli.err.print(message, markup=False))
        with cli.refusals():
            summary = run_demo(context.app.engine, leads=leads, seed=seed, pact_file=pact, progress=progress)
        # The data ends on 2026-09-30: sweep for neglected leads as of the next morning.
        with cli.refusals():
            swept = sweep(context.app.engine, SWEEP_AT)
            waiting = route(context.app.engine, SWEEP_AT, dry_run=True).routed
        late = Counter(item.held.run.responsible for item in swept.new)
        if json_output:
            cli._print_json(
                {
                    **summary_json(summary),
                    "sla": {"swept_at": SWEEP_AT.isoformat(), "breaches": dict(late)},
                    "waiting_for_routing": len(waiting),
                }
            )
        else:
            print_summary(summary, context.settings.lang, context.settings.database_url)
            by_department = ", ".join(f"{department} {count}" for department, count in late.most_common())
            cli.out.print(
                f"\nneglected leads as of {SWEEP_AT:%Y-%m-%d %H:%M} JST: {len(swept.new)} breaches recorded "
                f"({by_department}); {swept.due_soon} clocks due soon. See them with:"
            )
            db = (
                ""
                if context.settings.database_url == DEFAULT_DATABASE_URL
                else f" --db {context.settings.database_url}"
            )
            cli.out.print(f"  leadpact{escape(db)} sla list --breached --now {SWEEP_AT.isoformat()}", soft_wrap=True)
            if waiting:
                cli.out.print(f"{len(waiting)} MQLs still wait for inside sales; who the pact's routing gives them to:")
                cli.out.print(f"  leadpact{escape(db)} route --dry-run --now {SWEEP_AT.isoformat()}", soft_wrap=True)
        if summary.rejected:
            raise typer.Exit(1)
