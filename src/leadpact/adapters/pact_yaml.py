"""Reading a pact YAML document into the typed `Pact`, with every problem located.

Each problem names the file, the line and column, and the path in the document
(`mql.score_threshold`), so a marketing-ops author can fix a pact in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from leadpact.domain.pact import Pact, check_pact


@dataclass(frozen=True, slots=True)
class LocatedProblem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PactInvalid(Exception):
    """A pact document with one or more problems; nothing was stored."""

    def __init__(self, problems: list[LocatedProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PactDocument:
    """A valid pact with the exact text it was read from and that text's SHA-256."""

    pact: Pact
    text: str
    content_hash: str


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_pact_file(path: Path) -> PactDocument:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PactInvalid([LocatedProblem(str(path), 1, 1, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise PactInvalid([LocatedProblem(str(path), 1, 1, "", f"not UTF-8 text ({exc.reason})")]) from None
    return parse_pact(text, str(path))


def parse_pact(text: str, filename: str = "<pact>") -> PactDocument:
    """Validate `text` as a pact; raise `PactInvalid` listing every problem found."""
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise PactInvalid([LocatedProblem(filename, line, column, "", f"YAML syntax: {message}")]) from None
    if not isinstance(data, CommentedMap):
        raise PactInvalid([LocatedProblem(filename, 1, 1, "", "a pact is a YAML mapping (name:, departments:, ...)")])
    try:
        pact = Pact.model_validate(_plain(data))
    except ValidationError as exc:
        raise PactInvalid(list(_locate_validation(exc, data, filename))) from None
    problems = [_located(data, filename, problem.path, problem.message) for problem in check_pact(pact)]
    if problems:
        raise PactInvalid(problems)
    return PactDocument(pact=pact, text=text, content_hash=content_hash(text))


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if hasattr(node, "year") and not isinstance(node, str):
        return node.isoformat()  # YAML dates (2026-12-29) stay text, as the schema reads them
    return node


def _locate_validation(exc: ValidationError, data: CommentedMap, filename: str) -> Iterable[LocatedProblem]:
    seen: set[tuple[int | str, ...]] = set()
    for error in exc.errors():
        path = _data_path(data, error["loc"])
        if path in seen:
            continue  # one message per place: unions and after-validators repeat themselves
        seen.add(path)
        yield _located(data, filename, path, _message(error))


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Keep the parts of a pydantic location that exist in the document (drop union tags)."""
    path: list[int | str] = []
    node = data
    for part in loc:
        if _has(node, part):
            path.append(part)
            node = node[part]
        elif not isinstance(node, dict | list):
            break
        elif isinstance(node, dict) and isinstance(part, str) and _is_key(part):
            path.append(part)  # a missing or unknown key: name it, point at its parent
            break
    return tuple(path)


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _is_key(part: str) -> bool:
    """False for the tags pydantic adds to locations inside unions and validators."""
    tags = ("function", "tuple", "list", "str", "int", "float", "bool", "none")
    return not part.startswith(tags) and "[" not in part


def _located(data: Any, filename: str, path: tuple[int | str, ...], message: str) -> LocatedProblem:
    line, column = _position(data, path)
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
    return LocatedProblem(filename, line, column, dotted, message)


def _position(data: Any, path: tuple[int | str, ...]) -> tuple[int, int]:
    node, line, column = data, 0, 0
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            if isinstance(node[part], CommentedMap | CommentedSeq):
                line, column = node.lc.key(part)
            else:
                line, column = node.lc.value(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, column = node.lc.item(part)
            node = node[part]
        else:
            if isinstance(node, CommentedMap | CommentedSeq) and node.lc.line is not None and (line, column) == (0, 0):
                line, column = node.lc.line, node.lc.col
            break
    return line + 1, column + 1
