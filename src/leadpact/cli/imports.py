"""`leadpact import` (vendor exports, in committed batches) and `leadpact quarantine list|export`."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from leadpact.adapters.importers.formats import FORMATS
from leadpact.adapters.importers.mapping import MappingInvalid, load_import_mapping
from leadpact.services.imports import ImportReport, import_file
from leadpact.services.quarantine import quarantine_export, quarantine_rows

SHOWN = 20


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


class RowsPerSecond(ProgressColumn):
    """Rows applied per second, from the rows counted in the task's fields."""

    def render(self, task: Task) -> Text:
        rows = int(task.fields.get("rows", 0))
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = f"{rows / elapsed:,.0f} rows/s" if elapsed else "– rows/s"
        return Text(f"{rows:,} rows  {rate}", style="progress.data.speed")


def _report_json(report: ImportReport) -> dict[str, Any]:
    return {
        "file": report.file,
        "format": report.format,
        "kind": report.kind,
        "encoding": report.encoding,
        "dry_run": report.dry_run,
        "run": report.run_id,
        "resumed_after_line": report.resumed_after,
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "quarantined": report.quarantined,
        "leads_created": report.leads_created,
        "leads_merged": report.leads_merged,
        "stage_changes": report.transitions,
        "columns_not_read": report.unread,
        "owners_not_matched": dict(report.owners_unmatched),
        "file_problems": [str(p) for p in report.file_problems],
        "problems": [
            {"line": p.line, "last_line": p.last_line or p.line, "column": p.column, "reason": p.reason}
            for p in report.problems
        ],
        "other_unfinished_runs": [
            {
                "run": r.id,
                "file": r.file_name,
                "format": r.format,
                "started_at": r.started_at.isoformat(),
                "last_line": r.last_line,
            }
            for r in report.others_unfinished
        ],
    }


def _print_report(report: ImportReport) -> None:
    cli = _cli()
    for problem in report.file_problems:
        cli.err.print(f"[yellow]warning:[/yellow] {problem}", markup=False, highlight=False)
    if report.kind is None:
        cli.out.print(f"{report.file}: nothing imported")
        return
    if report.resumed_after:
        cli.out.print(f"resumed import run {report.run_id} after line {report.resumed_after:,}")
    verb = "would be (--dry-run: nothing was stored)" if report.dry_run else ""
    quarantined = f"[{'red' if report.quarantined else 'green'}]{report.quarantined:,} quarantined[/]"
    cli.out.print(
        f"{report.file} ({report.format}, {report.encoding}): {report.rows:,} rows → "
        f"[green]{report.created:,} created[/green], {report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{quarantined} {verb}".rstrip()
    )
    if report.leads_created or report.transitions or report.leads_merged:
        merged = f", {report.leads_merged:,} merged (leadpact identities)" if report.leads_merged else ""
        cli.out.print(f"  {report.leads_created:,} new leads, {report.transitions:,} stage changes{merged}")
    if report.unread:
        cli.out.print(f"  columns not read: {', '.join(report.unread)} (name them in --mapping to keep them)")
    if report.owners_unmatched:
        names = ", ".join(f"{name} ({n})" for name, n in report.owners_unmatched.most_common(5))
        cli.out.print(
            f"  owners that are no leadpact user: {names}; kept as the crm_owner attribute "
            "(add the user, or map them under owners: in --mapping)"
        )
    for problem in report.problems[:SHOWN]:
        cli.err.print(str(problem), markup=False, highlight=False)
    if report.quarantined > SHOWN:
        cli.err.print(f"… and {report.quarantined - min(SHOWN, len(report.problems)):,} more")
    if report.quarantined and not report.dry_run:
        cli.err.print(f"fix them: leadpact quarantine export --run {report.run_id} --out fix.csv, then import fix.csv")
    for run in report.others_unfinished:
        committed = f"committed up to line {run.last_line:,}" if run.last_line else "nothing committed"
        cli.err.print(
            f"[yellow]warning:[/yellow] import run {run.id} of {escape(run.file_name)} ({run.format}), started "
            f"{run.started_at:%Y-%m-%d %H:%M %Z}, has not finished ({committed}). Unless it is running now, "
            "import the same file again to finish it; until then an activity import's rows do not count in "
            "their leads' scores.",
            highlight=False,
        )


