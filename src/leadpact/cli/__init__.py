"""The `leadpact` command line: Typer commands that translate arguments into service calls.

Commands print for people with Rich and, where asked, JSON for scripts. Errors the
user can fix are one clear line on stderr: exit code 2 for invalid input (a pact or a
file), 1 for a refused request (an illegal move, an unknown user or version).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leadpact.adapters.channels import Channels, ChannelsInvalid, load_channels
from leadpact.adapters.located_yaml import DocumentInvalid
from leadpact.adapters.pact_yaml import PactInvalid, read_pact_file
from leadpact.bootstrap import App, bootstrap
from leadpact.config import Settings
from leadpact.domain.agreement import agreement_rows
from leadpact.domain.errors import DomainError
from leadpact.domain.pact_diff import describe_routing_rule, pact_changes
from leadpact.services import pacts, users

app = typer.Typer(
    name="leadpact",
    help="The marketing–sales pact, enforced with data: sign the MQL/SQL definitions, score leads, keep the ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
pact_app = typer.Typer(help="Write, sign off and compare the MQL/SQL agreement.", no_args_is_help=True)
user_app = typer.Typer(help="Manage the people and their departments.", no_args_is_help=True)
lead_app = typer.Typer(help="Look at one lead.", no_args_is_help=True)
ledger_app = typer.Typer(help="Check the lifecycle ledger.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the store.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="The records imports could not take: list them, export them to fix.", no_args_is_help=True
)
app.add_typer(pact_app, name="pact")
app.add_typer(user_app, name="user")
app.add_typer(lead_app, name="lead")
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")
app.add_typer(quarantine_app, name="quarantine")


def _console(stderr: bool) -> Console:
    """Wrap for a terminal; never wrap lines written to a file or a pipe (they are read by tools)."""
    console = Console(stderr=stderr, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=160)


out = _console(stderr=False)
err = _console(stderr=True)


class Context:
    """What the top-level options decided; commands build the app from it on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._app: App | None = None
        self._channels: Channels | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = bootstrap(self.settings)
        return self._app

    @property
    def channels(self) -> Channels:
        """The notification channels, checked before anything is recorded (exit 2 when the file has problems)."""
        if self._channels is None:
            try:
                self._channels = load_channels(self.settings.channels, os.environ)
            except ChannelsInvalid as exc:
                report_problems(exc, "no channel was used")
        return self._channels


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (default: LEADPACT_DATABASE_URL or sqlite:///leadpact.db).", show_default=False
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="ja or en (default: LEADPACT_LANG or ja).")] = None,
    channels: Annotated[
        Path | None,
        typer.Option(
            "--channels",
            help="Notification channels file (default: LEADPACT_CHANNELS; none: breaches are not escalated).",
            show_default=False,
        ),
    ] = None,
) -> None:
    overrides: dict[str, Any] = {}
    if db:
        overrides["database_url"] = db
    if lang:
        overrides["lang"] = lang
    if channels:
        overrides["channels"] = channels
    ctx.obj = Context(_settings(overrides))


