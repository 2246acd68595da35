"""`leadpact route`, `leadpact lead assign` and `leadpact user activate|deactivate`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from leadpact.domain.routing import Held
from leadpact.services.routing import RouteReport, assign_lead, route, set_active

TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "routed": "{n} 件を振り分けました",
        "would": "{n} 件をこのように振り分けます(--dry-run:何も記録していません)",
        "none": "振り分けを待つ MQL はありません",
        "waiting": "{n} 件は担当者が決まらず待機中です",
        Held.CAPACITY: "本日の上限に達しています",
        Held.NO_REP: "有効な担当者がいません",
        "unknown": "routing.rules の {rule}: {name} というユーザーはいません(leadpact user add)",
        "default": "既定",
    },
    "en": {
        "routed": "routed {n} lead(s)",
        "would": "would route {n} lead(s) like this (--dry-run: nothing recorded)",
        "none": "no MQL is waiting for inside sales",
        "waiting": "{n} lead(s) still waiting for a rep",
        Held.CAPACITY: "every rep of the pool reached today's capacity",
        Held.NO_REP: "the pool has no active rep",
        "unknown": "routing.rules {rule}: no user is named {name} (leadpact user add)",
        "default": "default",
    },
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _report_json(report: RouteReport) -> dict[str, Any]:
    return {
        "now": report.now.isoformat(),
        "dry_run": report.dry_run,
        "routed": [
            {"lead_id": ref.lead_id, "email": ref.email, "company": ref.company, "rep": r.rep, **r.evidence}
            for ref, r in report.routed
        ],
        "waiting": [
            {"lead_id": ref.lead_id, "email": ref.email, "rule": u.rule, "reason": u.reason.value}
            for ref, u in report.waiting
        ],
        "unknown_reps": [{"rule": rule, "name": name} for rule, name in report.unknown_reps],
    }


def _print_report(report: RouteReport, lang: str) -> None:
    cli, text = _cli(), TEXT[lang]
    for rule, name in report.unknown_reps:
        cli.err.print(f"[yellow]warning:[/yellow] {text['unknown'].format(rule=rule, name=name)}")
    if not report.routed and not report.waiting:
        cli.out.print(text["none"])
        return
    if report.routed:
        table = Table(title=text["would" if report.dry_run else "routed"].format(n=len(report.routed)))
        for column in ("lead", "rep", "rule", "today"):
            table.add_column(column, justify="right" if column == "today" else "left")
        for ref, r in report.routed:
            who = ref.email or f"lead {ref.lead_id}"
            cap = r.evidence.get("capacity_per_day")
            today = f"{r.evidence['assigned_today']}/{cap}" if cap else str(r.evidence["assigned_today"])
            table.add_row(f"{who} ({ref.company})" if ref.company else who, r.rep, r.rule or text["default"], today)
        cli.out.print(table)
    if report.waiting:
        table = Table(title=text["waiting"].format(n=len(report.waiting)))
        table.add_column("lead")
        table.add_column("rule")
        table.add_column("why")
        for ref, u in report.waiting:
            table.add_row(ref.email or f"lead {ref.lead_id}", u.rule or text["default"], text[u.reason])
        cli.out.print(table)


def register(app: typer.Typer, lead_app: typer.Typer, user_app: typer.Typer) -> None:
    @app.command("route")
    def route_command(
        ctx: typer.Context,
        now: Annotated[str | None, typer.Option("--now", help="Route as of this instant (ISO with offset).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Say who would get what; record nothing.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Assign every MQL waiting for inside sales, round robin by the pact's routing rules."""
        cli = _cli()
        context = cli._ctx(ctx)
        with cli.refusals():
            report = route(context.app.engine, cli.now_option(ctx, now), dry_run=dry_run)
        if as_json:
            cli._print_json(_report_json(report))
            return
        _print_report(report, context.settings.lang)

    @lead_app.command("assign")
    def lead_assign(
        ctx: typer.Context,
        lead: Annotated[str, typer.Argument(help="Lead id or e-mail address.")],
        to: Annotated[str, typer.Option("--to", help="The rep who gets the lead.")],
        by: Annotated[str, typer.Option("--by", help="Who assigns it (recorded in the ledger).")],
        note: Annotated[str | None, typer.Option("--note", help="Why, for the ledger.")] = None,
        now: Annotated[str | None, typer.Option("--now", help="When (ISO with offset); default now.")] = None,
    ) -> None:
        """Give a lead to a rep by hand (a ledger entry, like a routed assignment)."""
        cli = _cli()
        with cli.refusals():
            found = assign_lead(cli._ctx(ctx).app.engine, cli.now_option(ctx, now), lead, to, by, note)
        cli.out.print(f"lead {found.id} ({found.email or '-'}) assigned to {found.owner} by {by}")

    def _activation(name: str, is_active: bool, ctx: typer.Context) -> None:
        cli = _cli()
        with cli.refusals():
            user = set_active(cli._ctx(ctx).app.engine, name, is_active)
        state = "active" if is_active else "inactive: routing skips them and nobody can assign them leads"
        cli.out.print(f"{user.name} ({user.department}) is {state}")

    @user_app.command("deactivate")
    def user_deactivate(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The person's name.")]) -> None:
        """Stop giving leads to someone (leave, transfer); the leads they hold stay theirs."""
        _activation(name, False, ctx)

    @user_app.command("activate")
    def user_activate(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The person's name.")]) -> None:
        """Let someone receive leads again."""
        _activation(name, True, ctx)
