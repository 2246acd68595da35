"""Reading a pact YAML document into the typed `Pact`, with every problem located.

Each problem names the file, the line and column, and the path in the document
(`mql.score_threshold`), so a marketing-ops author can fix a pact in one pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from leadpact.adapters.located_yaml import (
    DocumentInvalid,
    LocatedProblem,
    load_mapping,
    locate_validation,
    located,
    plain,
    read_text,
)
from leadpact.domain.pact import Pact, check_pact

__all__ = ["LocatedProblem", "PactDocument", "PactInvalid", "content_hash", "parse_pact", "read_pact_file"]


class PactInvalid(DocumentInvalid):
    """A pact document with one or more problems; nothing was stored."""


@dataclass(frozen=True, slots=True)
class PactDocument:
    """A valid pact with the exact text it was read from and that text's SHA-256."""

    pact: Pact
    text: str
    content_hash: str


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_pact_file(path: Path) -> PactDocument:
    return parse_pact(read_text(path, PactInvalid), str(path))


def parse_pact(text: str, filename: str = "<pact>") -> PactDocument:
    """Validate `text` as a pact; raise `PactInvalid` listing every problem found."""
    data = load_mapping(text, filename, PactInvalid, "a pact holds name:, departments:, ...")
    try:
        pact = Pact.model_validate(plain(data))
    except ValidationError as exc:
        raise PactInvalid(list(locate_validation(exc, data, filename))) from None
    problems = [located(data, filename, problem.path, problem.message) for problem in check_pact(pact)]
    if problems:
        raise PactInvalid(problems)
    return PactDocument(pact=pact, text=text, content_hash=content_hash(text))