def _settings(overrides: dict[str, Any]) -> Settings:
    """The settings, or one line per setting the user must fix (exit 2) instead of a traceback."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # pydantic-settings could not parse a JSON value
        named = re.search(r'field "(\w+)"', str(exc))
        setting = f"LEADPACT_{named.group(1).upper()}" if named else "a LEADPACT_ setting"
        err.print(f"[red]error:[/red] {escape(setting)} is not valid JSON")
    except ValidationError as exc:
        for problem in exc.errors():
            field, *inside = problem["loc"]
            where = f"LEADPACT_{str(field).upper()}" + "".join(f"[{part!r}]" for part in inside)
            message = str(problem["msg"]).removeprefix("Value error, ")
            err.print(f"[red]error:[/red] {escape(where)}: {escape(message)}")
    raise typer.Exit(2)


def main() -> None:
    app()


@contextmanager
def refusals() -> Iterator[None]:
    """Turn domain refusals into one readable line and exit code 1."""
    try:
        yield
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.obj
    assert isinstance(obj, Context)
    return obj


def now_option(ctx: typer.Context, text: str | None) -> datetime:
    """A command's `--now`: an ISO date-time with an offset, or the app clock's now when not given."""
    if text is None:
        return _ctx(ctx).app.clock.now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"[red]error:[/red] --now {text!r} is not an ISO date-time (e.g. 2026-04-13T12:00+09:00)")
        raise typer.Exit(2) from None
    if value.tzinfo is None:
        err.print(f"[red]error:[/red] --now {text!r} needs an offset (e.g. +09:00 or Z)")
        raise typer.Exit(2)
    return value


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# --- pact ---------------------------------------------------------------------


def report_problems(exc: DocumentInvalid, consequence: str) -> NoReturn:
    """Print each located problem of a file on its own line, then exit 2."""
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    err.print(f"[red]{len(exc.problems)} problem(s); {consequence}.[/red]")
    raise typer.Exit(2)


def _read_pact(path: Path) -> Any:
    try:
        return read_pact_file(path)
    except PactInvalid as exc:
        report_problems(exc, "nothing was stored")


@pact_app.command("validate")
def pact_validate(file: Annotated[Path, typer.Argument(help="The pact YAML file.")]) -> None:
    """Check a pact file; every problem is printed with its line and YAML path."""
    document = _read_pact(file)
    pact = document.pact
    out.print(
        f"[green]valid[/green] {file}: {len(pact.scoring.behaviour)} behaviour rules, "
        f"{len(pact.scoring.attributes)} attribute rules, {len(pact.clocks)} clocks, "
        f"approvers: {', '.join(pact.approvers)} (sha256 {document.content_hash[:12]})"
    )


@pact_app.command("propose")
def pact_propose(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The pact YAML file.")],
    by: Annotated[str, typer.Option("--by", help="The user proposing it.")],
) -> None:
    """Store a pact file as the next draft version."""
    document = _read_pact(file)
    c = _ctx(ctx).app
    with refusals():
        proposed = pacts.propose_pact(c.store(), c.clock, document, by)
    out.print(
        f"proposed pact [bold]v{proposed.version}[/bold] (sha256 {proposed.content_hash[:12]}); "
        f"needs approval from: {', '.join(proposed.pact.approvers)}"
    )


@pact_app.command("approve")
def pact_approve(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="The version to approve.")],
    by: Annotated[str, typer.Option("--by", help="The approving user; their department signs.")],
) -> None:
    """Approve a draft for your department; it becomes active once every approving department has."""
    c = _ctx(ctx).app
    with refusals():
        outcome = pacts.approve_pact(c.store(), c.clock, version, by)
    if outcome.activated:
        out.print(
            f"v{version} approved by {by} ({outcome.department}); [green]pact v{version} is now active[/green]; "
            f"{outcome.new_mqls} waiting leads met its MQL criteria and became MQL"
        )
    else:
        out.print(f"v{version} approved by {by} ({outcome.department}); waiting for: {', '.join(outcome.waiting_for)}")


@pact_app.command("show")
def pact_show(
    ctx: typer.Context,
    version: Annotated[int | None, typer.Argument(help="Version (default: the active one).")] = None,
) -> None:
    """Print the agreement table: MQL and SQL definitions side by side."""
    context = _ctx(ctx)
    c = context.app
    lang = context.settings.lang
    with refusals():
        found = pacts.get_pact(c.store(), version)
    title = {"ja": "合意項目", "en": "Agreed item"}[lang]
    table = Table(title=f"{found.pact.name} — v{found.version} ({found.status})", show_lines=True)
    table.add_column(title, style="bold")
    table.add_column({"ja": "MQL定義", "en": "MQL definition"}[lang])
    table.add_column({"ja": "SQL定義", "en": "SQL definition"}[lang])
    for row in agreement_rows(found.pact, lang):
        table.add_row(row.item, row.mql, row.sql)
    out.print(table)
    routing = found.pact.routing
    if routing is not None:
        cap = f", {routing.capacity_per_day}/day" if routing.capacity_per_day else ""
        out.print(f"{ {'ja': 'MQLの振り分け', 'en': 'MQL routing'}[lang] }: {routing.department}{cap}")
        for rule in routing.rules:
            out.print(f"  {describe_routing_rule(rule)}")


@pact_app.command("diff")
def pact_diff(
    ctx: typer.Context,
    a: Annotated[int, typer.Argument(help="The older version.")],
    b: Annotated[int, typer.Argument(help="The newer version.")],
) -> None:
    """What changed from version A to version B, in business terms."""
    c = _ctx(ctx).app
    with refusals():
        old, new = pacts.get_pact(c.store(), a), pacts.get_pact(c.store(), b)
    changes = pact_changes(old.pact, new.pact)
    if not changes:
        out.print(f"v{a} and v{b} agree on everything")
    for line in changes:
        out.print(line, markup=False)


@pact_app.command("history")
def pact_history(ctx: typer.Context) -> None:
    """Every version: who proposed it, who approved it for which department, and when."""
    c = _ctx(ctx).app
    history = pacts.pact_history(c.store())
    # each version's own calendar zone: the dates people signed on, as they read them
    table = Table(title="Pact history")
    for column in ("version", "status", "proposed", "approvals", "active since", "sha256"):
        table.add_column(column)
    for item in history:
        v = item.version
        zone = ZoneInfo(v.pact.calendar.timezone)

        def local(at: datetime, zone: ZoneInfo = zone) -> str:
            return f"{at.astimezone(zone):%Y-%m-%d %H:%M %Z}"

        approvals = "\n".join(f"{a.user} ({a.department}) {local(a.approved_at)}" for a in item.approvals)
        table.add_row(
            f"v{v.version}",
            v.status,
            f"{v.proposed_by} {local(v.proposed_at)}",
            approvals or "—",
            local(v.activated_at) if v.activated_at else "—",
            v.content_hash[:12],
        )
    out.print(table)


# --- users --------------------------------------------------------------------


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's name, as used in --by options and events.")],
    department: Annotated[str, typer.Option("--department", help="Department id from the pact (e.g. marketing).")],
    email: Annotated[str | None, typer.Option("--email", help="E-mail address for notifications.")] = None,
    manager: Annotated[bool, typer.Option("--manager", help="May override criteria with a reason.")] = False,
) -> None:
    """Add a person to a department."""
    c = _ctx(ctx).app
    with refusals():
        user = users.add_user(c.store(), c.clock, name, department, email, manager)
    out.print(f"added {user.name} ({user.department}{', manager' if user.is_manager else ''})")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """Everyone, by department."""
    c = _ctx(ctx).app
    table = Table()
    for column in ("name", "department", "email", "manager", "active"):
        table.add_column(column)
    for u in users.list_users(c.store()):
        table.add_row(
            u.name, u.department, u.email or "", "yes" if u.is_manager else "", "yes" if u.is_active else "no"
        )
    out.print(table)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the store's schema up to date (commands do this on their own too)."""
    c = _ctx(ctx).app
    out.print(f"store is up to date: {c.engine.url.render_as_string(hide_password=True)}")


