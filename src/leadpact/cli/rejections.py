"""`leadpact lead reject` and `leadpact lead recycle`: sales sending a lead back, with a reason and a note."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from leadpact.domain.lifecycle import Stage
from leadpact.services.rejections import RejectOutcome, reject_lead

TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "moved": "リード {lead} ({email}) {frm} → {to}: {label} ({code})  実行者 {by} ({department})  台帳 #{seq}",
        "rejection": "営業による却下として記録しました: `leadpact feedback` でマーケティングに集計され、"
        "マーケティングは `leadpact dispute open` で異議を申し立てられます",
        "own": "マーケティング部門自身の移動のため、営業の却下には数えません",
        "stopped": "停止した時計: {clocks}",
        "running": "動き続けている時計(合意書がこの移動では止めないもの): {clocks}",
        "due": "期限 {due}",
    },
    "en": {
        "moved": "lead {lead} ({email}) {frm} → {to}: {label} ({code}) by {by} ({department}), ledger entry #{seq}",
        "rejection": "recorded as a rejection by sales: it flows back to marketing in `leadpact feedback`, "
        "and marketing may dispute it with `leadpact dispute open`",
        "own": "a move of marketing's own: not counted as a rejection by sales",
        "stopped": "clocks stopped: {clocks}",
        "running": "clocks still running (the pact does not stop them at this move): {clocks}",
        "due": "due {due}",
    },
}

LEAD_HELP = "Lead id or e-mail address."
REASON_HELP = "A reason code of the pact's reason_codes.{kind} (the error lists them)."
NOTE_HELP = "What sales learned, for marketing (shown in `leadpact feedback`)."
BY_HELP = "Who sends the lead back (a user of inside or field sales); recorded in the ledger."
NOW_HELP = "When (ISO 8601 with offset); default now."


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _print(outcome: RejectOutcome, lang: str) -> None:
    cli, text = _cli(), TEXT[lang]
    lead = outcome.lead
    label = outcome.reason.label if lang == "ja" else outcome.reason.label_en or outcome.reason.label
    cli.out.print(
        escape(
            text["moved"].format(
                lead=lead.id,
                email=lead.email or "-",
                frm=outcome.from_stage.value,
                to=lead.stage.value,
                label=label,
                code=outcome.reason.code,
                by=outcome.actor,
                department=outcome.department,
                seq=outcome.seq,
            )
        )
    )
    cli.out.print("  " + escape(text["rejection" if outcome.rejection else "own"]))
    if outcome.stopped:
        cli.out.print("  " + text["stopped"].format(clocks=", ".join(c.clock_id for c in outcome.stopped)))
    if outcome.running:
        local = ZoneInfo(outcome.zone)
        running = ", ".join(
            f"{c.clock_id} ({text['due'].format(due=f'{c.due_at.astimezone(local):%Y-%m-%d %H:%M}')})"
            for c in outcome.running
        )
        cli.out.print("  [yellow]" + escape(text["running"].format(clocks=running)) + "[/yellow]")


def register(lead_app: typer.Typer) -> None:
    def _send_back(
        ctx: typer.Context, to: Stage, lead: str, reason: str | None, note: str, by: str, now: str | None
    ) -> None:
        cli = _cli()
        context = cli._ctx(ctx)
        with cli.refusals():
            outcome = reject_lead(context.app.engine, cli.now_option(ctx, now), lead, to, by, reason, note)
        _print(outcome, context.settings.lang)

    @lead_app.command("reject")
    def lead_reject(
        ctx: typer.Context,
        lead: Annotated[str, typer.Argument(help=LEAD_HELP)],
        by: Annotated[str, typer.Option("--by", help=BY_HELP)],
        note: Annotated[str, typer.Option("--note", help=NOTE_HELP)],
        reason: Annotated[str | None, typer.Option("--reason", help=REASON_HELP.format(kind="disqualify"))] = None,
        now: Annotated[str | None, typer.Option("--now", help=NOW_HELP)] = None,
    ) -> None:
        """Disqualify a handed-off lead, with a disqualify reason code and a note (a rejection by sales)."""
        _send_back(ctx, Stage.DISQUALIFIED, lead, reason, note, by, now)

    @lead_app.command("recycle")
    def lead_recycle(
        ctx: typer.Context,
        lead: Annotated[str, typer.Argument(help=LEAD_HELP)],
        by: Annotated[str, typer.Option("--by", help=BY_HELP)],
        note: Annotated[str, typer.Option("--note", help=NOTE_HELP)],
        reason: Annotated[str | None, typer.Option("--reason", help=REASON_HELP.format(kind="recycle"))] = None,
        now: Annotated[str | None, typer.Option("--now", help=NOW_HELP)] = None,
    ) -> None:
        """Send a handed-off lead back to marketing's nurture, with a recycle reason code and a note."""
        _send_back(ctx, Stage.RECYCLED, lead, reason, note, by, now)
