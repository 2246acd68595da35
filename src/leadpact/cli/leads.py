"""Commands about leads: ingest events, explain a score, show a lead, verify the ledger."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadpact.adapters.events import read_lines
from leadpact.domain.scoring import ScoreBreakdown
from leadpact.services.ingest import ingest
from leadpact.services.leads import score_lead, show_lead
from leadpact.services.ledger import verify_ledger
from leadpact.services.rescore import rescore_active


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _breakdown_table(breakdown: ScoreBreakdown, explain: bool) -> Table:
    table = Table(
        title=f"score {breakdown.total:.1f} (pact v{breakdown.pact_version}, at {breakdown.at:%Y-%m-%d %H:%M} UTC)"
    )
    for column in ("rule", "kind", "matches", "points"):
        table.add_column(column, justify="right" if column in ("matches", "points") else "left")
    for rule in breakdown.rules:
        if not explain and not rule.points:
            continue
        capped = " (cap)" if rule.capped else ""
        table.add_row(rule.label, rule.kind, str(rule.matches), f"{rule.points:.1f}{capped}")
    table.add_row("[bold]total[/bold]", "", "", f"[bold]{breakdown.total:.1f}[/bold]")
    return table


def _breakdown_json(breakdown: ScoreBreakdown) -> dict[str, Any]:
    return {
        "pact_version": breakdown.pact_version,
        "at": breakdown.at.isoformat(),
        "total": breakdown.total,
        "behaviour": breakdown.behaviour,
        "attributes": breakdown.attributes,
        "rules": [
            {
                "rule": r.rule_id,
                "label": r.label,
                "kind": r.kind,
                "matches": r.matches,
                "points": r.points,
                "capped": r.capped,
            }
            for r in breakdown.rules
        ],
    }


def _evidence_table(evidence: Mapping[str, Any], at: datetime, version: int | None) -> Table:
    """Why a lead became an MQL: the score rule by rule and each criterion, as the ledger keeps them."""
    score = evidence.get("score", {})
    total = score.get("total", 0.0) if isinstance(score, dict) else 0.0
    table = Table(title=f"lead → mql at {at:%Y-%m-%d %H:%M} under pact v{version}: score {total:.1f}")
    table.add_column("rule / criterion")
    table.add_column("points / met", justify="right")
    for rule in score.get("rules", []) if isinstance(score, dict) else []:
        capped = " (cap)" if rule.get("capped") else ""
        table.add_row(f"{rule.get('label')} ×{rule.get('matches')}", f"{rule.get('points', 0):+.1f}{capped}")
    for criterion in evidence.get("criteria", []):
        table.add_row(str(criterion.get("condition")), "✓" if criterion.get("met") else "✗")
    return table


def register(app: typer.Typer, lead_app: typer.Typer, ledger_app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        ctx: typer.Context,
        file: Annotated[
            Path, typer.Argument(help="A JSON Lines file of canonical events (see docs/events.md); - for stdin.")
        ],
        json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Apply canonical events in file order; running the same file again changes nothing."""
        cli = _cli()
        context = cli._ctx(ctx)
        c = context.app
        if str(file) != "-" and not file.is_file():
            cli.err.print(f"[red]error:[/red] no such file: {file}")
            raise typer.Exit(2)
        total = None if str(file) == "-" else sum(1 for _ in file.open("rb"))
        stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
        with (
            stream,
            Progress(
                TextColumn("ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=cli.err,
                disable=json_output or not cli.err.is_terminal,
            ) as progress,
        ):
            task = progress.add_task("ingest", total=total)
            report = ingest(
                c.engine,
                c.clock,
                read_lines(stream),
                batch_size=context.settings.ingest_batch_size,
                progress=lambda n: progress.advance(task, n),
            )
        if json_output:
            cli._print_json(
                {
                    "created": report.created,
                    "unchanged": report.unchanged,
                    "rejected": [{"line": r.line, "id": r.event_id, "reason": r.reason} for r in report.rejected],
                    "leads_created": report.leads_created,
                    "leads_merged": report.leads_merged,
                    "transitions": report.transitions,
                }
            )
        else:
            cli.out.print(
                f"{file}: [green]{report.created} created[/green], {report.unchanged} unchanged, "
                f"[{'red' if report.rejected else 'green'}]{len(report.rejected)} rejected[/]"
                f" ({report.leads_created} new leads, "
                + (f"{report.leads_merged} merged, " if report.leads_merged else "")
                + f"{report.transitions} stage changes)"
            )
            for r in report.rejected[:50]:
                cli.err.print(f"{file}:{r.line}: {r.event_id or '-'}: {r.reason}", markup=False)
            if len(report.rejected) > 50:
                cli.err.print(f"… and {len(report.rejected) - 50} more (use --json for all)")
        if report.rejected:
            raise typer.Exit(1)

    @app.command("score")
    def score_command(
        ctx: typer.Context,
        lead: Annotated[str, typer.Argument(help="Lead id or e-mail address.")],
        explain: Annotated[bool, typer.Option("--explain", help="List every rule, including those giving 0.")] = False,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """A lead's score now under the active pact, rule by rule."""
        cli = _cli()
        c = cli._ctx(ctx).app
        with cli.refusals():
            breakdown = score_lead(c.store(), lead, c.clock.now())
        if json_output:
            cli._print_json(_breakdown_json(breakdown))
        else:
            cli.out.print(_breakdown_table(breakdown, explain))

    @app.command("rescore")
    def rescore_command(
        ctx: typer.Context,
        json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Rebuild every lead's score under the active pact (after an upgrade or a restore)."""
        cli = _cli()
        c = cli._ctx(ctx).app
        with cli.refusals():
            report = rescore_active(c.engine, c.clock.now())
        run = report.run
        steps = run.read_seconds + run.score_seconds + run.write_seconds
        if json_output:
            cli._print_json(
                {
                    "pact_version": report.pact_version,
                    "leads": run.leads,
                    "leads_with_activity": run.leads_with_activity,
                    "activities": run.activities,
                    "seconds": {
                        "read": run.read_seconds,
                        "score": run.score_seconds,
                        "write": run.write_seconds,
                        "total": report.seconds,
                    },
                }
            )
        else:
            cli.out.print(
                f"rescored [green]{run.leads:,} leads[/green] ({run.leads_with_activity:,} with scored activity) "
                f"from {run.activities:,} activities under pact v{report.pact_version} in {report.seconds:.2f} s: "
                f"read {run.read_seconds:.2f} s, score {run.score_seconds:.2f} s, write {run.write_seconds:.2f} s, "
                f"and {max(0.0, report.seconds - steps):.2f} s to start the scoring process and commit"
            )

    @lead_app.command("show")
    def lead_show(
        ctx: typer.Context,
        lead: Annotated[str, typer.Argument(help="Lead id or e-mail address.")],
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Attributes, stage, owner, score and the timeline of activities and ledger entries."""
        cli = _cli()
        c = cli._ctx(ctx).app
        with cli.refusals():
            now = c.clock.now()
            view = show_lead(c.store(), lead, now)
        lead_ = view.lead
        if json_output:
            cli._print_json(
                {
                    "id": lead_.id,
                    "email": lead_.email,
                    "stage": lead_.stage.value,
                    "stage_changed_at": lead_.stage_changed_at.isoformat(),
                    "owner": lead_.owner,
                    "attributes": dict(lead_.attributes),
                    "refs": [{"system": s, "id": i} for s, i in view.refs],
                    "other_emails": view.other_emails,
                    "company": {"name": view.company[0], "domains": view.company[1]} if view.company else None,
                    "bant": lead_.bant.as_evidence(),
                    "score": _breakdown_json(view.score) if view.score else None,
                    "timeline": [
                        {
                            "at": item.at.isoformat(),
                            "kind": item.kind,
                            "text": item.text,
                            "pact_version": item.pact_version,
                            "seq": item.seq,
                            "evidence": dict(item.entry.evidence) if item.entry else None,
                            "properties": item.properties,
                        }
                        for item in view.timeline
                    ],
                    "clocks": [
                        {
                            "clock": run.clock_id,
                            "pact_version": run.pact_version,
                            "responsible": run.responsible,
                            "started_at": run.started_at.isoformat(),
                            "due_at": run.due_at.isoformat(),
                            "stopped_at": run.stopped_at.isoformat() if run.stopped_at else None,
                            "stopped_by": run.stopped_by.value if run.stopped_by else None,
                            "state": run.state_at(now).value,
                        }
                        for run in view.clocks
                    ],
                }
            )
            return
        zone = ZoneInfo(view.timezone)
        local = f"%Y-%m-%d %H:%M ({view.timezone})"
        cli.out.print(
            f"[bold]lead {lead_.id}[/bold] {lead_.email or ''}  stage [bold]{lead_.stage.value}[/bold] "
            f"since {lead_.stage_changed_at.astimezone(zone):{local}}  owner {lead_.owner or '—'}"
        )
        for system, external_id in view.refs:
            cli.out.print(f"  {system} id: {external_id}", markup=False)
        if view.other_emails:
            cli.out.print(f"  also known as: {', '.join(view.other_emails)}", markup=False)
        if view.company is not None:
            name, domains = view.company
            cli.out.print(f"  company found: {name or '—'} ({', '.join(domains) or 'no domain'})", markup=False)
        for key, value in sorted(lead_.attributes.items()):
            cli.out.print(f"  {key}: {value}", markup=False)
        if view.score:
            cli.out.print(_breakdown_table(view.score, explain=False))
        table = Table(title="timeline")
        for column in (f"at ({view.timezone})", "kind", "what", "pact"):
            table.add_column(column)
        for item in view.timeline:
            what = item.text
            if item.properties:
                what += " " + " ".join(f"{k}={v}" for k, v in item.properties.items())
            version = f"v{item.pact_version}" if item.pact_version else ""
            table.add_row(f"{item.at.astimezone(zone):%Y-%m-%d %H:%M}", item.kind, escape(what), version)
        cli.out.print(table)
        if view.clocks:
            clocks = Table(title="handoff clocks")
            for column in ("clock", "responsible", "started", "due", "stopped", "state", "pact"):
                clocks.add_column(column)
            for run in view.clocks:
                stopped = f"{run.stopped_at.astimezone(zone):%Y-%m-%d %H:%M}" if run.stopped_at else "—"
                if run.stopped_by:
                    stopped += f" ({run.stopped_by.value})"
                clocks.add_row(
                    run.clock_id,
                    run.responsible,
                    f"{run.started_at.astimezone(zone):%Y-%m-%d %H:%M}",
                    f"{run.due_at.astimezone(zone):%Y-%m-%d %H:%M}",
                    stopped,
                    run.state_at(now).value,
                    f"v{run.pact_version}",
                )
            cli.out.print(clocks)
        for item in view.timeline:
            entry = item.entry
            # why it became an MQL, when the move checked the criteria (a reinstatement by an overturned
            # dispute checks none: its evidence is the dispute)
            if entry is not None and entry.to_stage == "mql" and not entry.imported and "criteria" in entry.evidence:
                cli.out.print(_evidence_table(entry.evidence, item.at.astimezone(zone), item.pact_version))

    @ledger_app.command("verify")
    def ledger_verify(ctx: typer.Context) -> None:
        """Recompute the hash chain; report the first entry that was altered, removed or reordered."""
        cli = _cli()
        c = cli._ctx(ctx).app
        checked, broken = verify_ledger(c.store())
        if broken is None:
            cli.out.print(f"[green]ledger intact[/green]: {checked} entries, hash chain verified")
            return
        what = (
            "its link to the previous entry is broken (an entry was removed or reordered)"
            if broken.broken_link
            else "its content no longer matches its hash (the entry was altered)"
        )
        cli.err.print(
            f"[red]ledger broken at entry #{broken.seq}[/red]: {what}; {checked} entries before it are intact"
        )
        raise typer.Exit(1)
