"""The half of an import's batch that writes nothing: its records read, its problems set aside for
quarantine, and its activity rows checked against the inbox.

`services/imports.py` runs it inside the transaction that writes the batch; a reader process
(`services/read_ahead.py`) runs it ahead of the writer. It imports only what reading needs, so
that the reader process stays small.

Must not import: the entry points (cli, api, web), or the services that write.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, eq

from leadpact.adapters.importers.formats import CellError, Reader
from leadpact.adapters.importers.records import ActivityColumns, ActivityRecord, LeadRecord
from leadpact.adapters.importers.table import Problem, Row

Quarantined = tuple[int, int, str | None, str, str]  # line, last line, column, reason, raw


@dataclass
class Prepared:
    """A batch read, and its activity rows checked against the inbox, as far as can be done before its
    transaction: the half of a batch's work that writes nothing (`BatchReader`). Read ahead, outside
    that transaction, another import may have written some of the rows found new meanwhile: the
    inbox's unique key refuses them, and the batch's next try checks them again (`_Job.write`)."""

    rows: int
    last_line: int
    quarantined: list[Quarantined]
    unchanged: int
    activities: ActivityColumns | None
    leads: list[LeadRecord]
    found: FoundLeads | None = None  # read ahead: the leads the activity rows name, as found then


@dataclass(frozen=True)
class FoundLeads:
    """The leads a batch's activity rows name by their system id, found outside the transaction that
    writes it, and where the identity merges stood before (`Leads.refs_moved`): the writer takes
    them as they are only if no merge or undo has moved an id since."""

    moved: tuple[int, int]
    ids: dict[str, int]


Known = Callable[[list[str]], Mapping[str, str]]  # event ids → the payload hashes of those already imported
# Whether all these ids were imported, each with this hash, looked for from an inbox id on (see
# `Inbox.all_same`): None if not, else the inbox id where the next batch likely starts.
Same = Callable[[list[str], list[str], int | None], int | None]
FindLeads = Callable[[str, list[str]], FoundLeads]  # a system and its ids → the leads known by them


class BatchReader:
    """Reads a batch of a file's records, and checks its activity rows against the inbox (`known`)."""

    def __init__(self, reader: Reader, keep_properties: bool = True, remember: int = 0) -> None:
        self.reader = reader
        self.keep_properties = keep_properties  # False when the batch will not be folded (only stored)
        # Read ahead, a batch is checked before the ones just before it are written: the ids those
        # were found new with (their digests) stand in for the inbox's rows they will be.
        self.recent: deque[dict[str, str]] = deque(maxlen=remember)
        # Whether the batch before was all imported already: then this one likely is too (a file
        # imported again), which `Same` answers without the stored rows coming back, and the inbox
        # id where it likely starts (after the batch before's rows, when `Same` found them).
        self.all_known = True
        self.known_from: int | None = None

    def prepare(
        self,
        batch: Sequence[Row | Problem],
        known: Known | None,
        find: FindLeads | None = None,
        same: Same | None = None,
    ) -> Prepared:
        quarantined: list[Quarantined] = []
        rows: list[Row] = []
        for item in batch:
            if isinstance(item, Problem):
                quarantined.append((item.line, item.last_line or item.line, item.column, item.reason, item.raw))
            else:
                rows.append(item)
        # Records come in file order: the last one ends the batch.
        prepared = Prepared(len(batch), last_line(batch[-1]), quarantined, 0, None, [])
        if self.reader.kind == "activities":
            assert known is not None
            digests: dict[int, str] = {}
            rows = self._unknown(rows, known, same, digests, prepared)
            activities, unread = self.reader.read_columns(rows, digests)
            for row, exc in unread:
                quarantined.append((row.line, row.line, exc.column, exc.reason, row.text()))
            if not self.keep_properties:
                activities.properties = []
            prepared.activities = activities
            if find is not None and activities.system is not None and activities.refs:
                prepared.found = find(activities.system, activities.refs)
            return prepared
        for row in rows:
            try:
                read = self.reader.read(row)
            except CellError as exc:
                quarantined.append((row.line, row.line, exc.column, exc.reason, row.text()))
                continue
            assert not isinstance(read, ActivityRecord)
            prepared.leads.extend(read)
        return prepared

    def _unknown(
        self, rows: list[Row], known: Known, same: Same | None, digests: dict[int, str], prepared: Prepared
    ) -> list[Row]:
        """The activity rows not imported yet; a row already in the inbox counts unchanged unread."""
        found_ids = self.reader.identify(rows)
        event_ids = [found[0] for found in found_ids if found is not None]
        whole = len(event_ids) == len(rows)
        digests_found = [found[1] for found in found_ids if found is not None]
        if whole and same is not None and self.all_known and event_ids:
            self.known_from = same(event_ids, digests_found, self.known_from)
            if self.known_from is not None:
                prepared.unchanged += len(rows)
                self.recent.append({})
                return []
        self.all_known = False
        stored = dict(known(event_ids))
        if whole and len(set(event_ids)) == len(rows):
            # The two common batches, checked by built-ins over the batch: all new (a first import),
            # or all imported before with the same content (importing the file again).
            if not stored and all(ids.keys().isdisjoint(event_ids) for ids in self.recent):
                digests.update(zip(map(_LINE, rows), digests_found, strict=True))
                if self.recent.maxlen:
                    self.recent.append(dict(zip(event_ids, digests_found, strict=True)))
                return rows
            if len(stored) == len(rows) and all(map(eq, map(stored.__getitem__, event_ids), digests_found)):
                prepared.unchanged += len(rows)
                self.recent.append({})
                self.all_known = True
                return []
        identified = list(zip(rows, found_ids, strict=True))
        if self.recent:
            for _, found in identified:
                if found is not None and found[0] not in stored:
                    earlier = next((ids[found[0]] for ids in self.recent if found[0] in ids), None)
                    if earlier is not None:
                        stored[found[0]] = earlier
        seen: dict[str, str] = {}
        fresh = []
        for row, found in identified:
            if found is None:
                fresh.append(row)  # reading it says what is missing
                digests[row.line] = ""
                continue
            event_id, digest = found
            before = stored.get(event_id, seen.get(event_id))
            if before is None:
                seen[event_id] = digests[row.line] = digest
                fresh.append(row)
            elif before == digest:
                prepared.unchanged += 1
            else:
                prepared.quarantined.append((row.line, row.line, None, changed(event_id), row.text()))
        self.recent.append(seen)
        return fresh

    def event_ids(self, batch: Sequence[Row | Problem]) -> list[str]:
        """The ids of a batch's activity rows (for one committed before a cut-off)."""
        found = self.reader.identify([item for item in batch if isinstance(item, Row)])
        return [event[0] for event in found if event is not None]


_LINE = attrgetter("line")


def changed(event_id: str) -> str:
    return f"activity {event_id!r} was imported before with other content; give it a new id"


def last_line(item: Row | Problem) -> int:
    return item.last_line or item.line if isinstance(item, Problem) else item.line
