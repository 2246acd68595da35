"""A request body read as JSON: pydantic-core's parser first (half the time of json's on a full
webhook delivery), and json's message, which says where the body breaks, when it fails.

Must not import: services or entry points.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json


class BodyInvalid(ValueError):
    """The body is not what the endpoint takes; the message says why in one line."""


def parse_json(body: bytes) -> Any:
    try:
        return from_json(body)
    except ValueError:
        pass
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise BodyInvalid(f"the body is not valid JSON{where}: {message}") from None
