"""`leadpact serve` runs the HTTP app with uvicorn; `leadpact webhooks` applies and lists stored deliveries."""

from __future__ import annotations

import gc
import json
import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from leadpact.services import webhooks
from leadpact.services.webhooks import Mappings, Outcome

webhooks_app = typer.Typer(
    help="Webhook deliveries: apply what is stored, list what became of it.", no_args_is_help=True
)
OUTCOMES = ["pending", *(o.value for o in Outcome)]


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")

    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
        access_log: Annotated[
            bool, typer.Option("--access-log/--no-access-log", help="Log every request (uvicorn's access log).")
        ] = True,
        apply: Annotated[
            bool,
            typer.Option(
                "--apply/--no-apply",
                help="Apply stored deliveries in the background; --no-apply only stores them, for "
                "`leadpact webhooks process` to apply later.",
            ),
        ] = True,
    ) -> None:
        """Serve the webhooks (POST /webhooks/hubspot, /webhooks/generic) until stopped (Ctrl-C)."""
        import uvicorn

        from leadpact.api.app import create_app

        cli = _cli()
        context = cli._ctx(ctx)
        settings = context.settings
        application = create_app(settings, core=context.app, process=apply)
        off = [
            name
            for name, secret in (("hubspot", settings.hubspot_client_secret), ("generic", settings.webhook_secret))
            if secret is None
        ]
        if off:
            cli.err.print(
                f"[yellow]note:[/yellow] /webhooks/{' and /webhooks/'.join(off)} refuse(s) every delivery: "
                "no secret set (LEADPACT_HUBSPOT_CLIENT_SECRET, LEADPACT_WEBHOOK_SECRET)"
            )
        # Everything imported and built so far lives as long as the server: moved out of the
        # collector's reach, full collections stop walking it (they paused every request for up to
        # 170 ms under load; docs/benchmarks.md, W5).
        gc.freeze()
        uvicorn.run(
            application,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            proxy_headers=True,  # X-Forwarded-Proto from proxies in FORWARDED_ALLOW_IPS (default: 127.0.0.1)
            access_log=access_log,
            log_level="info",
        )

    @webhooks_app.command("process")
    def webhooks_process(
        ctx: typer.Context,
        retry_rejected: Annotated[
            bool,
            typer.Option("--retry-rejected", help="First make rejected events pending again (after fixing the cause)."),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    ) -> None:
        """Apply every stored delivery not applied yet (what a stopped server left, or everything when
        the server runs with processing off)."""
        cli = _cli()
        context = cli._ctx(ctx)
        app, settings = context.app, context.settings
        requeued = webhooks.requeue_rejected(app.engine) if retry_rejected else 0
        report = webhooks.process(app.engine, app.clock, Mappings(settings.hubspot_owners, settings.hubspot_stages))
        if as_json:
            sys.stdout.write(json.dumps({**asdict(report), "requeued": requeued}, ensure_ascii=False) + "\n")
            return
        if retry_rejected:
            cli.out.print(f"{requeued} rejected event(s) made pending again")
        cli.out.print(
            f"{report.taken} event(s) processed: {report.applied} applied, {report.superseded} superseded, "
            f"{report.rejected} rejected, {report.not_applied} not applied "
            f"({report.leads_created} new leads, {report.transitions} stage changes)"
        )

    @webhooks_app.command("list")
    def webhooks_list(
        ctx: typer.Context,
        outcome: Annotated[
            list[str] | None,
            typer.Option("--outcome", help=f"Only these outcomes (repeatable): {', '.join(OUTCOMES)}."),
        ] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
    ) -> None:
        """The newest stored webhook events with what became of them, and the counts by outcome."""
        cli = _cli()
        unknown = [o for o in outcome or [] if o not in OUTCOMES]
        if unknown:
            cli.err.print(f"[red]error:[/red] --outcome {unknown[0]!r}: one of {', '.join(OUTCOMES)}")
            raise typer.Exit(2)
        app = cli._ctx(ctx).app
        counts = webhooks.counts(app.store())
        rows = webhooks.newest(app.store(), outcome, limit)
        if as_json:
            listed = [
                {
                    "id": r.id,
                    "channel": r.channel,
                    "source": r.source,
                    "event_key": r.event_key,
                    "object_id": r.object_id,
                    "occurred_at": r.occurred_at.isoformat(),
                    "received_at": r.received_at.isoformat(),
                    "outcome": r.outcome or "pending",
                    "note": r.note,
                    "event": json.loads(r.payload),
                }
                for r in rows
            ]
            sys.stdout.write(json.dumps({"counts": counts, "events": listed}, ensure_ascii=False, indent=2) + "\n")
            return
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "no webhook events stored"
        table = Table(title=summary, title_justify="left")
        for column in ("id", "channel", "event", "occurred (UTC)", "outcome", "note"):
            table.add_column(column)
        for r in rows:
            what = _what(r.channel, r.payload)
            table.add_row(
                str(r.id),
                r.channel,
                what,
                f"{r.occurred_at:%Y-%m-%d %H:%M:%S}",
                r.outcome or "pending",
                r.note or "",
            )
        cli.out.print(table)


def _what(channel: str, payload: str) -> str:
    """One line naming the event: HubSpot's type and property, or the canonical type and id."""
    data = json.loads(payload)
    if not isinstance(data, dict):
        return "?"
    if channel == webhooks.HUBSPOT:
        detail = f" {data.get('propertyName')}={data.get('propertyValue')}" if data.get("propertyName") else ""
        return f"{data.get('subscriptionType', '?')} {data.get('objectId', '?')}{detail}"
    return f"{data.get('type', '?')} {data.get('source', '?')}:{data.get('id', '?')}"