def register(app: typer.Typer, quarantine_app: typer.Typer) -> None:
    @app.command("import")
    def import_command(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="The export file: CSV, or an XLSX workbook.")],
        format: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")],
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="A mapping file for custom columns, stages, owners.")
        ] = None,
        encoding: Annotated[
            str | None, typer.Option("--encoding", help="utf-8, utf-8-sig or cp932 (default: detected).")
        ] = None,
        sheet: Annotated[
            str | None, typer.Option("--sheet", help="The sheet of an XLSX workbook (default: the first).")
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check everything; store nothing.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Import a HubSpot, Salesforce, Marketo or generic export; importing it again changes nothing."""
        cli = _cli()
        context = cli._ctx(ctx)
        if format not in FORMATS:
            cli.err.print(f"[red]error:[/red] unknown format {format!r}; one of {', '.join(FORMATS)}")
            raise typer.Exit(2)
        if not file.is_file():
            cli.err.print(f"[red]error:[/red] no such file: {file}")
            raise typer.Exit(2)
        try:
            found = load_import_mapping(mapping)
        except MappingInvalid as exc:
            cli.report_problems(exc, "nothing was imported")
        c = context.app
        with Progress(
            TextColumn(f"import {file.name}"),
            BarColumn(),
            RowsPerSecond(),
            TimeRemainingColumn(),
            console=cli.err,
            disable=as_json or not cli.err.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=file.stat().st_size, rows=0)

            def advance(rows: int, position: int) -> None:
                done = int(progress.tasks[0].fields.get("rows", 0)) + rows
                progress.update(task, completed=position, rows=done)

            with cli.refusals():
                report = import_file(
                    c.engine,
                    c.clock,
                    file,
                    format,
                    mapping=found,
                    encoding=encoding,
                    sheet=sheet,
                    dry_run=dry_run,
                    batch_size=context.settings.import_batch_size,
                    progress=advance,
                    read_ahead=context.settings.import_read_ahead,
                )
        if as_json:
            cli._print_json(_report_json(report))
        else:
            _print_report(report)

    @quarantine_app.command("list")
    def quarantine_list(
        ctx: typer.Context,
        run: Annotated[int | None, typer.Option("--run", help="Only this import run.")] = None,
        limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The records imports could not take, with file, line, column and reason."""
        cli = _cli()
        with cli.refusals():
            rows = quarantine_rows(cli._ctx(ctx).app.engine, run, limit)
        if as_json:
            cli._print_json(
                [
                    {
                        "run": r.run_id,
                        "file": r.file_name,
                        "line": r.line,
                        "last_line": r.last_line,
                        "column": r.column,
                        "reason": r.reason,
                        "raw": r.raw,
                    }
                    for r in rows
                ]
            )
            return
        if not rows:
            cli.out.print("quarantine is empty")
            return
        table = Table(title=f"{len(rows)} quarantined record(s)")
        for column in ("run", "where", "column", "reason"):
            table.add_column(column)
        for r in rows:
            where = f"{r.file_name}:{r.line}" + (f"-{r.last_line}" if r.last_line != r.line else "")
            table.add_row(str(r.run_id), where, r.column or "", r.reason)
        cli.out.print(table)

    @quarantine_app.command("export")
    def quarantine_export_command(
        ctx: typer.Context,
        out: Annotated[Path, typer.Option("--out", help="The CSV to write: fix it and import it again.")],
        run: Annotated[int | None, typer.Option("--run", help="The import run (default: the newest with any).")] = None,
        problems: Annotated[
            Path | None, typer.Option("--problems", help="Also write file, line, column, reason here.")
        ] = None,
    ) -> None:
        """Write a run's quarantined records under the file's own header, to fix and import again."""
        cli = _cli()
        with cli.refusals():
            exported = quarantine_export(cli._ctx(ctx).app.engine, run)
        out.write_text(
            exported.text, encoding="utf-8-sig" if exported.encoding == "utf-8-sig" else exported.encoding, newline=""
        )
        if problems is not None:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["file", "line", "last_line", "column", "reason"])
            for r in exported.rows:
                writer.writerow([r.file_name, r.line, r.last_line, r.column or "", r.reason])
            problems.write_text(buffer.getvalue(), encoding="utf-8-sig")
        cli.out.print(
            f"{len(exported.rows)} record(s) of run {exported.run_id} ({exported.file_name}) written to {out}"
            f" ({exported.encoding}); fix them and run: leadpact import {out} --format {exported.format}"
        )
