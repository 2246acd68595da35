"""`leadpact sla`: the neglected-lead sweep, its notifications, and the board."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from leadpact.cli.channels import NOT_CONFIGURED
from leadpact.domain.clocks import ClockState
from leadpact.domain.escalation import NotificationStatus
from leadpact.services.escalation import DeliveryReport, Outcome, deliver
from leadpact.services.sla import NeglectedLead, board, sweep

sla_app = typer.Typer(help="Find neglected leads: clocks past or near their deadline.", no_args_is_help=True)


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f}h"


def _json(item: NeglectedLead) -> dict[str, Any]:
    run = item.held.run
    return {
        "lead_id": run.lead_id,
        "email": item.held.email,
        "company": item.held.company,
        "clock": run.clock_id,
        "label": item.label,
        "state": item.state.value,
        "pact_version": run.pact_version,
        "started_at": run.started_at.isoformat(),
        "due_at": run.due_at.isoformat(),
        "stopped_at": run.stopped_at.isoformat() if run.stopped_at else None,
        "responsible": run.responsible,
        "owner": item.held.owner,
        "owner_department": item.held.owner_department,
        "business_days_late": item.business_days_late,
        "hours": {
            "routing_delay": item.split.routing.total_seconds() / 3600,
            "department": item.split.own.total_seconds() / 3600,
            "off_hours": item.split.off_hours.total_seconds() / 3600,
        },
        "recorded_at": item.recorded_at.isoformat() if item.recorded_at else None,
    }


def _table(title: str, items: list[NeglectedLead], zone: Any) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (
        "lead",
        "clock",
        "state",
        "due",
        "late (business days)",
        "owner",
        "responsible",
        "routing",
        "dept",
        "off-hours",
    ):
        table.add_column(
            column, justify="right" if column in ("late (business days)", "routing", "dept", "off-hours") else "left"
        )
    for item in items:
        run = item.held.run
        who = item.held.email or f"lead {run.lead_id}"
        if item.held.company:
            who = f"{who} ({item.held.company})"
        owner = f"{item.held.owner} ({item.held.owner_department})" if item.held.owner else "—"
        table.add_row(
            who,
            item.label,
            item.state.value,
            f"{run.due_at.astimezone(zone):%Y-%m-%d %H:%M}",
            str(item.business_days_late),
            owner,
            run.responsible,
            _hours(item.split.routing),
            _hours(item.split.own),
            _hours(item.split.off_hours),
        )
    return table


def _delivery_json(report: DeliveryReport) -> dict[str, Any]:
    return {
        "sent": len(report.of(NotificationStatus.SENT)),
        "waiting": [_outcome_json(o) for o in report.of(NotificationStatus.PENDING)],
        "gave_up": [_outcome_json(o) for o in report.of(NotificationStatus.GAVE_UP)],
        "more_due": report.more_due,
        "pending": report.pending,
        "next_try": report.next_try.isoformat() if report.next_try else None,
        "unconfigured": report.unconfigured,
    }


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    n = outcome.notification
    return {
        "breach_id": n.breach_id,
        "lead_id": n.notice.lead_id,
        "clock": n.notice.clock_id,
        "channel": n.channel,
        "recipient": n.recipient or None,
        "attempts": outcome.attempts,
        "error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at.isoformat() if outcome.next_attempt_at else None,
    }


def _print_delivery(report: DeliveryReport, queued: str | None) -> None:
    cli = _cli()
    sent, waiting = report.of(NotificationStatus.SENT), report.of(NotificationStatus.PENDING)
    gave_up = report.of(NotificationStatus.GAVE_UP)
    counts = f"{len(sent)} sent, {len(waiting)} waiting for retry, {len(gave_up)} given up"
    cli.out.print(f"notifications: {queued + '; ' if queued else ''}{counts}")
    if waiting or gave_up:
        table = Table(title_justify="left")
        for column in ("status", "channel", "lead", "clock", "attempts", "error", "next try"):
            table.add_column(column)
        for outcome in [*waiting, *gave_up]:
            n = outcome.notification
            next_try = "—"
            if outcome.next_attempt_at is not None:
                next_try = f"{outcome.next_attempt_at.astimezone(report.now.tzinfo):%Y-%m-%d %H:%M}"
            table.add_row(
                "waiting" if outcome.status is NotificationStatus.PENDING else "given up",
                f"{n.channel} {n.recipient}".strip(),
                n.notice.email or f"lead {n.notice.lead_id}",
                n.notice.clock_id,
                str(outcome.attempts),
                outcome.error or "",
                next_try,
            )
        cli.out.print(table)
    if report.more_due:
        cli.out.print(f"{report.more_due} more due: `leadpact sla notify` sends them")
    elif report.pending and report.next_try is not None:
        first = f"{report.next_try.astimezone(report.now.tzinfo):%Y-%m-%d %H:%M}"
        cli.out.print(f"{report.pending} notification(s) pending; the next try is due at {first}")
    for channel, count in sorted(report.unconfigured.items()):
        cli.out.print(f"{count} notification(s) wait for channel {channel!r}, which is no longer configured")


def register(app: typer.Typer) -> None:
    app.add_typer(sla_app, name="sla")

    @sla_app.command("sweep")
    def sla_sweep(
        ctx: typer.Context,
        now: Annotated[str | None, typer.Option("--now", help="Sweep as of this instant (ISO with offset).")] = None,
        no_notify: Annotated[
            bool, typer.Option("--no-notify", help="Queue the notifications but do not send them now.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Record every clock past its deadline as a breach, once, list the new ones and notify the channels."""
        cli = _cli()
        context = cli._ctx(ctx)
        channels = context.channels  # a broken channels file stops the sweep before it records anything
        at = _cli().now_option(ctx, now)
        engine = context.app.engine
        with cli.refusals():
            report = sweep(engine, at, channels)
        delivery = deliver(engine, channels, at) if channels and not no_notify else None
        if as_json:
            cli._print_json(
                {
                    "now": report.now.isoformat(),
                    "new": [_json(item) for item in report.new],
                    "known": report.known,
                    "due_soon": report.due_soon,
                    "running": report.running,
                    "notifications": {"queued": report.queued, **(_delivery_json(delivery) if delivery else {})},
                }
            )
            return
        cli.out.print(
            f"sweep at {report.now.isoformat()}: {len(report.new)} new breach(es), {report.known} already recorded, "
            f"{report.due_soon} due soon, {report.running} clock(s) running"
        )
        if report.new:
            cli.out.print(_table("new breaches", report.new, report.now.tzinfo))
        if not channels:
            if report.new:
                cli.out.print("notifications: none sent, no channel configured (LEADPACT_CHANNELS or --channels)")
            return
        queued = f"{report.queued} queued"
        if delivery is None:
            cli.out.print(f"notifications: {queued}; not sent (--no-notify): `leadpact sla notify` sends them")
            return
        _print_delivery(delivery, queued)

    @sla_app.command("notify")
    def sla_notify(
        ctx: typer.Context,
        now: Annotated[str | None, typer.Option("--now", help="As of this instant (ISO with offset).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Send the breach notifications that are due: new ones, and retries whose time has come."""
        cli = _cli()
        context = cli._ctx(ctx)
        channels = context.channels
        if not channels:
            cli.err.print(f"[red]error:[/red] {NOT_CONFIGURED}")
            raise typer.Exit(2)
        delivery = deliver(context.app.engine, channels, _cli().now_option(ctx, now))
        if as_json:
            cli._print_json({"now": delivery.now.isoformat(), **_delivery_json(delivery)})
            return
        _print_delivery(delivery, None)

    @sla_app.command("list")
    def sla_list(
        ctx: typer.Context,
        breached: Annotated[bool, typer.Option("--breached", help="Only clocks past their deadline.")] = False,
        due_soon: Annotated[bool, typer.Option("--due-soon", help="Only clocks near their deadline.")] = False,
        department: Annotated[
            str | None, typer.Option("--department", help="Only this responsible department.")
        ] = None,
        owner: Annotated[str | None, typer.Option("--owner", help="Only leads this person holds.")] = None,
        now: Annotated[str | None, typer.Option("--now", help="As of this instant (ISO with offset).")] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=0, help="Show the N oldest due (0: all); the count covers all.")
        ] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The neglected-lead board: running clocks breached or due soon, oldest due first."""
        cli = _cli()
        states = [ClockState.BREACHED] if breached else [ClockState.DUE_SOON] if due_soon else None
        at = _cli().now_option(ctx, now)
        with cli.refusals():
            found = board(
                cli._ctx(ctx).app.engine,
                at,
                states=states or (ClockState.BREACHED, ClockState.DUE_SOON),
                department=department,
                owner=owner,
                limit=limit or None,
            )
        if as_json:
            cli._print_json(
                {
                    "now": found.now.isoformat(),
                    "total": found.total,
                    "limit": limit or None,
                    "items": [_json(item) for item in found.items],
                }
            )
            return
        if not found.items:
            cli.out.print("no neglected leads")
            return
        cli.out.print(_table(f"{found.total} lead(s) as of {at.isoformat()}", found.items, at.tzinfo))
        if found.total > len(found.items):
            cli.out.print(f"… and {found.total - len(found.items)} more (--limit 0 shows all)")
