"""The notification channels file: where breach notifications go, validated when it is loaded.

Channels are infrastructure, not part of the pact: a YAML file named by `LEADPACT_CHANNELS`
(or `--channels`) lists Slack incoming webhooks, SMTP mailboxes and signed webhooks.
Secrets never sit in the file: it names the environment variables that hold them
(`url_env`, `password_env`, `secret_env`), and a literal `password:` or `secret:` is refused.
Everything is checked at load, every problem located by file, line and column: a malformed
URL, plain http:// to another machine, an unknown type, an unset variable, a bad address,
a channel id used twice. A channel that loads is one a breach can be sent to.

Must not import: services or entry points.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml.comments import CommentedMap

from leadpact.adapters.located_yaml import (
    DocPath,
    DocumentInvalid,
    LocatedProblem,
    load_mapping,
    located,
    plain,
    read_text,
    validation_problems,
)
from leadpact.domain.escalation import Lang
from leadpact.domain.lead import is_plausible_email

SECRET_KEYS: Final = ("password", "secret", "token", "api_key")
HTTP_SCHEMES: Final = ("https", "http")
SMTP_SCHEMES: Final = ("smtp", "smtps")
SMTP_PORTS: Final = {"smtp": 25, "smtps": 465}


class ChannelsInvalid(DocumentInvalid):
    """A channels file with one or more problems; no channel was taken from it."""


# --- the file, as people write it --------------------------------------------------------

ChannelId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
DepartmentId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)]
Seconds = Annotated[float, Field(gt=0, le=120)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _ChannelSpec(_Spec):
    id: ChannelId
    lang: Lang = "ja"
    # Only breaches whose responsible department is one of these (all when empty).
    departments: tuple[DepartmentId, ...] = ()
    timeout_seconds: Seconds = 10.0


class SlackSpec(_ChannelSpec):
    type: Literal["slack"]
    url_env: EnvName


class RecipientSpec(_Spec):
    address: str
    lang: Lang | None = None  # default: the channel's


class EmailSpec(_ChannelSpec):
    type: Literal["email"]
    url: str
    starttls: bool = False
    username: str | None = None
    password_env: EnvName | None = None
    sender: str = Field(alias="from")
    to: tuple[RecipientSpec, ...] = Field(min_length=1)


class WebhookSpec(_ChannelSpec):
    type: Literal["webhook"]
    url: str
    secret_env: EnvName


SPECS: Final[dict[str, type[SlackSpec | EmailSpec | WebhookSpec]]] = {
    "slack": SlackSpec,
    "email": EmailSpec,
    "webhook": WebhookSpec,
}


# --- the channels, as leadpact sends to them ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    lang: Lang


@dataclass(frozen=True, slots=True)
class _Channel:
    id: str
    departments: frozenset[str]
    timeout: timedelta

    def serves(self, department: str) -> bool:
        """Whether breaches of this responsible department go to this channel."""
        return not self.departments or department in self.departments


@dataclass(frozen=True, slots=True)
class SlackChannel(_Channel):
    url: str = field(repr=False)  # a Slack webhook URL carries its token: a secret
    lang: Lang

    type: ClassVar[str] = "slack"

    def targets(self) -> list[Recipient]:
        return [Recipient("", self.lang)]

    def describe(self) -> str:
        return f"{_masked(self.url)} ({self.lang})"


@dataclass(frozen=True, slots=True)
class EmailChannel(_Channel):
    host: str
    port: int
    tls: Literal["none", "starttls", "smtps"]
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    recipients: tuple[Recipient, ...]

    type: ClassVar[str] = "email"

    def targets(self) -> list[Recipient]:
        return list(self.recipients)

    def describe(self) -> str:
        scheme = "smtps" if self.tls == "smtps" else "smtp"
        auth = f"{self.username}:****@" if self.username else ""
        tls = " STARTTLS" if self.tls == "starttls" else ""
        to = ", ".join(f"{r.address} ({r.lang})" for r in self.recipients)
        return f"{scheme}://{auth}{_bracketed(self.host)}:{self.port}{tls} from {self.sender} to {to}"


@dataclass(frozen=True, slots=True)
class WebhookChannel(_Channel):
    url: str
    secret: str = field(repr=False)
    lang: Lang

    type: ClassVar[str] = "webhook"

    def targets(self) -> list[Recipient]:
        return [Recipient("", self.lang)]

    def describe(self) -> str:
        return f"{self.url} signed HMAC-SHA256 ({self.lang})"


Channel = SlackChannel | EmailChannel | WebhookChannel


@dataclass(frozen=True, slots=True)
class Channels:
    """The configured channels (none when no file is configured)."""

    channels: tuple[Channel, ...] = ()
    source: str | None = None

    def __bool__(self) -> bool:
        return bool(self.channels)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.channels)

    def get(self, channel_id: str) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)


def _masked(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --- reading -----------------------------------------------------------------------------


def load_channels(path: Path | None, env: Mapping[str, str]) -> Channels:
    """The channels of the file at `path` (none when `path` is None); secrets from `env`."""
    if path is None:
        return Channels()
    return parse_channels(read_text(path, ChannelsInvalid), str(path), env)


def parse_channels(text: str, filename: str, env: Mapping[str, str]) -> Channels:
    """Validate `text` as a channels file; raise `ChannelsInvalid` listing every problem found."""
    data = load_mapping(text, filename, ChannelsInvalid, "channels: and a list of channels")
    problems: list[LocatedProblem] = []
    unknown = [key for key in data if key != "channels"]
    problems.extend(located(data, filename, (str(key),), "unknown field") for key in unknown)
    items = data.get("channels")
    if not isinstance(items, list):
        problems.append(located(data, filename, ("channels",), "a list of channels is required"))
        raise ChannelsInvalid(problems)
    channels: list[Channel] = []
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        where: DocPath = ("channels", i)
        found = list(_item_problems(item, where))
        problems.extend(located(data, filename, path, message) for path, message in found)
        if not isinstance(item, CommentedMap):
            continue
        raw_id = str(item.get("id", ""))
        if raw_id in first_seen:
            line = items[first_seen[raw_id]].lc.line + 1
            message = f"channel {raw_id!r} is defined twice (first at line {line})"
            problems.append(located(data, filename, (*where, "id"), message))
        elif raw_id:
            first_seen[raw_id] = i
        kind = str(item.get("type"))
        if kind not in SPECS:
            continue
        # reported above: validate the rest, so that one pass shows every problem
        secrets = {str(key) for key in item if str(key).lower() in SECRET_KEYS or (key == "url" and kind == "slack")}
        try:
            spec = SPECS[kind].model_validate({k: v for k, v in plain(item).items() if k not in secrets})
        except ValidationError as exc:
            problems.extend(_shifted(exc, item, data, filename, where))
            continue
        resolved, found = _resolve(spec, env, where)
        problems.extend(located(data, filename, path, message) for path, message in found)
        if resolved is not None:
            channels.append(resolved)
    if problems:
        raise ChannelsInvalid(problems)
    return Channels(tuple(channels), filename)


def _item_problems(item: Any, where: DocPath) -> Iterator[tuple[DocPath, str]]:
    """What the schema cannot say well: not a mapping, no or an unknown type, a literal secret."""
    if not isinstance(item, CommentedMap):
        yield where, "a channel is a mapping (id:, type:, ...)"
        return
    kind = item.get("type")
    if kind is None:
        yield (*where, "type"), "required field is missing (slack, email or webhook)"
    elif str(kind) not in SPECS:
        yield (*where, "type"), f"unknown channel type {kind!r}: slack, email or webhook"
    for key in item:
        if str(key).lower() in SECRET_KEYS:
            hint = {"slack": "url_env", "email": "password_env", "webhook": "secret_env"}.get(str(kind), "…_env")
            yield (
                (*where, str(key)),
                f"secrets never go in the channels file: put it in an environment variable and name that "
                f"variable with {hint}",
            )
    if kind == "slack" and "url" in item:
        yield (
            (*where, "url"),
            "a Slack webhook URL carries its token, a secret: put it in an environment variable and name "
            "that variable with url_env",
        )


def _shifted(
    exc: ValidationError, item: CommentedMap, data: CommentedMap, filename: str, where: DocPath
) -> Iterator[LocatedProblem]:
    """The item's validation problems, located in the whole document."""
    for path, message in validation_problems(exc, item):
        yield located(data, filename, (*where, *path), message)


