"""`leadpact dispute open|resolve|list|show`: marketing contesting a rejection, a manager's verdict."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from leadpact.domain.disputes import Outcome, RejectionStatus
from leadpact.services.disputes import DisputeView, list_disputes, open_dispute, resolve_dispute, show_dispute

TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "opened": "異議 #{id} を受け付けました",
        "resolved": "異議 #{id} を裁定しました: {outcome}",
        "dispute": "異議 #{id}: リード {lead} ({who}) の却下 #{rejection} に対して "
        "{by} ({department}) が {at} に申し立て",
        "rejection": "却下: {frm} → {to}, 理由 {reason}, {by} ({department}) {at}, 合意書 v{version}",
        "note": "申し立て理由: {note}",
        "rejection_note": "営業のメモ: {note}",
        "handoff": "引き渡し時の MQL 条件 ({how}): {frm} → {to} {at}, 合意書 v{version}, スコア {score}",
        "no_handoff": "台帳に引き渡しの記録がないため、却下時点で MQL 条件を確認しました: "
        "合意書 v{version}, スコア {score}",
        "recorded": "台帳の記録",
        "rechecked": "記録がないため合意書 v{version} で再確認。属性は現在の値",
        "not_in_force": "当時有効な合意書がなかったため、移動を記録した版で確認",
        "override": "マネージャーの例外承認による移動",
        "pending": "マネージャーの裁定待ち: leadpact dispute resolve {id} --uphold|--overturn --by MANAGER --note TEXT",
        Outcome.UPHELD: "却下を支持 (リード品質としてマーケティングに計上)",
        Outcome.OVERTURNED: "却下を取り消し (営業の受け入れとして {department} に計上)",
        "verdict": "{outcome}: {by} ({department}) {at} — {note}",
        "reinstated": "リードは {stage} に戻りました" + "{holder}",
        "holder": "、担当 {name}",
        "routing": "。担当者はいないため振り分け (leadpact route) を待ちます",
        "moved_on": "リードは却下の後 {stage} に進んでいるため、ステージは戻していません",
        "none": "異議はありません",
        "title": "異議 {n} 件",
        "now": "現在 {stage}",
    },
    "en": {
        "opened": "dispute #{id} opened",
        "resolved": "dispute #{id} resolved: {outcome}",
        "dispute": "dispute #{id}: rejection #{rejection} of lead {lead} ({who}) disputed by {by} ({department}) {at}",
        "rejection": "rejection: {frm} → {to}, reason {reason}, by {by} ({department}) {at}, pact v{version}",
        "note": "why marketing disputes it: {note}",
        "rejection_note": "sales' note: {note}",
        "handoff": "MQL criteria at handoff ({how}): {frm} → {to} {at}, pact v{version}, score {score}",
        "no_handoff": "the ledger holds no handoff, so the MQL criteria were checked at the rejection: "
        "pact v{version}, score {score}",
        "recorded": "as the ledger recorded them",
        "rechecked": "none recorded, so checked again under pact v{version} with the lead's attributes as they are now",
        "not_in_force": "no pact was in force then; checked under the version the move was recorded under",
        "override": "a manager's override",
        "pending": "waits for a manager: leadpact dispute resolve {id} --uphold|--overturn --by MANAGER --note TEXT",
        Outcome.UPHELD: "rejection upheld (counts against lead quality: marketing)",
        Outcome.OVERTURNED: "rejection overturned (counts against sales acceptance: {department})",
        "verdict": "{outcome}: {by} ({department}) {at} — {note}",
        "reinstated": "the lead is back in {stage}" + "{holder}",
        "holder": ", held by {name}",
        "routing": "; nobody holds it, so routing gives it out again (leadpact route)",
        "moved_on": "the lead has moved on to {stage} since the rejection, so its stage was left as it is",
        "none": "no disputes",
        "title": "{n} dispute(s)",
        "now": "now {stage}",
    },
}


SHORT = {
    "ja": {
        RejectionStatus.PENDING: "裁定待ち",
        RejectionStatus.UPHELD: "支持",
        RejectionStatus.OVERTURNED: "取消",
        RejectionStatus.UNDISPUTED: "-",
    },
    "en": {
        RejectionStatus.PENDING: "open",
        RejectionStatus.UPHELD: "upheld",
        RejectionStatus.OVERTURNED: "overturned",
        RejectionStatus.UNDISPUTED: "-",
    },
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _local(at: datetime | str | None, zone: str) -> str:
    if at is None:
        return "-"
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return f"{value.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _reason(view: DisputeView, lang: str) -> str:
    code = view.rejection.reason or "-"
    if view.reason is None:
        return code
    label = view.reason.label if lang == "ja" else view.reason.label_en or view.reason.label
    return f"{label} ({code})"


def _outcome(view: DisputeView, lang: str) -> str:
    r = view.dispute.resolution
    if r is None:
        return {"ja": "裁定待ち", "en": "open"}[lang]
    return TEXT[lang][r.outcome].format(department=view.rejection.department)


def view_json(view: DisputeView) -> dict[str, Any]:
    d, r = view.dispute, view.rejection
    resolution = d.resolution
    return {
        "id": d.id,
        "lead": {"id": d.lead_id, "email": view.email, "company": view.company, "stage": view.stage.value},
        "status": d.status.value,
        "opened": {"at": d.at.isoformat(), "by": d.by, "department": d.department, "note": d.note},
        "rejection": {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "from": r.from_stage.value,
            "to": r.to_stage.value,
            "reason": r.reason,
            "label": view.reason.label if view.reason else None,
            "label_en": view.reason.label_en if view.reason else None,
            "by": r.actor,
            "department": r.department,
            "pact_version": r.pact_version,
            "note": r.note,
        },
        "handoff": dict(_mapping(d.evidence.get("handoff"))),
        "resolution": None
        if resolution is None
        else {
            "seq": resolution.seq,
            "at": resolution.at.isoformat(),
            "by": resolution.by,
            "department": resolution.department,
            "outcome": resolution.outcome.value,
            "note": resolution.note,
            "reinstated": resolution.reinstated.value if resolution.reinstated else None,
            "given_to": resolution.given_to,
            "moved_on_to": resolution.moved_on_to.value if resolution.moved_on_to else None,
        },
    }


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def print_view(view: DisputeView, lang: str) -> None:
    """A dispute as a manager reads it before deciding: the rejection, both notes, the MQL criteria at handoff."""
    cli, text, zone = _cli(), TEXT[lang], view.zone
    d, r = view.dispute, view.rejection
    who = view.email or "-"
    if view.company:
        who += f", {view.company}"
    lines = [
        text["dispute"].format(
            id=d.id,
            rejection=r.seq,
            lead=d.lead_id,
            who=who,
            by=d.by,
            department=d.department,
            at=_local(d.at, zone),
        ),
        "  "
        + text["rejection"].format(
            frm=r.from_stage.value,
            to=r.to_stage.value,
            reason=_reason(view, lang),
            by=r.actor,
            department=r.department,
            at=_local(r.at, zone),
            version=r.pact_version,
        ),
    ]
    if r.note:
        lines.append("  " + text["rejection_note"].format(note=r.note))
    if d.note:
        lines.append("  " + text["note"].format(note=d.note))
    for line in lines:
        cli.out.print(escape(line))
    _print_handoff(_mapping(d.evidence.get("handoff")), lang, zone)
    resolution = d.resolution
    if resolution is None:
        cli.out.print(escape(text["pending"].format(id=d.id)))
        return
    verdict = text["verdict"].format(
        outcome=_outcome(view, lang),
        by=resolution.by,
        department=resolution.department,
        at=_local(resolution.at, zone),
        note=resolution.note or "",
    )
    cli.out.print(escape(verdict))
    if resolution.reinstated is not None:
        holder = text["holder"].format(name=resolution.given_to) if resolution.given_to else text["routing"]
        cli.out.print("  " + escape(text["reinstated"].format(stage=resolution.reinstated.value, holder=holder)))
    elif resolution.moved_on_to is not None:
        cli.out.print("  " + escape(text["moved_on"].format(stage=resolution.moved_on_to.value)))


def _print_handoff(handoff: Mapping[str, Any], lang: str, zone: str) -> None:
    cli, text = _cli(), TEXT[lang]
    total = handoff.get("score")
    shown = f"{total:.1f}" if isinstance(total, int | float) else "-"
    version = handoff.get("pact_version")
    if handoff.get("seq") is None:
        head = text["no_handoff"].format(version=version, score=shown)
    else:
        how = text["recorded"] if handoff.get("checked") == "recorded" else text["rechecked"].format(version=version)
        head = text["handoff"].format(
            how=how,
            frm=handoff.get("from"),
            to=handoff.get("to"),
            at=_local(handoff.get("at"), zone),
            version=version,
            score=shown,
        )
    cli.out.print(escape(head))
    if handoff.get("in_force") is False:
        cli.out.print("  " + escape(text["not_in_force"]))
    if handoff.get("override"):
        cli.out.print("  " + escape(text["override"]))
    for criterion in handoff.get("criteria", []):
        mark = "[green]✓[/green]" if criterion.get("met") else "[red]✗[/red]"
        cli.out.print(f"  {mark} {escape(str(criterion.get('condition')))}")


def register(app: typer.Typer) -> None:
    dispute_app = typer.Typer(
        help="Marketing disputes a rejection by sales; a manager upholds or overturns it.", no_args_is_help=True
    )
    app.add_typer(dispute_app, name="dispute")

    @dispute_app.command("open")
    def dispute_open(
        ctx: typer.Context,
        lead: Annotated[str, typer.Argument(help="Lead id or e-mail address.")],
        by: Annotated[str, typer.Option("--by", help="Who disputes it (a user of a marketing department).")],
        note: Annotated[str, typer.Option("--note", help="Why the rejection is wrong.")],
        entry: Annotated[
            int | None,
            typer.Option("--entry", help="The rejection's ledger entry (default: the lead's latest rejection)."),
        ] = None,
        now: Annotated[str | None, typer.Option("--now", help="When (ISO 8601 with offset); default now.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Dispute a lead's rejection; shows which MQL criteria held at handoff, under which pact version."""
        cli = _cli()
        context = cli._ctx(ctx)
        with cli.refusals():
            view = open_dispute(context.app.engine, cli.now_option(ctx, now), lead, by, note, entry)
        if as_json:
            cli._print_json(view_json(view))
            return
        cli.out.print(f"[green]{escape(TEXT[context.settings.lang]['opened'].format(id=view.dispute.id))}[/green]")
        print_view(view, context.settings.lang)

    @dispute_app.command("resolve")
    def dispute_resolve(
        ctx: typer.Context,
        dispute: Annotated[int, typer.Argument(help="The dispute's number (`leadpact dispute list`).")],
        by: Annotated[str, typer.Option("--by", help="The manager deciding it.")],
        note: Annotated[str, typer.Option("--note", help="Why.")],
        uphold: Annotated[
            bool, typer.Option("--uphold", help="The rejection stands: it counts against lead quality.")
        ] = False,
        overturn: Annotated[
            bool,
            typer.Option(
                "--overturn", help="The rejection was wrong: it counts against sales, and the lead goes back."
            ),
        ] = False,
        to: Annotated[
            str | None,
            typer.Option("--to", help="With --overturn: who takes the lead back (default: the rep who held it)."),
        ] = None,
        now: Annotated[str | None, typer.Option("--now", help="When (ISO 8601 with offset); default now.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Uphold or overturn a dispute, once; an overturn gives the lead back to sales with its clocks."""
        cli = _cli()
        context = cli._ctx(ctx)
        if uphold == overturn:
            cli.err.print("[red]error:[/red] say either --uphold (the rejection stands) or --overturn (it was wrong)")
            raise typer.Exit(2)
        outcome = Outcome.UPHELD if uphold else Outcome.OVERTURNED
        with cli.refusals():
            view = resolve_dispute(context.app.engine, cli.now_option(ctx, now), dispute, outcome, by, note, to)
        if as_json:
            cli._print_json(view_json(view))
            return
        lang = context.settings.lang
        cli.out.print(
            f"[green]{escape(TEXT[lang]['resolved'].format(id=view.dispute.id, outcome=_outcome(view, lang)))}[/green]"
        )
        print_view(view, lang)

    @dispute_app.command("list")
    def dispute_list(
        ctx: typer.Context,
        only_open: Annotated[bool, typer.Option("--open", help="Only disputes waiting for a manager.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every dispute, newest first: the rejection, who disputed it, and the verdict."""
        cli = _cli()
        context = cli._ctx(ctx)
        lang = context.settings.lang
        with cli.refusals():
            views = list_disputes(context.app.store(), open_only=only_open)
        if as_json:
            cli._print_json([view_json(v) for v in views])
            return
        if not views:
            cli.out.print(TEXT[lang]["none"])
            return
        table = Table(title=TEXT[lang]["title"].format(n=len(views)))
        for column in ("#", "lead", "rejection", "disputed", "status", "resolved"):
            table.add_column(column, justify="right" if column == "#" else "left")
        for view in views:
            d, r, zone = view.dispute, view.rejection, view.zone
            resolution = d.resolution
            table.add_row(
                str(d.id),
                escape(f"{d.lead_id} {view.email or ''}\n{TEXT[lang]['now'].format(stage=view.stage.value)}"),
                escape(f"#{r.seq} {r.from_stage.value} → {r.to_stage.value} {_reason(view, lang)}\n")
                + escape(f"{r.actor} ({r.department}) {_local(r.at, zone)}"),
                escape(f"{d.by} {_local(d.at, zone)}"),
                SHORT[lang][d.status],
                "-" if resolution is None else escape(f"{resolution.by} {_local(resolution.at, zone)}"),
            )
        cli.out.print(table)

    @dispute_app.command("show")
    def dispute_show(
        ctx: typer.Context,
        dispute: Annotated[int, typer.Argument(help="The dispute's number.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """One dispute: the rejection and its note, the MQL criteria at handoff, the verdict."""
        cli = _cli()
        context = cli._ctx(ctx)
        with cli.refusals():
            view = show_dispute(context.app.store(), dispute)
        if as_json:
            cli._print_json(view_json(view))
            return
        print_view(view, context.settings.lang)
