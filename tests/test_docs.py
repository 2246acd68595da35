"""Documentation keeps up with the code: every command is in both READMEs, every setting in docs/settings.md."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.main import get_command

from leadpact.cli import app
from leadpact.config import Settings
from leadpact.domain.escalation import signature
from leadpact.domain.kpis import GroupBy, View
from leadpact.domain.pact import Kpi
from tests.conftest import ROOT


def command_paths(group: typer.Typer) -> Iterator[str]:
    root = get_command(group)
    commands = getattr(root, "commands", {})
    for name, command in commands.items():
        sub = getattr(command, "commands", None)
        if sub:
            for child in sub:
                yield f"{name} {child}"
        else:
            yield name


COMMANDS = sorted(command_paths(app))


@pytest.mark.parametrize("readme", ["README.md", "README.ja.md"])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(readme: str, command: str) -> None:
    assert f"`leadpact {command}" in (ROOT / readme).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert f"`{name}`" in text and f"`LEADPACT_{name.upper()}`" in text


@pytest.mark.parametrize("kpi", [k.value for k in Kpi])
def test_every_kpi_is_defined_in_docs_kpis(kpi: str) -> None:
    text = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")
    section = text.split(f"### `{kpi}`\n", 1)
    assert len(section) == 2, f"docs/kpis.md has no section for {kpi}"
    body = section[1].split("\n### ", 1)[0]
    assert "Owner" in body, f"docs/kpis.md does not say who owns {kpi}"
    assert f"`{kpi}`" in (ROOT / "docs" / "pact.md").read_text(encoding="utf-8")  # a target may name it


@pytest.mark.parametrize("name", [f"`{g.value}`" for g in GroupBy] + [f"`{v.value}`" for v in View])
def test_every_group_by_field_and_view_is_documented(name: str) -> None:
    assert name in (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")


def test_the_readme_shows_the_two_commands_first() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_the_webhook_verification_in_the_docs_accepts_what_leadpact_signs() -> None:
    text = (ROOT / "docs" / "sla.md").read_text(encoding="utf-8")
    code = text.split("### Verifying a webhook", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the receiver's code exactly as documented
    verify = namespace["is_from_leadpact"]
    body, timestamp = b'{"event":"clock.breached"}', 1776049200
    headers = {"X-Leadpact-Timestamp": str(timestamp), "X-Leadpact-Signature": signature("k", timestamp, body)}
    forever = 10**10  # the documented freshness check reads the wall clock; this signature is from 2026-04-13
    assert verify(b"k", headers, body, tolerance=forever)
    assert not verify(b"k", headers, body + b" ", tolerance=forever)
    assert not verify(b"other", headers, body, tolerance=forever)
    assert not verify(b"k", headers, body, tolerance=0)