def _resolve(
    spec: SlackSpec | EmailSpec | WebhookSpec, env: Mapping[str, str], where: DocPath
) -> tuple[Channel | None, list[tuple[DocPath, str]]]:
    problems: list[tuple[DocPath, str]] = []
    common: dict[str, Any] = {
        "id": spec.id,
        "departments": frozenset(spec.departments),
        "timeout": timedelta(seconds=spec.timeout_seconds),
    }

    def secret(key: str, name: str) -> str:
        value = env.get(name, "")
        if not value:
            problems.append(((*where, key), f"environment variable {name} is not set"))
        return value

    if isinstance(spec, SlackSpec):
        url = secret("url_env", spec.url_env)
        if url and (problem := url_problem(url, HTTP_SCHEMES)):
            problems.append(((*where, "url_env"), f"{spec.url_env}: {problem}"))
        return (None if problems else SlackChannel(**common, url=url, lang=spec.lang)), problems
    if isinstance(spec, WebhookSpec):
        if problem := url_problem(spec.url, HTTP_SCHEMES):
            problems.append(((*where, "url"), problem))
        key = secret("secret_env", spec.secret_env)
        return (None if problems else WebhookChannel(**common, url=spec.url, secret=key, lang=spec.lang)), problems
    return _email(spec, common, secret, problems, where)


