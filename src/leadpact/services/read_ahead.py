"""Reading a large activity import ahead of its writer, in a process of its own.

An activity import spends about half of its time in Python reading the file: the CSV reader,
each row's id and digest, its columns and properties. The other half is the store's (inserts,
commits), and on SQLite that runs on one core. So a large file is read by a child process, a
batch at a time, while the process that started it writes the batches before: the reading
takes the second core. The child does what needs no transaction (`BatchReader.prepare`):
records read, problems and unreadable rows set aside for quarantine, activity rows checked
against the inbox and their leads found by system id, through a connection that only reads.
The writer writes them exactly as a batch read in-process: should another import have written
some of the rows meanwhile, the inbox's unique key refuses the batch and its next try checks
them again; should an identity merge or its undo have moved a system id meanwhile, the writer
finds the batch's leads again itself.

The pipe between them holds about one batch, so the child stays a batch or two ahead and the
memory of a run stays bounded. When the writer stops, for whatever reason, the child is killed;
when the child fails, its exception is raised in the writer.

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from leadpact.adapters import child
from leadpact.adapters.importers.mapping import ImportMapping

if TYPE_CHECKING:
    from leadpact.services.import_batches import Prepared

_CODE = "from leadpact.services.read_ahead import serve; serve()"
# Batches whose new ids the reader keeps: it runs a batch or two ahead of the writer (the pipe
# holds one), so an id repeated a few batches later is recognised as the writer will have stored
# it, with the raw text of its row for quarantine. Beyond that the inbox has it. Twice what can be
# in flight: at 20,000 rows a batch, each remembered batch is some 6 MB of the reader's memory.
REMEMBERED_BATCHES = 4


@dataclass(frozen=True)
class ReadRequest:
    """What the reader needs to read the file as the writer would: the same format, mapping,
    encoding, time zone and batches, and the line a resumed run starts after."""

    url: str
    path: Path
    format: str
    mapping: ImportMapping
    encoding: str
    zone: tzinfo
    batch_size: int
    skip: int


# A message from the reader: the ids of a batch committed before a cut-off, or a prepared batch
# with the bytes of the file read once it was.
Message = list[str] | tuple["Prepared", int]


class ReadAhead:
    """The reader process of one import, as an iterator of its messages (use it in a `with`).

    The process starts at once and loads what reading needs (about a second) while the writer
    gets the run ready (the file's fingerprint, the run's row); `read` then sends it the request.
    One never sent a request is stopped on leaving the `with`.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = child.start(_CODE)
        self.request: ReadRequest | None = None

    def read(self, request: ReadRequest) -> ReadAhead:
        assert self.process is not None and self.process.stdin is not None
        self.request = request
        child.send(self.process.stdin, request)
        self.process.stdin.close()
        return self

    def __enter__(self) -> ReadAhead:
        return self

    def __iter__(self) -> Iterator[Message]:
        assert self.process is not None and self.process.stdout is not None and self.request is not None
        while True:
            try:
                kind, value = child.receive(self.process.stdout)
            except EOFError:
                raise RuntimeError(f"the process reading {self.request.path.name} ahead stopped unexpectedly") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the process (done or not, it has nothing more to say to a writer that stops)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self.process = None


def serve() -> None:
    """The reader process: one `ReadRequest` in, its messages out, then ("end", None) or ("error", exception)."""
    gc.set_threshold(50_000, 20, 100)  # as the writer does while importing (services/imports.py)
    _load()  # before the request comes: meanwhile the writer gets the run ready
    request: ReadRequest = child.receive(sys.stdin.buffer)
    out = child.replies()
    try:
        for message in _read(request):
            child.send(out, message)
        child.send(out, ("end", None))
    except BrokenPipeError:
        return  # the writer has stopped: so does its reader
    except Exception as exc:  # raised again in the writer
        child.send(out, ("error", exc))


def _load() -> None:
    """Import what reading needs (done in the reader process only)."""
    import leadpact.adapters.db.engine
    import leadpact.adapters.db.store
    import leadpact.adapters.importers.formats
    import leadpact.adapters.importers.table
    import leadpact.services.import_batches
    import leadpact.services.ingest  # noqa: F401


def _read(request: ReadRequest) -> Iterator[tuple[str, Any]]:
    from leadpact.adapters.db.engine import make_reading_engine
    from leadpact.adapters.db.store import Inbox, Leads
    from leadpact.adapters.importers.formats import Context, reader_for
    from leadpact.adapters.importers.table import Problem, Row, TableFile
    from leadpact.services.import_batches import BatchReader, FoundLeads
    from leadpact.services.ingest import batches

    def line(item: Row | Problem) -> int:
        return item.line

    table = TableFile(request.path, request.encoding)
    items = table.rows()
    first = next(items, None)
    if first is None:
        return
    reader = reader_for(request.format, table.header, Context(table.name, request.zone, request.mapping))
    prepare = BatchReader(reader, keep_properties=False, remember=REMEMBERED_BATCHES)
    engine = make_reading_engine(request.url)
    try:
        with engine.connect() as connection:
            inbox = Inbox(connection)
            known, same = partial(inbox.known, reader.source), partial(inbox.all_same, reader.source)
            leads = Leads(connection)

            def find(system: str, refs: list[str]) -> FoundLeads:
                moved = leads.refs_moved()  # first: a merge after it shows as a move to the writer
                return FoundLeads(moved, leads.ids_by_ref(system, refs))

            for batch in batches(chain([first], items), request.batch_size):
                if line(batch[-1]) <= request.skip:
                    yield ("batch", prepare.event_ids(batch))
                    continue
                if line(batch[0]) <= request.skip:
                    batch = [item for item in batch if line(item) > request.skip]
                yield ("batch", (prepare.prepare(batch, known, find=find, same=same), table.position))
    finally:
        engine.dispose()