from leadpact.cli import leads as _leads  # noqa: E402  (commands register themselves on `app`)

_leads.register(app, lead_app, ledger_app)

from leadpact.cli import demo as _demo  # noqa: E402

_demo.register(app)

from leadpact.cli import calendar as _calendar  # noqa: E402

_calendar.register(app)

from leadpact.cli import sla as _sla  # noqa: E402

_sla.register(app)

from leadpact.cli import routing as _routing  # noqa: E402

_routing.register(app, lead_app, user_app)

from leadpact.cli import channels as _channels  # noqa: E402

_channels.register(app)

from leadpact.cli import imports as _imports  # noqa: E402

_imports.register(app, quarantine_app)

from leadpact.cli import export as _export  # noqa: E402

_export.register(app)

from leadpact.cli import identities as _identities  # noqa: E402

_identities.register(app)

from leadpact.cli import serve as _serve  # noqa: E402

_serve.register(app)

from leadpact.cli import rejections as _rejections  # noqa: E402

_rejections.register(lead_app)

from leadpact.cli import disputes as _disputes  # noqa: E402

_disputes.register(app)

from leadpact.cli import feedback as _feedback  # noqa: E402

_feedback.register(app)

from leadpact.cli import checklist as _checklist  # noqa: E402

_checklist.register(app)

from leadpact.cli import kpi as _kpi  # noqa: E402

_kpi.register(app)

from leadpact.cli import accountability as _accountability  # noqa: E402

_accountability.register(app)
