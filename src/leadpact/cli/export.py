"""`leadpact export`: every lead in the import layout of HubSpot, Salesforce or leadpact's own CSV.

The file goes to `--out` (written beside it under a temporary name and moved into place when
complete, so a failed export never leaves half a file behind) or to standard output; the
summary goes to standard error, so a pipe carries the CSV alone.
"""

from __future__ import annotations

import os
import sys
from contextlib import suppress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadpact.domain.errors import DomainError
from leadpact.services.export import ExportReport, count_leads, export_encoding, export_leads


class Target(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    CSV = "csv"


SHOWN_REPLACED = 10


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        ctx: typer.Context,
        target: Annotated[
            Target,
            typer.Option(
                "--format",
                help="hubspot (contact import), salesforce (Data Loader, Lead) or csv (leadpact's own columns).",
                case_sensitive=False,
            ),
        ],
        out: Annotated[
            Path | None, typer.Option("--out", help="The file to write (default: standard output).", show_default=False)
        ] = None,
        now: Annotated[
            str | None,
            typer.Option("--now", help="Scores and clocks as of this ISO date-time with offset (default: now)."),
        ] = None,
        encoding: Annotated[
            str | None,
            typer.Option(
                "--encoding",
                help="utf-8, utf-8-sig or cp932 (default: utf-8 for hubspot and salesforce, utf-8-sig for csv).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Write every lead with its stage, score, owner and newest clock state, in the target's import headers."""
        cli = _cli()
        c = cli._ctx(ctx).app
        at = cli.now_option(ctx, now)
        try:
            chosen = export_encoding(target.value, encoding)
        except DomainError as exc:
            cli.err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        if out is not None and out.is_dir():
            cli.err.print(f"[red]error:[/red] --out {out} is a folder; name the file to write")
            raise typer.Exit(2)
        with Progress(
            TextColumn("export"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=cli.err,
            disable=not cli.err.is_terminal,
        ) as progress:
            task = progress.add_task("export", total=count_leads(c.engine) if cli.err.is_terminal else None)

            def advance(n: int) -> None:
                progress.advance(task, n)

            with cli.refusals():
                if out is None:
                    report = export_leads(c.engine, at, target.value, sys.stdout.buffer, chosen, progress=advance)
                    sys.stdout.flush()
                else:
                    report = _to_file(c.engine, at, target.value, out, chosen, advance)
        _summary(report, str(out) if out is not None else "standard output")

    def _to_file(engine: Any, at: Any, target: str, out: Path, chosen: str, advance: Any) -> ExportReport:
        partial = out.with_name(f".{out.name}.partial")
        try:
            with partial.open("wb") as stream:
                report = export_leads(engine, at, target, stream, chosen, progress=advance)
            os.replace(partial, out)
        except OSError as exc:
            _cli().err.print(f"[red]error:[/red] cannot write {out}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
        finally:
            with suppress(OSError):
                partial.unlink()
        return report


def _summary(report: ExportReport, where: str) -> None:
    cli = _cli()
    scored = (
        f"scores under pact v{report.pact_version}"
        if report.pact_version is not None
        else "no active pact, so no scores"
    )
    cli.err.print(
        f"wrote [bold]{report.rows:,}[/bold] lead(s) in the {report.target} layout ({report.encoding}) to {where}; "
        f"{scored}, clocks as of {report.now.astimezone(ZoneInfo(report.timezone)):%Y-%m-%d %H:%M} "
        f"({report.timezone}, the file's time zone)",
        markup=True,
        highlight=False,
    )
    if report.replaced:
        shown = ", ".join(f"lead {lead} {column}" for lead, column in report.replaced[:SHOWN_REPLACED])
        more = f" and {len(report.replaced) - SHOWN_REPLACED} more" if len(report.replaced) > SHOWN_REPLACED else ""
        cli.err.print(
            f"[yellow]warning:[/yellow] {len(report.replaced)} cell(s) hold characters {report.encoding} cannot "
            f"write, written as '?': {shown}{more}; export with --encoding utf-8 to keep them",
            markup=True,
            highlight=False,
        )
