"""Cell values as Japanese and vendor exports write them, read into typed values.

Every reader takes the cell's text and returns the value, or raises `ValueError` with a reason
a person can act on ("2024-02-30 is not a date: February 2024 has 29 days"); the importer puts
that reason in quarantine with the file, line and column. Text is NFKC-normalised first, so
full-width digits, letters, slashes and colons (２０２６／４／１, ＠) read like ASCII ones.

Dates come as ISO 8601, 2026/04/01, 2026年4月1日, Japanese era dates (令和8年4月1日, R8.4.1,
令和元年), Excel serial numbers (46113) and epoch milliseconds (HubSpot's API). A time without
an offset is local time in the zone the import names (the pact calendar's by default).

The standard library has no era calendar and no Excel serials, and the maintained wareki
packages parse one notation each, not the mix a year of exports holds; so they are here.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Generic, TypeVar


def clean(text: str) -> str:
    """NFKC (full-width → ASCII forms, half-width kana → full-width) and outer spaces removed."""
    return unicodedata.normalize("NFKC", text).strip()


def key(text: str) -> str:
    """How headers and enumeration values are matched: NFKC, case-folded, without spaces, dots,
    underscores or hyphens (`Lifecycle Stage`, `lifecyclestage` and `ＬｉｆｅｃｙｃｌｅＳｔａｇｅ` meet)."""
    return "".join(ch for ch in clean(text).casefold() if ch not in " \u3000._-")


def aliases(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Each name and its aliases, by `key`, → the name."""
    return {key(alias): name for name, names in table.items() for alias in (name, *names)}


T = TypeVar("T")


