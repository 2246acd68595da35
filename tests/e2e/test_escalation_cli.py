"""Escalation as an operator drives it: check the channels, sweep and notify, read the outbox, send a test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from tests.e2e.test_sla_cli import neglected
from tests.integration.test_escalation import write_channels
from tests.receivers import Far, closed_port

NOW = "2026-04-13T12:00+09:00"


@pytest.fixture
def channels_file(far: Far, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path, env = write_channels(tmp_path, far.slack.url, far.smtp.url, far.hook.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return path


def test_channels_check_lists_the_channels_with_secrets_masked(sqlite_url: str, channels_file: Path) -> None:
    code, out, _ = run(sqlite_url, "--channels", str(channels_file), "channels", "check")
    assert code == 0 and f"4 channel(s) in {channels_file}" in out
    assert "is-slack" in out and "/…" in out and "/hook signed HMAC-SHA256 (en)" in out
    assert "smtp://leadpact:****@127.0.0.1" in out and "inside_sales" in out
    assert "pw" not in out.replace("pwd", "")
    code, out, _ = run(sqlite_url, "channels", "check")
    assert code == 0 and "no notification channel configured" in out


def test_the_channels_setting_comes_from_the_environment(
    sqlite_url: str, channels_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPACT_CHANNELS", str(channels_file))
    code, out, _ = run(sqlite_url, "channels", "check")
    assert code == 0 and "4 channel(s)" in out


def test_a_broken_channels_file_stops_the_sweep_before_it_records_anything(
    sqlite_url: str, tmp_path: Path, channels_file: Path
) -> None:
    neglected(sqlite_url, tmp_path)
    broken = tmp_path / "broken.yaml"
    text = channels_file.read_text(encoding="utf-8").replace("url: http://127.0.0.1", "url: http://hooks.example")
    broken.write_text(text, encoding="utf-8")
    code, out, err = run(sqlite_url, "--channels", str(broken), "sla", "sweep", "--now", NOW)
    assert code == 2 and out == ""
    assert f"{broken}:22:10: channels[3].url: plain http:// goes only to this machine" in err
    assert "1 problem(s); no channel was used." in err
    code, out, _ = run(sqlite_url, "sla", "sweep", "--now", NOW)
    assert code == 0 and "1 new breach(es)" in out  # nothing had been recorded


def test_sweep_notifies_and_notify_retries_what_failed(
    sqlite_url: str, tmp_path: Path, far: Far, channels_file: Path
) -> None:
    neglected(sqlite_url, tmp_path)
    far.hook.failures = 1
    code, out, _ = run(sqlite_url, "--channels", str(channels_file), "sla", "sweep", "--now", NOW)
    assert code == 0 and "1 new breach(es)" in out
    assert "notifications: 4 queued; 3 sent, 1 waiting for retry, 0 given up" in out
    assert "HTTP 500: upstream trouble" in out and "2026-04-13 12:01" in out
    assert "1 notification(s) pending; the next try is due at 2026-04-13 12:01" in out

    code, out, _ = run(
        sqlite_url, "--channels", str(channels_file), "sla", "notify", "--now", "2026-04-13T12:00:30+09:00"
    )
    assert code == 0 and "0 sent, 0 waiting for retry" in out and len(far.hook.requests) == 1
    code, out, _ = run(sqlite_url, "--channels", str(channels_file), "sla", "notify", "--now", "2026-04-13T12:01+09:00")
    assert code == 0 and "notifications: 1 sent, 0 waiting for retry, 0 given up" in out
    assert len(far.hook.accepted) == 1 and len(far.slack.accepted) == 1 and len(far.smtp.mails) == 2

    code, out, _ = run(sqlite_url, "channels", "outbox", "--json")
    rows = json.loads(out)
    assert [(r["channel"], r["recipient"], r["status"], r["attempts"]) for r in rows] == [
        ("is-slack", None, "sent", 1),
        ("managers", "is-manager@corp.example", "sent", 1),
        ("managers", "cro@corp.example", "sent", 1),
        ("crm", None, "sent", 2),
    ]
    code, out, _ = run(sqlite_url, "channels", "outbox", "--status", "gave_up")
    assert code == 0 and "the outbox is empty" in out
    assert run(sqlite_url, "channels", "outbox", "--status", "lost")[0] == 2


def test_no_notify_queues_and_notify_sends_later(
    sqlite_url: str, tmp_path: Path, far: Far, channels_file: Path
) -> None:
    neglected(sqlite_url, tmp_path)
    code, out, _ = run(sqlite_url, "--channels", str(channels_file), "sla", "sweep", "--now", NOW, "--no-notify")
    assert code == 0 and "notifications: 4 queued; not sent (--no-notify)" in out
    assert far.slack.requests == [] and far.smtp.mails == []
    code, out, _ = run(sqlite_url, "--channels", str(channels_file), "sla", "notify", "--now", NOW, "--json")
    assert code == 0 and json.loads(out)["sent"] == 4
    code, out, _ = run(sqlite_url, "sla", "notify")
    assert code == 2 and out == ""


def test_a_sweep_without_channels_says_nothing_was_sent(sqlite_url: str, tmp_path: Path) -> None:
    neglected(sqlite_url, tmp_path)
    code, out, _ = run(sqlite_url, "sla", "sweep", "--now", NOW, "--json")
    assert code == 0 and json.loads(out)["notifications"] == {"queued": 0}
    neglected_again = run(sqlite_url, "sla", "sweep", "--now", NOW)[1]
    assert "notifications" not in neglected_again  # no new breach, nothing to say


def test_channels_test_sends_a_marked_test_to_every_recipient(
    sqlite_url: str, far: Far, channels_file: Path, tmp_path: Path
) -> None:
    code, out, _ = run(sqlite_url, "--channels", str(channels_file), "channels", "test", "managers", "--lang", "en")
    assert code == 0 and "sent test notification to managers is-manager@corp.example (en)" in out
    subjects = sorted(m.message["Subject"] for m in far.smtp.mails)
    assert len(subjects) == 2 and all(s.startswith("[test] [leadpact] Neglected lead") for s in subjects)
    code, _, err = run(sqlite_url, "--channels", str(channels_file), "channels", "test", "teams")
    assert code == 2 and "no channel 'teams' (configured: is-slack, fs-slack, managers, crm)" in err

    down, _ = write_channels(tmp_path, far.slack.url, f"smtp://127.0.0.1:{closed_port()}", far.hook.url)
    code, _, err = run(sqlite_url, "--channels", str(down), "channels", "test", "managers")
    assert code == 1 and "failed managers is-manager@corp.example (ja): SMTP 127.0.0.1:" in err