def _email(
    spec: EmailSpec,
    common: dict[str, Any],
    secret: Callable[[str, str], str],
    problems: list[tuple[DocPath, str]],
    where: DocPath,
) -> tuple[Channel | None, list[tuple[DocPath, str]]]:
    parts = urlsplit(spec.url)
    if problem := url_problem(spec.url, SMTP_SCHEMES):
        problems.append(((*where, "url"), problem))
    elif parts.username or parts.password:
        problems.append(((*where, "url"), "no user or password in the URL: use username: and password_env:"))
    password = None
    if spec.username is not None and spec.password_env is None:
        problems.append(((*where, "username"), "a username needs password_env: the variable holding its password"))
    elif spec.password_env is not None:
        if spec.username is None:
            problems.append(((*where, "username"), "password_env needs a username"))
        password = secret("password_env", spec.password_env)
    tls: Literal["none", "starttls", "smtps"] = (
        "smtps" if parts.scheme == "smtps" else "starttls" if spec.starttls else "none"
    )
    if spec.starttls and parts.scheme == "smtps":
        problems.append(((*where, "starttls"), "smtps:// is already encrypted: starttls applies to smtp:// only"))
    if not problems and spec.password_env and tls == "none" and not is_loopback(parts.hostname or ""):
        problems.append(
            ((*where, "url"), "a password is never sent unencrypted to another machine: use starttls: true or smtps://")
        )
    if not is_plausible_email(spec.sender):
        problems.append(((*where, "from"), f"not an e-mail address: {spec.sender!r}"))
    seen: set[str] = set()
    for j, recipient in enumerate(spec.to):
        address = recipient.address.strip()
        if not is_plausible_email(address):
            problems.append(((*where, "to", j, "address"), f"not an e-mail address: {recipient.address!r}"))
        elif address.lower() in seen:
            problems.append(((*where, "to", j, "address"), f"{address} is listed twice"))
        seen.add(address.lower())
    if problems:
        return None, problems
    host = parts.hostname or ""
    channel = EmailChannel(
        **common,
        host=host,
        port=parts.port or SMTP_PORTS[parts.scheme],
        tls=tls,
        username=spec.username,
        password=password,
        sender=spec.sender,
        recipients=tuple(Recipient(r.address.strip(), r.lang or spec.lang) for r in spec.to),
    )
    return channel, problems


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why `url` cannot be used with one of `schemes`, or None. Plain http:// and smtp:// are for
    this machine's addresses only where the secure scheme is the first of `schemes`."""
    if not url or any(c.isspace() for c in url):
        return f"not a URL: {url!r}"
    parts: SplitResult = urlsplit(url)
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        return f"not a URL this channel can use: {url!r} (expected {wanted})"
    host = parts.hostname
    if not host:
        return f"no host in {url!r}"
    try:
        parts.port  # noqa: B018  (a port out of range or not a number raises here)
    except ValueError:
        return f"bad port in {url!r}"
    if not _is_ip(host) and not _HOSTNAME.match(_ascii(host)):
        return f"bad host name {host!r} in {url!r}"
    if parts.scheme == "http" and not is_loopback(host):
        return f"plain http:// goes only to this machine (127.0.0.1, localhost, ::1): use https:// for {host}"
    return None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ascii(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")  # 日本語ドメイン: checked in their ASCII form
    except UnicodeError:
        return host
