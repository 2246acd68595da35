"""YAML documents whose every problem points at a file, line and column.

The pact and the notification channels file are both written by people and both checked
in one pass: a problem names the file, the line and column, and the path in the document
(`mql.score_threshold`, `channels[1].url`), so the author can fix everything at once.
This module reads the text, parses it keeping line numbers, and turns pydantic errors and
the readers' own checks into `LocatedProblem`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

DocPath = tuple[int | str, ...]


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


class DocumentInvalid(Exception):
    """A document with one or more located problems; nothing was taken from it."""

    def __init__(self, problems: list[LocatedProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_text(path: Path, invalid: type[DocumentInvalid]) -> str:
    """The file's UTF-8 text (a BOM is dropped), or `invalid` with the reason."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise invalid([LocatedProblem(str(path), 1, 1, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise invalid([LocatedProblem(str(path), 1, 1, "", f"not UTF-8 text ({exc.reason})")]) from None


def load_mapping(text: str, filename: str, invalid: type[DocumentInvalid], expected: str) -> CommentedMap:
    """Parse `text` as a YAML mapping, keeping positions; `expected` says what the mapping should hold."""
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise invalid([LocatedProblem(filename, line, column, "", f"YAML syntax: {message}")]) from None
    if not isinstance(data, CommentedMap):
        raise invalid([LocatedProblem(filename, 1, 1, "", f"expected a YAML mapping ({expected})")])
    return data


def plain(node: Any) -> Any:
    """The parsed document as plain dicts, lists and scalars, as pydantic reads them."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if hasattr(node, "year") and not isinstance(node, str):
        return node.isoformat()  # YAML dates (2026-12-29) stay text, as the schemas read them
    return node


def locate_validation(exc: ValidationError, data: CommentedMap, filename: str) -> Iterable[LocatedProblem]:
    """One located problem per place pydantic complained about."""
    for path, message in validation_problems(exc, data):
        yield located(data, filename, path, message)


def validation_problems(exc: ValidationError, data: Any) -> Iterator[tuple[DocPath, str]]:
    """(path in `data`, message) for each place pydantic complained about, once per place."""
    seen: set[DocPath] = set()
    errors = exc.errors()
    for error in errors:
        if error["type"] == "too_short" and any(_inside(other["loc"], error["loc"]) for other in errors):
            continue  # a list whose items failed is "too short" only because of them: say it once, at the items
        path = _data_path(data, error["loc"])
        if path in seen:
            continue  # one message per place: unions and after-validators repeat themselves
        seen.add(path)
        yield path, _message(error)


def located(data: Any, filename: str, path: DocPath, message: str) -> LocatedProblem:
    """A problem at `path` in the document, with the line and column of that node."""
    line, column = _position(data, path)
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
    return LocatedProblem(filename, line, column, dotted, message)


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _data_path(data: Any, loc: tuple[int | str, ...]) -> DocPath:
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


def _inside(loc: tuple[int | str, ...], parent: tuple[int | str, ...]) -> bool:
    return len(loc) > len(parent) and loc[: len(parent)] == parent


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _is_key(part: str) -> bool:
    """False for the tags pydantic adds to locations inside unions and validators."""
    tags = ("function", "tuple", "list", "str", "int", "float", "bool", "none")
    return not part.startswith(tags) and "[" not in part


def _position(data: Any, path: DocPath) -> tuple[int, int]:
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
