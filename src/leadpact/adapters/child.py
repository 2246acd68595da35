"""A Python child process spoken to over its standard streams: pickled messages, each length-prefixed.

leadpact starts such children where work must leave the calling process: the SQLite scoring
worker (adapters/analytics/scoring.py), and the reader that reads a large import ahead of its
writer (services/read_ahead.py). They are plain `python -c` children, not multiprocessing:
spawn would re-run the caller's __main__ (`python -m leadpact` has no main guard), and fork
would copy the caller's SQLite state and threads into the child.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from typing import IO, Any

_SIZE = struct.Struct("<Q")


def start(code: str) -> subprocess.Popen[bytes]:
    """`python -c code` with this process's import path, its stdin and stdout as pipes."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
    )


def replies() -> IO[bytes]:
    """In a child: the stream its messages go out on. Its stdout is moved to a stream of its own
    and stderr takes stdout's place, so that a stray print cannot corrupt a message."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def send(stream: Any, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_SIZE.pack(len(payload)) + payload)
    stream.flush()


def receive(stream: Any) -> Any:
    """The next message; EOFError when the other side has closed its end."""
    header = stream.read(_SIZE.size)
    if len(header) < _SIZE.size:
        raise EOFError
    (size,) = _SIZE.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return pickle.loads(payload)
