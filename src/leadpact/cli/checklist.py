"""`leadpact checklist`: the 12-item responsibility checklist, with its evidence and what to do next."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from leadpact.domain.agreement import Lang
from leadpact.domain.checklist import Checklist, Status
from leadpact.services.checklist import run_checklist

MARK = {Status.PASS: "[green]✓[/green]", Status.PARTIAL: "[yellow]△[/yellow]", Status.FAIL: "[red]✗[/red]"}
TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "title": "マーケ・営業責任分担チェックリスト ({at})",
        "item": "項目",
        "evidence": "根拠",
        "next": "次にやること",
        "summary": "{total} 項目中 {passed} 項目を満たしています (一部のみ {partial}、未達 {failed})",
    },
    "en": {
        "title": "Marketing–sales responsibility checklist ({at})",
        "item": "item",
        "evidence": "evidence",
        "next": "next step",
        "summary": "{passed} of {total} items pass ({partial} partly, {failed} not)",
    },
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _json(checklist: Checklist, lang: Lang) -> dict[str, Any]:
    return {
        "now": checklist.now.isoformat(),
        "lang": lang,
        "passed": checklist.count(Status.PASS),
        "partial": checklist.count(Status.PARTIAL),
        "failed": checklist.count(Status.FAIL),
        "total": len(checklist.items),
        "items": [
            {
                "number": number,
                "id": item.id,
                "title": item.title(lang),
                "status": item.status.value,
                "evidence": [line(lang) for line in item.evidence],
                "next_step": item.next_step(lang) if item.next_step else None,
            }
            for number, item in enumerate(checklist.items, start=1)
        ],
    }


def register(app: typer.Typer) -> None:
    @app.command("checklist")
    def checklist(
        ctx: typer.Context,
        now: Annotated[
            str | None, typer.Option("--now", help="Judge the store as of this instant (ISO with offset).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The seed's 12-item responsibility checklist, judged from the store: ✓/△/✗, the evidence, what to do."""
        cli = _cli()
        context = cli._ctx(ctx)
        at = cli.now_option(ctx, now)
        lang = context.settings.lang
        found = run_checklist(context.app.engine, at, context.settings.channels, os.environ)
        data = _json(found, lang)
        if as_json:
            cli._print_json(data)
            return
        text = TEXT[lang]
        table = Table(title=text["title"].format(at=at.isoformat(timespec="minutes")), show_lines=True, expand=True)
        table.add_column("#", justify="right")
        table.add_column("")
        # long names and commands have no spaces to wrap at: fold them rather than cut them off
        table.add_column(text["item"], ratio=2, overflow="fold")
        table.add_column(text["evidence"], ratio=5, overflow="fold")
        table.add_column(text["next"], ratio=3, overflow="fold")
        for item, shown in zip(found.items, data["items"], strict=True):
            table.add_row(
                str(shown["number"]),
                MARK[item.status],
                escape(shown["title"]),
                escape("\n".join(shown["evidence"])),
                escape(shown["next_step"] or ""),
            )
        cli.out.print(table)
        cli.out.print(text["summary"].format(**{k: data[k] for k in ("passed", "partial", "failed", "total")}))
