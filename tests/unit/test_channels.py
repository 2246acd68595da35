"""The channels file is refused at load, every problem located by line and column, never at the first breach."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from leadpact.adapters.channels import (
    ChannelsInvalid,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    load_channels,
    parse_channels,
    url_problem,
)
from leadpact.services.escalation import ChannelSummary, configured_channels
from tests.conftest import ROOT

ENV = {
    "SLACK_URL": "https://hooks.slack.com/services/T000/B000/XXXX",
    "SMTP_PASSWORD": "pw",
    "HOOK_SECRET": "whsec",
    "NOT_A_URL": "hooks.slack.com/services/x",
}

SLACK = "  - id: s\n    type: slack\n    url_env: SLACK_URL\n"
HOOK = "  - id: h\n    type: webhook\n    url: https://hooks.example.co.jp/x\n    secret_env: HOOK_SECRET\n"
MAIL = (
    "  - id: m\n    type: email\n    url: smtp://mail.example.co.jp:587\n    starttls: true\n"
    "    username: lp\n    password_env: SMTP_PASSWORD\n    from: lp@example.co.jp\n"
    "    to: [{address: a@example.co.jp}]\n"
)


def problems(channels: str) -> list[str]:
    with pytest.raises(ChannelsInvalid) as caught:
        parse_channels("channels:\n" + channels, "channels.yaml", ENV)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SLACK.replace("slack", "teams"),
            "channels.yaml:3:11: channels[0].type: unknown channel type 'teams': slack, email or webhook",
        ),
        (
            "  - id: x\n    url: https://a.example\n",
            "channels.yaml:2:5: channels[0].type: required field is missing (slack, email or webhook)",
        ),
        (
            HOOK.replace("https://hooks.example.co.jp/x", "https//hooks.example.co.jp"),
            "channels.yaml:4:10: channels[0].url: not a URL this channel can use: 'https//hooks.example.co.jp' "
            "(expected https:// or http://)",
        ),
        (
            HOOK.replace("https://", "http://"),
            "channels.yaml:4:10: channels[0].url: plain http:// goes only to this machine (127.0.0.1, localhost, "
            "::1): use https:// for hooks.example.co.jp",
        ),
        (
            HOOK.replace("hooks.example.co.jp", "hooks.example.co.jp:99999"),
            "channels.yaml:4:10: channels[0].url: bad port in 'https://hooks.example.co.jp:99999/x'",
        ),
        (
            HOOK.replace("hooks.example.co.jp", "hooks_example"),
            "channels.yaml:4:10: channels[0].url: bad host name 'hooks_example' in 'https://hooks_example/x'",
        ),
        (
            SLACK.replace("SLACK_URL", "NOT_A_URL"),
            "channels.yaml:4:14: channels[0].url_env: NOT_A_URL: not a URL this channel can use: "
            "'hooks.slack.com/services/x' (expected https:// or http://)",
        ),
        (
            SLACK.replace("SLACK_URL", "UNSET_URL"),
            "channels.yaml:4:14: channels[0].url_env: environment variable UNSET_URL is not set",
        ),
        (
            SLACK + "    url: https://hooks.slack.com/services/T/B/X\n",
            "channels.yaml:5:10: channels[0].url: a Slack webhook URL carries its token, a secret: put it in an "
            "environment variable and name that variable with url_env",
        ),
        (
            HOOK + "    secret: abc\n",
            "channels.yaml:6:13: channels[0].secret: secrets never go in the channels file: put it in an "
            "environment variable and name that variable with secret_env",
        ),
        (
            MAIL + "    password: hunter2\n",
            "channels.yaml:10:15: channels[0].password: secrets never go in the channels file: put it in an "
            "environment variable and name that variable with password_env",
        ),
        (
            MAIL.replace("    starttls: true\n", ""),
            "channels.yaml:4:10: channels[0].url: a password is never sent unencrypted to another machine: use "
            "starttls: true or smtps://",
        ),
        (
            MAIL.replace("smtp://", "imap://"),
            "channels.yaml:4:10: channels[0].url: not a URL this channel can use: 'imap://mail.example.co.jp:587' "
            "(expected smtp:// or smtps://)",
        ),
        (
            MAIL.replace("smtp://", "smtps://"),
            "channels.yaml:5:15: channels[0].starttls: smtps:// is already encrypted: starttls applies to smtp:// only",
        ),
        (
            MAIL.replace("    password_env: SMTP_PASSWORD\n", ""),
            "channels.yaml:6:15: channels[0].username: a username needs password_env: the variable holding its "
            "password",
        ),
        (
            MAIL.replace("lp@example.co.jp", "leadpact"),
            "channels.yaml:8:11: channels[0].from: not an e-mail address: 'leadpact'",
        ),
        (
            MAIL.replace("a@example.co.jp}", "a@example.co.jp}, {address: 'b c@example.co.jp', lang: ja}"),
            "channels.yaml:9:48: channels[0].to[1].address: not an e-mail address: 'b c@example.co.jp'",
        ),
        (
            MAIL.replace("a@example.co.jp}", "a@example.co.jp}, {address: A@example.co.jp}"),
            "channels.yaml:9:48: channels[0].to[1].address: A@example.co.jp is listed twice",
        ),
        (
            MAIL.replace("a@example.co.jp}", "a@example.co.jp, lang: fr}"),
            "channels.yaml:9:43: channels[0].to[0].lang: Input should be 'ja' or 'en'",
        ),
        (
            MAIL.replace("    to: [{address: a@example.co.jp}]\n", ""),
            "channels.yaml:2:5: channels[0].to: required field is missing",
        ),
        (SLACK + "    colour: red\n", "channels.yaml:5:13: channels[0].colour: unknown field"),
        (
            SLACK + "    departments: [Sales Team]\n",
            "channels.yaml:5:19: channels[0].departments[0]: String should match pattern '^[a-z][a-z0-9_]*$'",
        ),
        (SLACK + SLACK, "channels.yaml:5:9: channels[1].id: channel 's' is defined twice (first at line 2)"),
        ("  - slack\n", "channels.yaml:2:5: channels[0]: a channel is a mapping (id:, type:, ...)"),
    ],
)
def test_a_bad_channel_is_refused_where_it_is_written(text: str, expected: str) -> None:
    assert expected in problems(text)


def test_every_problem_is_reported_in_one_pass() -> None:
    found = problems(HOOK.replace("https://", "http://") + SLACK.replace("slack", "teams") + MAIL + "    secret: x\n")
    assert [p.split(": ", 2)[1] for p in found] == ["channels[0].url", "channels[1].type", "channels[2].secret"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("channels: {}\n", "channels.yaml:1:1: channels: a list of channels is required"),
        ("channel: []\n", "channels.yaml:1:1: channel: unknown field"),
        ("- just a list\n", "channels.yaml:1:1: expected a YAML mapping (channels: and a list of channels)"),
        ("channels: [\n", "channels.yaml:2:1: YAML syntax:"),
    ],
)
def test_a_file_that_is_not_a_channels_file(text: str, expected: str) -> None:
    with pytest.raises(ChannelsInvalid) as caught:
        parse_channels(text, "channels.yaml", ENV)
    assert str(caught.value.problems[0]).startswith(expected)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/hook", True),
        ("http://127.8.9.10/hook", True),
        ("http://localhost/hook", True),
        ("http://[::1]:8080/hook", True),
        ("https://hooks.slack.com/services/T/B/X", True),
        ("https://通知.example.jp/hook", True),
        ("http://10.0.0.8/hook", False),
        ("http://hooks.slack.com/services/T/B/X", False),
        ("https://", False),
        ("ftp://example.com", False),
        ("https://example.com/a b", False),
    ],
)
def test_which_urls_a_web_channel_accepts(url: str, allowed: bool) -> None:
    assert (url_problem(url, ("https", "http")) is None) is allowed


def test_the_example_channels_file_loads_with_its_secrets_set() -> None:
    env = {
        "LEADPACT_SLACK_IS_URL": ENV["SLACK_URL"],
        "LEADPACT_SMTP_PASSWORD": "pw",
        "LEADPACT_WEBHOOK_SECRET": "whsec",
    }
    channels = load_channels(ROOT / "examples" / "channels.yaml", env)
    slack, mail, hook = channels.channels
    assert isinstance(slack, SlackChannel) and slack.departments == {"inside_sales"}
    assert slack.serves("inside_sales") and not slack.serves("field_sales")
    assert isinstance(mail, EmailChannel) and (mail.host, mail.port, mail.tls) == (
        "mail.example.co.jp",
        587,
        "starttls",
    )
    assert [(r.address, r.lang) for r in mail.recipients] == [
        ("is-manager@example.co.jp", "ja"),
        ("cro@example.com", "en"),
    ]
    assert isinstance(hook, WebhookChannel) and hook.timeout == timedelta(seconds=5) and hook.serves("field_sales")
    # secrets stay out of what is printed
    assert "XXXX" not in slack.describe() + repr(slack) and "pw" not in mail.describe() + repr(mail)
    assert "whsec" not in hook.describe() + repr(hook)
    assert slack.describe() == "https://hooks.slack.com/… (ja)"


def test_the_configured_channels_are_one_question_away(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("channels:\n" + SLACK.replace("id: s", "id: is-slack") + "    departments: [inside_sales]\n")
    assert configured_channels(path, ENV) == [
        ChannelSummary("is-slack", "slack", "https://hooks.slack.com/… (ja)", ("inside_sales",))
    ]
    assert configured_channels(None, ENV) == []


def test_without_a_file_no_channel_is_configured(tmp_path: Path) -> None:
    assert not load_channels(None, ENV)
    with pytest.raises(ChannelsInvalid, match="cannot read the file"):
        load_channels(tmp_path / "missing.yaml", ENV)


def test_smtps_defaults_to_port_465_and_an_unauthenticated_relay_may_be_plain() -> None:
    relay = MAIL.replace("    username: lp\n    password_env: SMTP_PASSWORD\n", "").replace("    starttls: true\n", "")
    relay = relay.replace("smtp://mail.example.co.jp:587", "smtp://relay.intra")
    secure = MAIL.replace("smtp://mail.example.co.jp:587", "smtps://mail.example.co.jp").replace(
        "    starttls: true\n", ""
    )
    plain, tls = parse_channels("channels:\n" + relay + secure.replace("id: m", "id: m2"), "c.yaml", ENV).channels
    assert isinstance(plain, EmailChannel) and (plain.port, plain.tls, plain.username) == (25, "none", None)
    assert isinstance(tls, EmailChannel) and (tls.port, tls.tls, tls.password) == (465, "smtps", "pw")
