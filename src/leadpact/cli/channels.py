"""`leadpact channels`: check the notification channels, send a test, read the outbox."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from leadpact.domain.escalation import LANGS, NotificationStatus
from leadpact.services.escalation import outbox, summary, try_channel

channels_app = typer.Typer(
    help="Where neglected-lead breaches are sent: Slack, e-mail, webhooks.", no_args_is_help=True
)

NOT_CONFIGURED = "no notification channel configured: set LEADPACT_CHANNELS or --channels FILE (see docs/sla.md)"


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def register(app: typer.Typer) -> None:
    app.add_typer(channels_app, name="channels")

    @channels_app.command("check")
    def channels_check(ctx: typer.Context) -> None:
        """Validate the channels file (every problem with its line) and list the channels, secrets masked."""
        cli = _cli()
        channels = cli._ctx(ctx).channels
        if not channels:
            cli.out.print(NOT_CONFIGURED)
            return
        table = Table(title=f"{len(channels.channels)} channel(s) in {channels.source}", title_justify="left")
        for column in ("id", "type", "sends to", "departments"):
            table.add_column(column)
        for channel in channels:
            found = summary(channel)
            table.add_row(found.id, found.type, found.target, ", ".join(found.departments) or "all")
        cli.out.print(table)

    @channels_app.command("test")
    def channels_test(
        ctx: typer.Context,
        channel_id: Annotated[str, typer.Argument(metavar="CHANNEL", help="The channel's id in the file.")],
        lang: Annotated[
            str | None, typer.Option("--lang", help="ja or en for every recipient (default: each one's own).")
        ] = None,
    ) -> None:
        """Send a test notification (a made-up lead, marked as a test) to one channel now."""
        cli = _cli()
        context = cli._ctx(ctx)
        channels = context.channels
        channel = channels.get(channel_id)
        if channel is None:
            known = ", ".join(c.id for c in channels) or "none"
            cli.err.print(f"[red]error:[/red] no channel {channel_id!r} (configured: {known})")
            raise typer.Exit(2)
        if lang is not None and lang not in LANGS:
            cli.err.print(f"[red]error:[/red] --lang {lang!r}: ja or en")
            raise typer.Exit(2)
        results = try_channel(channel, context.app.clock.now(), "en" if lang == "en" else "ja" if lang else None)
        for result in results:
            to = f"{channel.id} {result.recipient.address}".strip() + f" ({result.recipient.lang})"
            if result.error is None:
                cli.out.print(f"[green]sent[/green] test notification to {to}")
            else:
                cli.err.print(f"[red]failed[/red] {to}: {result.error}", markup=True)
        if any(r.error for r in results):
            raise typer.Exit(1)

    @channels_app.command("outbox")
    def channels_outbox(
        ctx: typer.Context,
        status: Annotated[
            str | None, typer.Option("--status", help="Only pending, sent or gave_up notifications.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every queued breach notification with its status, attempts, last error and next try."""
        cli = _cli()
        try:
            wanted = NotificationStatus(status) if status else None
        except ValueError:
            cli.err.print(f"[red]error:[/red] --status {status!r}: pending, sent or gave_up")
            raise typer.Exit(2) from None
        rows = outbox(cli._ctx(ctx).app.engine, wanted)
        if as_json:
            cli._print_json(
                [
                    {
                        "id": n.id,
                        "breach_id": n.breach_id,
                        "lead_id": n.notice.lead_id,
                        "clock": n.notice.clock_id,
                        "channel": n.channel,
                        "recipient": n.recipient or None,
                        "lang": n.lang,
                        "status": n.status.value,
                        "attempts": n.attempts,
                        "next_attempt_at": n.next_attempt_at.isoformat()
                        if n.status is NotificationStatus.PENDING
                        else None,
                        "last_error": n.last_error,
                        "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                    }
                    for n in rows
                ]
            )
            return
        if not rows:
            cli.out.print("the outbox is empty")
            return
        table = Table(title=f"{len(rows)} notification(s)", title_justify="left")
        for column in ("breach", "lead", "clock", "channel", "status", "attempts", "next try / sent", "last error"):
            table.add_column(column)
        for n in rows:
            when = n.sent_at if n.status is NotificationStatus.SENT else n.next_attempt_at
            table.add_row(
                str(n.breach_id),
                n.notice.email or str(n.notice.lead_id),
                n.notice.clock_id,
                f"{n.channel} {n.recipient}".strip(),
                n.status.value,
                str(n.attempts),
                "—" if n.status is NotificationStatus.GAVE_UP or when is None else f"{when:%Y-%m-%d %H:%M} UTC",
                n.last_error or "",
            )
        cli.out.print(table)
