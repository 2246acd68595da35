"""`leadpact calendar`: when a deadline falls due, and how many business days lie between two days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.table import Table

from leadpact.domain.calendar import WEEKDAYS, BusinessCalendar, DayOff
from leadpact.domain.errors import NotFound
from leadpact.domain.pact import Calendar, Deadline, DeadlineUnit
from leadpact.services.pacts import get_pact

calendar_app = typer.Typer(help="Count business days on the pact's calendar.", no_args_is_help=True)

TEXT = {
    "ja": {
        "due": "期限",
        "end_of": "{day} の終わり",
        "wall": "壁時計で{hours}時間後",
        "after": "{start} の翌日から数えて{n}営業日目",
        "weekdays": "月火水木金土日",
        "days": "{first} の翌日から {last} までの営業日: {n}日",
        "off": "休業日",
        "weekend": "週末",
        "holiday": "祝日",
        "closed": "休業",
        "calendar": "カレンダー",
    },
    "en": {
        "due": "due",
        "end_of": "end of {day}",
        "wall": "{hours} hours on the wall clock",
        "after": "business day {n} after {start}",
        "weekdays": "",
        "days": "business days after {first} up to and including {last}: {n}",
        "off": "days off",
        "weekend": "weekend",
        "holiday": "holiday",
        "closed": "closed",
        "calendar": "calendar",
    },
}


def _cli() -> Any:
    import leadpact.cli as cli  # the root module owns the consoles and context helpers

    return cli


def _calendar(ctx: typer.Context, pact_file: Path | None) -> tuple[Calendar, str]:
    """The calendar of --pact FILE, else of the store's active pact, else the default one."""
    cli = _cli()
    if pact_file is not None:
        return cli._read_pact(pact_file).pact.calendar, str(pact_file)
    app = cli._ctx(ctx).app
    try:
        found = get_pact(app.store())
    except NotFound:
        cli.err.print("no pact in the store: using the default calendar (Asia/Tokyo, Mon–Fri, JP holidays)")
        return Calendar(), "default"
    return found.pact.calendar, f"pact v{found.version}"


def _describe(calendar: Calendar, source: str) -> str:
    days = ",".join(d.value for d in calendar.workdays)
    closures = f", {len(calendar.closed)} closure rule(s)" if calendar.closed else ""
    hours = f", hours {calendar.hours.opens:%H:%M}–{calendar.hours.closes:%H:%M}" if calendar.hours else ""
    return f"{source}: {calendar.timezone}, {days}, holidays {calendar.holidays or 'none'}{closures}{hours}"


def _instant(text: str, calendar: BusinessCalendar, what: str) -> datetime:
    """An ISO date or date-time; without an offset it is read in the calendar's time zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        _cli().err.print(f"[red]error:[/red] {what} {text!r} is not an ISO date or date-time (e.g. 2026-04-28T10:00)")
        raise typer.Exit(2) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=calendar.zone)


def _day(day: date, t: dict[str, str]) -> str:
    """2026-05-07 (木) or Thu 2026-05-07, whatever the C locale says."""
    if t["weekdays"]:
        return f"{day.isoformat()} ({t['weekdays'][day.weekday()]})"
    return f"{WEEKDAYS[day.weekday()][:3]} {day.isoformat()}"


def _off_table(offs: list[DayOff], t: dict[str, str]) -> Table:
    table = Table(title=t["off"], title_justify="left")
    for column in ("date", "why", "name"):
        table.add_column(column)
    for off in offs:
        name = f"{t['weekdays'][off.day.weekday()]}曜日" if off.reason == "weekend" and t["weekdays"] else off.name
        table.add_row(_day(off.day, t), t[off.reason], name)
    return table


def _off_json(offs: list[DayOff]) -> list[dict[str, str]]:
    return [{"date": o.day.isoformat(), "reason": o.reason, "name": o.name} for o in offs]


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")

    @calendar_app.command("due")
    def calendar_due(
        ctx: typer.Context,
        start: Annotated[
            str, typer.Option("--start", help="When the clock starts: ISO date-time (local if no offset).")
        ],
        within: Annotated[str, typer.Option("--within", help="The deadline: '24 hours', '3 business days'.")],
        pact_file: Annotated[Path | None, typer.Option("--pact", help="Read the calendar of this pact file.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """When a deadline starting at --start falls due, and which days off it skipped."""
        cli = _cli()
        try:
            deadline = Deadline.model_validate(within)
        except pydantic.ValidationError as exc:
            cli.err.print(f"[red]error:[/red] {exc.errors()[0]['msg'].removeprefix('Value error, ')}")
            raise typer.Exit(2) from None
        calendar, source = _calendar(ctx, pact_file)
        business = BusinessCalendar.of(calendar)
        began = _instant(start, business, "--start")
        due = business.due(began, deadline)
        local = due.astimezone(business.zone)
        first = business.local_day(began)
        offs = list(business.days_off(first, local.date())) if deadline.unit is DeadlineUnit.BUSINESS_DAYS else []
        if as_json:
            cli._print_json(
                {
                    "start": began.isoformat(),
                    "within": deadline.describe(),
                    "due": local.isoformat(),
                    "due_utc": due.isoformat(),
                    "calendar": _describe(calendar, source),
                    "days_off": _off_json(offs),
                }
            )
            return
        t = TEXT[cli._ctx(ctx).settings.lang]
        if deadline.unit is DeadlineUnit.HOURS:
            why = t["wall"].format(hours=f"{deadline.amount:g}")
        else:
            last = business.nth_business_day_after(first, int(deadline.amount))
            ended = t["end_of"].format(day=_day(last, t))
            why = f"{ended}: " + t["after"].format(n=int(deadline.amount), start=_day(first, t))
        cli.out.print(f"{t['due']}: [bold]{local:%Y-%m-%d %H:%M %Z}[/bold] ({due:%Y-%m-%dT%H:%MZ}) — {why}")
        cli.out.print(f"{t['calendar']}: {_describe(calendar, source)}")
        if offs:
            cli.out.print(_off_table(offs, t))

    @calendar_app.command("days")
    def calendar_days(
        ctx: typer.Context,
        first: Annotated[str, typer.Argument(help="From this day (not counted): ISO date.")],
        last: Annotated[str, typer.Argument(help="Up to and including this day: ISO date.")],
        pact_file: Annotated[Path | None, typer.Option("--pact", help="Read the calendar of this pact file.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Count the business days after FIRST up to and including LAST."""
        cli = _cli()
        calendar, source = _calendar(ctx, pact_file)
        business = BusinessCalendar.of(calendar)
        days = [business.local_day(_instant(text, business, name)) for text, name in ((first, "FROM"), (last, "TO"))]
        count = business.business_days(days[0], days[1])
        low, high = min(days), max(days)
        offs = list(business.days_off(low + timedelta(days=1), high))
        if as_json:
            cli._print_json(
                {
                    "from": days[0].isoformat(),
                    "to": days[1].isoformat(),
                    "business_days": count,
                    "calendar": _describe(calendar, source),
                    "days_off": _off_json(offs),
                }
            )
            return
        t = TEXT[cli._ctx(ctx).settings.lang]
        cli.out.print(t["days"].format(first=days[0].isoformat(), last=days[1].isoformat(), n=f"[bold]{count}[/bold]"))
        cli.out.print(f"{t['calendar']}: {_describe(calendar, source)}")
        if offs:
            cli.out.print(_off_table(offs, t))