def find_columns(header: Iterable[str], table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """The export's column for each field of `table` (field → its names), first match winning."""
    found = aliases(table)
    fields: dict[str, str] = {}
    for column in header:
        name = found.get(key(column))
        if name is not None:
            fields.setdefault(name, column)
    return fields


class Vocabulary(Generic[T]):
    """A vendor's values of one enumeration (name → its labels and what it means in leadpact).

    A cell matches a name or a label by `key`; a user's overrides (their custom values) first.
    """

    def __init__(self, what: str, table: Mapping[str, tuple[tuple[str, ...], T]], known_as: str) -> None:
        self.what, self.table, self.known_as = what, table, known_as
        self._names = aliases({name: labels for name, (labels, _) in table.items()})

    def meaning(self, value: str, overrides: Mapping[str, T] | None = None) -> T:
        for name, meant in (overrides or {}).items():
            if key(name) == key(value):
                return meant
        found = self._names.get(key(value))
        if found is None:
            known = ", ".join(self.table)
            raise ValueError(
                f"unknown {self.what} {value.strip()!r} ({self.known_as} {known}; map others in --mapping)"
            )
        return self.table[found][1]


@dataclass(frozen=True, slots=True)
class Era:
    name: str
    letter: str
    starts: date
    ends: date | None  # the last day; None for the current era


ERAS = (
    Era("明治", "M", date(1868, 10, 23), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_ERA = {**{e.name: e for e in ERAS}, **{e.letter: e for e in ERAS}}

_TIME = (
    r"(?:(?:T|\s+|(?<=日))(?P<h>\d{1,2})(?::|時)(?P<mi>\d{1,2})"
    r"(?:(?::|分)(?P<s>\d{1,2})(?:\.(?P<f>\d{1,6}))?秒?)?分?)?"
)
_ZONE = r"\s*(?P<z>Z|[+-]\d{2}:?\d{2})?"
_PATTERNS = (
    re.compile(rf"^(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_TIME}{_ZONE}$"),
    re.compile(rf"^(?P<y>\d{{4}})/(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}}){_TIME}{_ZONE}$"),
    re.compile(rf"^(?P<y>\d{{4}})\.(?P<m>\d{{1,2}})\.(?P<d>\d{{1,2}}){_TIME}{_ZONE}$"),
    re.compile(rf"^(?P<y>\d{{4}})年(?P<m>\d{{1,2}})月(?P<d>\d{{1,2}})日{_TIME}{_ZONE}$"),
)
_ERA_DATE = re.compile(
    r"^(?P<era>明治|大正|昭和|平成|令和|[MTSHR])\s*(?P<y>\d{1,2}|元)\s*(?:年|[./-])\s*(?P<m>\d{1,2})\s*(?:月|[./-])"
    rf"\s*(?P<d>\d{{1,2}})\s*日?{_TIME}{_ZONE}$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")

EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 is 1900-01-01 once Excel's phantom 1900-02-29 is allowed for
EXCEL_SERIALS = (1, 2_958_465)  # 1900-01-01 … 9999-12-31
EPOCH_MS_SPAN = (10**11, 10**14)  # 1973 … 5138 in milliseconds: never an Excel serial


def _day(year: int, month: int, day: int, shown: str) -> date:
    if not 1 <= month <= 12:
        raise ValueError(f"{shown} is not a date: there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"{shown} is not a date: {calendar.month_name[month]} {year} has {last} days")
    return date(year, month, day)


def _era_year(era: Era, year: int, shown: str) -> int:
    if year < 1:
        raise ValueError(f"{shown}: an era year starts at 1 (元年)")
    return era.starts.year + year - 1


def _check_era(era: Era, day: date, shown: str) -> None:
    if day < era.starts or (era.ends is not None and day > era.ends):
        span = f"{era.starts.isoformat()} – {era.ends.isoformat() if era.ends else ''}".rstrip(" –")
        raise ValueError(f"{shown} is not a date of {era.name} ({span})")


def _clock(found: re.Match[str], shown: str) -> time | None:
    if found.group("h") is None:
        return None
    hour, minute = int(found.group("h")), int(found.group("mi"))
    second = int(found.group("s") or 0)
    micro = int((found.group("f") or "0").ljust(6, "0"))
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{shown} has no such time of day")
    return time(hour, minute, second, micro)


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_datetime(text: str, zone: tzinfo) -> datetime:
    """An instant from any of the notations above; a date alone is the start of that local day."""
    if len(text) >= 10 and text[4:5] == "-" and text[:4].isascii():
        # ISO 8601, what APIs and bulk extracts write: parsed in C (a bulk import reads millions).
        try:
            iso = datetime.fromisoformat(text)
        except ValueError:
            pass  # 2024-02-30 and the like: the patterns below say why
        else:
            return iso.astimezone(UTC) if iso.tzinfo else iso.replace(tzinfo=zone).astimezone(UTC)
    shown = text.strip()
    value = clean(text)
    if not value:
        raise ValueError("empty")
    if _NUMBER.match(value):
        return _from_number(value, zone, shown)
    found = _ERA_DATE.match(value)
    if found is not None:
        era = _ERA[found.group("era").upper() if len(found.group("era")) == 1 else found.group("era")]
        year = 1 if found.group("y") == "元" else int(found.group("y"))
        day = _day(_era_year(era, year, shown), int(found.group("m")), int(found.group("d")), shown)
        _check_era(era, day, shown)
        return _at(day, _clock(found, shown), _offset(found.group("z")), zone)
    for pattern in _PATTERNS:
        found = pattern.match(value)
        if found is not None:
            day = _day(int(found.group("y")), int(found.group("m")), int(found.group("d")), shown)
            return _at(day, _clock(found, shown), _offset(found.group("z")), zone)
    raise ValueError(
        f"{shown!r} is not a date; write 2026-04-01, 2026/04/01, 2026年4月1日, 令和8年4月1日 or an Excel date"
    )


def parse_date(text: str, zone: tzinfo) -> date:
    """A calendar day; a date-time is taken as its local day in `zone`."""
    return parse_datetime(text, zone).astimezone(zone).date()


def _at(day: date, clock: time | None, offset: tzinfo | None, zone: tzinfo) -> datetime:
    return datetime.combine(day, clock or time(), tzinfo=offset or zone).astimezone(UTC)


def _from_number(value: str, zone: tzinfo, shown: str) -> datetime:
    number = float(value)
    if EPOCH_MS_SPAN[0] <= number < EPOCH_MS_SPAN[1] and "." not in value:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    if not EXCEL_SERIALS[0] <= number <= EXCEL_SERIALS[1]:
        raise ValueError(f"{shown} is neither an Excel date serial (1–2958465) nor epoch milliseconds")
    whole = int(number)
    if whole == 60:
        raise ValueError("Excel serial 60 is 1900-02-29, a day that never was")
    # Excel counts a 1900-02-29 that did not exist: serials from 61 on are one day ahead.
    day = EXCEL_EPOCH + timedelta(days=whole if whole > 60 else whole + 1)
    fraction = timedelta(days=number - whole)
    seconds = round(fraction.total_seconds())
    return (datetime.combine(day, time(), tzinfo=zone) + timedelta(seconds=seconds)).astimezone(UTC)


_INTEGER = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+$|^[+-]?\d+$")


def parse_int(text: str) -> int:
    """A whole number: 1,200 and １２００ and 1200.0 read as 1200; 名 or 人 after it is allowed."""
    value = clean(text).removesuffix("名").removesuffix("人").strip()
    if re.fullmatch(r"[+-]?\d+\.0+", value):
        value = value.split(".")[0]
    if not _INTEGER.match(value):
        raise ValueError(f"{text.strip()!r} is not a whole number")
    return int(value.replace(",", ""))


_TRUE = {"true", "yes", "y", "1", "はい", "○", "〇", "有", "あり", "済", "✓"}
_FALSE = {"false", "no", "n", "0", "いいえ", "×", "無", "なし", "未", ""}


def parse_bool(text: str) -> bool:
    value = clean(text).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{text.strip()!r} is not yes or no (true/false, はい/いいえ, 1/0)")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) prefixed with '.

    OWASP's CSV injection advice; numbers like -5 stay as they are, so exports keep their values.
    """
    if text.startswith(_FORMULA_START) and not re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text):
        return "'" + text
    return text
