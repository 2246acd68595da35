"""Commands about identity: list merges, merge two leads by hand, undo a merge, the e-mail policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from leadpact.domain.identity import EmailPolicy
from leadpact.services.identities import (
    MergeView,
    PolicyChange,
    change_policy,
    current_policy,
    display_zone,
    list_merges,
    merge_leads,
    undo_merge,
)

NOW_HELP = "Record it at this instant (ISO 8601 with offset; default: now)."


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def merge_json(view: MergeView) -> dict[str, Any]:
    m = view.merge
    return {
        "id": m.id,
        "merged_at": m.merged_at.isoformat(),
        "merged_by": m.merged_by,
        "rule": m.rule,
        "survivor": {"id": m.survivor_id, "email": view.survivor_email},
        "absorbed": {"id": m.absorbed_id, "email": view.absorbed_email},
        "evidence": dict(m.evidence),
        "note": m.note,
        "before": dict(m.before),
        "after": dict(m.after),
        "ledger_seq": m.merge_seq,
        "undone": None
        if m.undone_at is None
        else {
            "at": m.undone_at.isoformat(),
            "by": m.undone_by,
            **dict(m.undo or {}),
            "ledger_seq": m.unmerge_seq,
        },
    }


def describe_evidence(view: MergeView) -> str:
    """Why the merge was made, in one line per record that showed it."""
    m = view.merge
    if m.rule == "email_policy":
        return f"plus-addressing {m.evidence.get('from')} → {m.evidence.get('to')}: " + ", ".join(
            m.evidence.get("addresses", [])
        )
    if m.rule == "manual":
        kept = m.evidence.get("kept_apart_by")
        return "by hand" + (f" (kept apart by the undo of merge {kept} before)" if kept else "")
    lines = []
    for record in m.evidence.get("records", []):
        lines.append(
            f"{_where(record)}: " + ", ".join(f"{i['id']} = lead {i['lead'] or 'new'}" for i in record["identifiers"])
        )
    return "\n".join(lines)


def _where(record: Mapping[str, Any]) -> str:
    found = record.get("event")
    if isinstance(found, Mapping):
        return f"event {found.get('source')}/{found.get('id')}"
    if "file" in record:
        return f"{record['file']}:{record.get('line', '?')}"
    return ", ".join(f"{k}={v}" for k, v in record.items() if k != "identifiers") or "a record"


def _lead(lead_id: int, email: str | None) -> str:
    return f"{lead_id} {email}" if email else str(lead_id)


def register(app: typer.Typer) -> None:
    identities_app = typer.Typer(
        help="Leads found to be one person: list the merges (newest first), merge by hand, undo, the e-mail policy.",
        invoke_without_command=True,
    )
    app.add_typer(identities_app, name="identities")

    @identities_app.callback(invoke_without_command=True)
    def identities_list(
        ctx: typer.Context,
        lead: Annotated[str | None, typer.Option("--lead", help="Only merges of this lead (id or e-mail).")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many merges.")] = 50,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Merges, newest first: which lead absorbed which, by what rule and evidence, and their undo."""
        if ctx.invoked_subcommand is not None:
            return
        cli = _cli()
        c = cli._ctx(ctx).app
        with cli.refusals():
            merges = list_merges(c.store(), limit, lead)
        if json_output:
            cli._print_json([merge_json(view) for view in merges])
            return
        if not merges:
            cli.out.print("no merges yet")
            return
        zone = display_zone(c.store())
        local = ZoneInfo(zone)
        table = Table(title=f"merges, newest first ({zone})")
        for column in ("merge", "at", "survivor", "absorbed", "rule", "by", "evidence", "undone"):
            table.add_column(column)
        for view in merges:
            m = view.merge
            undone = "—"
            if m.undone_at is not None:
                undone = f"{m.undone_at.astimezone(local):%Y-%m-%d %H:%M} by {m.undone_by}"
                kept = (m.undo or {}).get("kept") or []
                if kept:
                    undone += "; kept: " + ", ".join(kept)
            table.add_row(
                str(m.id),
                f"{m.merged_at.astimezone(local):%Y-%m-%d %H:%M}",
                _lead(m.survivor_id, view.survivor_email),
                _lead(m.absorbed_id, view.absorbed_email),
                m.rule,
                m.merged_by,
                describe_evidence(view) + (f"\nnote: {m.note}" if m.note else ""),
                undone,
            )
        cli.out.print(table)

    @identities_app.command("merge")
    def identities_merge(
        ctx: typer.Context,
        lead_a: Annotated[str, typer.Argument(help="A lead id or e-mail address.")],
        lead_b: Annotated[str, typer.Argument(help="The other lead; the older of the two survives.")],
        by: Annotated[str, typer.Option("--by", help="The user merging them.")],
        note: Annotated[str | None, typer.Option("--note", help="Why (kept with the merge).")] = None,
        now: Annotated[str | None, typer.Option("--now", help=NOW_HELP, show_default=False)] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Merge two leads that are one person; the older keeps its id and takes everything of the other."""
        cli = _cli()
        c = cli._ctx(ctx).app
        with cli.refusals():
            view = merge_leads(c.engine, cli.now_option(ctx, now), lead_a, lead_b, by, note)
        if json_output:
            cli._print_json(merge_json(view))
            return
        m = view.merge
        cli.out.print(
            f"merge {m.id}: lead {_lead(m.absorbed_id, view.absorbed_email)} merged into lead "
            f"{_lead(m.survivor_id, view.survivor_email)}; a manager can undo it with "
            f"`leadpact identities undo {m.id} --by NAME`",
            markup=False,
        )

    @identities_app.command("undo")
    def identities_undo(
        ctx: typer.Context,
        merge_id: Annotated[int, typer.Argument(help="The merge to undo (see `leadpact identities`).")],
        by: Annotated[str, typer.Option("--by", help="The manager undoing it.")],
        now: Annotated[str | None, typer.Option("--now", help=NOW_HELP, show_default=False)] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Separate the two leads of a merge again (managers only); newer merges of either lead go first."""
        cli = _cli()
        c = cli._ctx(ctx).app
        with cli.refusals():
            view = undo_merge(c.engine, cli.now_option(ctx, now), merge_id, by)
        if json_output:
            cli._print_json(merge_json(view))
            return
        m = view.merge
        undo = m.undo or {}
        text = (
            f"merge {m.id} undone: leads {m.survivor_id} and {m.absorbed_id} are two again; "
            f"restored: {', '.join(undo.get('restored', [])) or 'nothing'}"
        )
        if undo.get("kept"):
            text += f"; kept as they are now (changed since the merge): {', '.join(undo['kept'])}"
        cli.out.print(text, markup=False)

    @identities_app.command("policy")
    def identities_policy(
        ctx: typer.Context,
        plus_addressing: Annotated[
            str | None,
            typer.Option(
                "--plus-addressing",
                help="keep, strip, or strip:DOMAIN,DOMAIN (e.g. strip:gmail.com): whether a +tag counts.",
                show_default=False,
            ),
        ] = None,
        by: Annotated[str | None, typer.Option("--by", help="The manager changing it.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change; change nothing.")] = False,
        now: Annotated[str | None, typer.Option("--now", help=NOW_HELP, show_default=False)] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show how e-mail addresses are compared, or change it: stored addresses are re-normalised at once."""
        cli = _cli()
        c = cli._ctx(ctx).app
        if plus_addressing is None:
            policy = current_policy(c.store())
            if json_output:
                cli._print_json({"plus_addressing": str(policy)})
            else:
                cli.out.print(f"plus-addressing: {policy}")
            return
        try:
            wanted = EmailPolicy.parse(plus_addressing)
        except ValueError as exc:
            cli.err.print(f"[red]error:[/red] --plus-addressing: {exc}")
            raise typer.Exit(2) from None
        if by is None:
            cli.err.print("[red]error:[/red] changing the policy needs --by NAME (a manager)")
            raise typer.Exit(2)
        with cli.refusals():
            change = change_policy(c.engine, cli.now_option(ctx, now), wanted, by, dry_run=dry_run)
        if json_output:
            cli._print_json(_policy_json(change))
            return
        cli.out.print(
            f"plus-addressing: {change.before} → {change.after}: {len(change.renamed)} addresses rewritten, "
            f"{len(change.merges)} merges"
            + (f" ({', '.join(map(str, change.merges))})" if change.merges and not change.dry_run else "")
            + (" — dry run, nothing was changed" if change.dry_run else ""),
            markup=False,
        )
        for lead, old, new in change.renamed:
            cli.out.print(f"  lead {lead}: {old} → {new}", markup=False)
        for line in change.kept_apart:
            cli.out.print(f"  {line}", markup=False)


def _policy_json(change: PolicyChange) -> dict[str, Any]:
    return {
        "before": str(change.before),
        "after": str(change.after),
        "renamed": [{"lead": lead, "from": old, "to": new} for lead, old, new in change.renamed],
        "merges": change.merges,
        "kept_apart": change.kept_apart,
        "dry_run": change.dry_run,
    }
