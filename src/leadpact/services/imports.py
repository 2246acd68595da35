"""Importing vendor exports: a file read in committed batches, bad rows quarantined, nothing twice.

`import_file` reads a CSV export with its format's reader (adapters/importers/formats.py) and
applies it a batch at a time, each batch one transaction holding its rows, its quarantined
records and the run's progress (`import_runs.last_line`). So:

* **Nothing lost.** A record that cannot be read (a broken line, a bad date, an unknown stage)
  is quarantined with its file, line, column and reason, and the good rows around it land.
* **Nothing twice.** Activities are keyed by their id in the source system (the inbox); lead
  rows change a lead only where they say something new, and stage history already recorded
  is not recorded again. Re-importing a file changes nothing.
* **Resumable.** A run cut off (kill -9) leaves its committed batches and its `last_line`;
  importing the same file again resumes after that line, and the counts add up to one run.

Activities take the bulk path: ids checked against the inbox in one query, leads resolved in a
few, rows inserted by two statements per batch. The leads' scores are folded once, when the run
ends (services/import_scores.py): the touched leads are rescored from their stored activities,
and only leads that may have crossed the MQL criteria are replayed through the `Workbench`,
which dates the crossing at the activity that made it. (A dry run folds each batch instead, in
its one uncommitted transaction.)

Lead rows (contacts, leads, deals) go through the `Workbench`: the attributes they carry, the
ids they add, the owner, and the stage history, recorded as ledger entries marked *imported*
(another system's record of the past, never leadpact's own decision).

Must not import: the entry points (cli, api, web).
"""

from __future__ import annotations

import gc
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import chain, count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from leadpact.adapters.db.driver import bulk_cache
from leadpact.adapters.db.imports import Counts, ImportRun
from leadpact.adapters.db.store import PactVersion, Store, User
from leadpact.adapters.db.tables import from_micros
from leadpact.adapters.importers.formats import Context, FormatError, Kind, Reader, reader_for
from leadpact.adapters.importers.mapping import ImportMapping
from leadpact.adapters.importers.reader import Table, open_table
from leadpact.adapters.importers.records import ActivityColumns, Identity, LeadRecord, StageMark
from leadpact.adapters.importers.table import Problem, Row, TableFile, raw_records
from leadpact.domain.clock import Clock
from leadpact.domain.errors import DomainError
from leadpact.domain.ledger import EntryKind
from leadpact.domain.lifecycle import Stage, owning_department
from leadpact.domain.scoring import AttributeValue
from leadpact.services.identities import IdentityRow, resolve_leads
from leadpact.services.import_batches import BatchReader, FoundLeads, Prepared, changed
from leadpact.services.import_scores import NewRows, Touched, may_qualify, settle
from leadpact.services.ingest import batches
from leadpact.services.lifecycle import CONFLICTS, NO_ACTIVE_PACT, Workbench, retrying
from leadpact.services.read_ahead import ReadAhead, ReadRequest
from leadpact.services.rescore import expect_rescore, fold_activities

BATCH = 5_000  # rows of a lead file a transaction holds: about a second of work each
# Rows of an activity file: the bulk path writes 20,000 in about 0.2 s, and a commit costs
# the same whatever it holds. On SQLite each batch's activities touch most pages of their
# (lead, time) index, which the commit then writes again; four times fewer commits took W4
# from 14.1–14.9 s to 12.6–12.9 s here, and W10 from 19.1–20.2 s to 16.9 s (with the activities
# written in index order, db/imports.py); 50,000 was slower again.
ACTIVITY_BATCH = 20_000
# About 40 k activity rows: a file worth reading in a process of its own (services/read_ahead.py),
# and touching enough leads for the batch engine to rescore them (its worker is started early).
BIG_FILE_BYTES = 4 << 20
SHOWN_PROBLEMS = 200  # problems kept in the report for display; quarantine keeps them all
Progress = Callable[[int, int], None]  # (rows just applied, bytes of the file read so far)


class ImportRefused(DomainError):
    """The file cannot be imported as asked (no such format columns, no active pact)."""


@dataclass
class ImportReport:
    format: str
    file: str
    kind: Kind | None
    encoding: str
    dry_run: bool
    run_id: int | None = None
    resumed_after: int | None = None  # the line a cut-off run had committed up to
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    leads_created: int = 0
    leads_merged: int = 0
    transitions: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first SHOWN_PROBLEMS, in file order
    file_problems: list[Problem] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # columns the format does not read
    owners_unmatched: Counter[str] = field(default_factory=Counter)
    # Other runs not finished when this one ended: cut off, or running now. An activity run's rows
    # count in their leads' scores once it finishes, so the report names them.
    others_unfinished: list[ImportRun] = field(default_factory=list)

    def add(self, applied: _Applied) -> None:
        part, outcome = applied.counts, applied.outcome
        self.rows += part.rows
        self.created += part.created
        self.updated += part.updated
        self.unchanged += part.unchanged
        self.quarantined += part.quarantined
        self.leads_created += outcome.leads_created
        self.leads_merged += outcome.merged
        self.transitions += outcome.transitions
        self.owners_unmatched.update(outcome.owners_unmatched)
        room = SHOWN_PROBLEMS - len(self.problems)
        if room > 0:
            self.problems.extend(applied.problems[:room])


def fingerprint(path: Path) -> str:
    """A file's identity for resuming: the SHA-256 of all its bytes (about 0.2 s for 100 MB, against
    the minute such a file takes to import), so a cut-off run resumes only on the very same file."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while importing.

    A batch allocates hundreds of thousands of small containers that live a moment and hold no
    cycles; with the default thresholds the collector kept walking every live object of the
    process, a quarter of an activity import's time. The thresholds come back afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def import_file(
    engine: Engine,
    clock: Clock,
    path: Path,
    format: str,
    *,
    mapping: ImportMapping | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    progress: Progress | None = None,
    read_ahead: bool | None = None,
) -> ImportReport:
    """Import one export file (CSV, or a sheet of an XLSX workbook); see the module docstring for what is
    guaranteed. `batch_size`: rows a transaction holds (default: `ACTIVITY_BATCH` for activity
    files, `BATCH` for lead files). `read_ahead`: read the batches of an activity CSV in a process of its own while
    the ones before are written (by default, for files over `BIG_FILE_BYTES` not imported before)."""
    with _fewer_collections(), ExitStack() as stack:
        return _import(
            stack,
            engine,
            clock,
            path,
            format,
            mapping or ImportMapping(),
            encoding,
            sheet,
            dry_run,
            batch_size,
            progress,
            read_ahead,
        )


def _import(
    stack: ExitStack,
    engine: Engine,
    clock: Clock,
    path: Path,
    format: str,
    mapping: ImportMapping,
    encoding: str | None,
    sheet: str | None,
    dry_run: bool,
    batch_size: int | None,
    progress: Progress | None,
    read_ahead: bool | None,
) -> ImportReport:
    try:
        table = open_table(path, encoding, sheet)
    except ValueError as exc:
        raise ImportRefused(str(exc)) from None
    report = ImportReport(format, table.name, None, getattr(table, "encoding", "xlsx"), dry_run)
    items = table.rows()
    first = next(items, None)  # reads the header
    report.file_problems = list(table.problems)
    if not table.header:
        return report
    with Store(engine) as store:
        active = store.pacts.active()
    zone = mapping.zone() or ZoneInfo(active.pact.calendar.timezone if active else "Asia/Tokyo")
    try:
        reader = reader_for(format, table.header, Context(table.name, zone, mapping))
    except FormatError as exc:
        raise ImportRefused(f"{path.name}: {exc}") from None
    report.kind, report.unread = reader.kind, list(reader.columns.unread)
    batch_size = batch_size or (ACTIVITY_BATCH if reader.kind == "activities" else BATCH)
    if reader.kind == "leads" and active is None:
        raise ImportRefused(f"{NO_ACTIVE_PACT}; imported stage history is recorded under the pact's departments")
    big = path.stat().st_size > BIG_FILE_BYTES
    # A reader process that may read the file ahead starts now: it loads while the file's
    # fingerprint is taken and the run started, and is stopped unused if the file was imported before.
    folded_at_end = reader.kind == "activities" and active is not None and not dry_run
    ahead = (
        stack.enter_context(ReadAhead())
        if folded_at_end and isinstance(table, TableFile) and read_ahead is not False and (read_ahead or big)
        else None
    )
    job = _Job(reader, table.name, fingerprint(path), format)
    url = engine.url.render_as_string(hide_password=False)
    rows = chain([first] if first is not None else [], items)
    if folded_at_end:
        job.touched = Touched()
    if dry_run:
        with Store(engine) as store:  # one transaction, never committed
            for batch in batches(rows, batch_size):
                report.add(job.apply(store, clock.now(), batch, run_id=None))
                if progress is not None:
                    progress(len(batch), _position(table))
        return report
    with Store(engine) as store:
        unfinished = store.import_runs.unfinished(job.fingerprint, format)
        # Imported before: its rows will be recognised, which leaves the writer nothing to do while
        # a reader process checks them; one process does it as fast.
        again = store.import_runs.finished_before(job.fingerprint, format)
        if unfinished is not None:
            report.run_id, report.resumed_after = unfinished.id, unfinished.last_line
            _resume_counts(report, unfinished)
        else:
            header = ",".join(_quoted(name) for name in table.header)
            report.run_id = store.import_runs.start(
                format, table.name, job.fingerprint, header, report.encoding, clock.now()
            )
            store.commit()
    run_id = report.run_id
    assert run_id is not None
    skip = report.resumed_after or 0
    if job.touched is not None and big and not again:
        expect_rescore(engine)  # the closing rescore of so many leads will take the batch engine
    if ahead is not None and (read_ahead or not again):
        assert isinstance(table, TableFile)
        ahead.read(ReadRequest(url, path, format, mapping, table.encoding, zone, batch_size, skip))
        job.file = (path, table.encoding)
    elif ahead is not None:
        ahead.stop()
        ahead = None
    with _steps(engine, clock, table, rows, job, run_id, skip, batch_size, ahead) as steps:
        for step in steps:
            if isinstance(step, _Recall):
                job.recall(engine, step.event_ids)  # committed before the cut-off: only the closing fold is owed
                continue
            applied = retrying(engine, step.work, conflicts=(IntegrityError, *CONFLICTS))
            report.add(applied)  # counted once committed
            if job.touched is not None and applied.outcome.folding is not None:
                job.touched.add(*applied.outcome.folding)
            if progress is not None:
                progress(step.rows, step.position)
    if job.touched is not None:
        report.transitions += settle(engine, clock, job.touched, trigger={"import": reader.source})
    with Store(engine) as store:
        store.import_runs.finish(run_id, clock.now())
        store.commit()
        report.others_unfinished = store.import_runs.others_unfinished(run_id)
    return report


@dataclass(frozen=True)
class _Recall:
    """A batch committed before a cut-off: its activity rows' ids."""

    event_ids: list[str]


@dataclass(frozen=True)
class _Step:
    """A batch to write: its records, the bytes of the file read once it was, and the work of its transaction."""

    rows: int
    position: int
    work: Callable[[Store], _Applied]


@contextmanager
def _steps(
    engine: Engine,
    clock: Clock,
    table: Table,
    rows: Iterator[Row | Problem],
    job: _Job,
    run_id: int,
    skip: int,
    batch_size: int,
    ahead: ReadAhead | None,
) -> Iterator[Iterator[_Recall | _Step]]:
    """The run's batches: read here, or by the reader process (`ahead`) while the batches before are written."""
    if ahead is None:
        yield _local_steps(clock, table, rows, job, run_id, skip, batch_size)
        return
    with ahead:
        yield _steps_ahead(clock, ahead, job, run_id)


def _local_steps(
    clock: Clock, table: Table, rows: Iterator[Row | Problem], job: _Job, run_id: int, skip: int, batch_size: int
) -> Iterator[_Recall | _Step]:
    for batch in batches(rows, batch_size):
        if _line(batch[-1]) <= skip:
            if job.touched is not None:
                yield _Recall(job.batches.event_ids(batch))
            continue
        if _line(batch[0]) <= skip:
            batch = [item for item in batch if _line(item) > skip]

        def work(store: Store, batch: list[Row | Problem] = batch) -> _Applied:
            return job.apply(store, clock.now(), batch, run_id)

        yield _Step(len(batch), _position(table), work)


def _steps_ahead(clock: Clock, ahead: ReadAhead, job: _Job, run_id: int) -> Iterator[_Recall | _Step]:
    for message in ahead:
        if isinstance(message, list):
            yield _Recall(message)
            continue
        prepared, position = message
        tries = count()

        def work(store: Store, prepared: Prepared = prepared, tries: Iterator[int] = tries) -> _Applied:
            # The rows the reader found new are written as they are: one that another import wrote
            # meanwhile breaks the inbox's unique key, and the batch's next try checks them again.
            return job.write(store, clock.now(), prepared, run_id, recheck=next(tries) > 0)

        yield _Step(prepared.rows, position, work)


def _position(table: Table) -> int:
    """Bytes of a CSV file read so far (a workbook's progress is not known in bytes: 0)."""
    return int(getattr(table, "position", 0))


def _resume_counts(report: ImportReport, run: object) -> None:
    for name in ("rows", "created", "updated", "unchanged", "quarantined"):
        setattr(report, name, getattr(run, name))


def _quoted(name: str) -> str:
    return f'"{name.replace(chr(34), chr(34) * 2)}"' if any(c in name for c in ',"\n\r') else name


def _line(item: Row | Problem) -> int:
    return item.line


class _Job:
    """One file being imported: writes a prepared batch inside the caller's unit of work."""

    def __init__(self, reader: Reader, name: str, fp: str, format: str) -> None:
        self.reader, self.name, self.fingerprint = reader, name, fp
        self.actor = f"import:{format}"
        self.touched: Touched | None = None  # set when the run's scores are folded at its end
        self.batches = BatchReader(reader)
        self.file: tuple[Path, str] | None = None  # the CSV and its encoding, when read ahead

    def recall(self, engine: Engine, event_ids: list[str]) -> None:
        """The rows of a batch committed before a cut-off, for the run's closing fold."""
        if self.touched is None:
            return
        with Store(engine) as store:
            self.touched.add(*store.imported_activities.rows_of(self.reader.source, event_ids))

    def apply(self, store: Store, now: datetime, batch: list[Row | Problem], run_id: int | None) -> _Applied:
        """Read, check and write a batch, all in the caller's transaction."""
        known = partial(store.inbox.known, self.reader.source)
        same = partial(store.inbox.all_same, self.reader.source)
        return self.write(store, now, self.batches.prepare(batch, known, same=same), run_id)

    def write(
        self, store: Store, now: datetime, prepared: Prepared, run_id: int | None, recheck: bool = False
    ) -> _Applied:
        """Write a prepared batch in the caller's transaction; `recheck`: the batch was read ahead, outside
        it, and a try before broke the inbox's unique key: check its rows against the inbox again first."""
        bulk_cache(store.connection)
        quarantined = list(prepared.quarantined)  # the batch may be retried: the prepared one stays as read

        def refuse(line: int, last: int, column: str | None, reason: str, raw: str) -> None:
            quarantined.append((line, last, column, reason, raw))

        outcome = _Outcome(unchanged=prepared.unchanged)
        pact = store.pacts.active()
        activities = prepared.activities
        if activities and recheck:
            activities = self._recheck(store, activities, refuse, outcome)
        if activities:
            folding = self.touched is None
            _Activities(store, now, pact, self.reader, refuse, outcome, folding, prepared.found).apply(activities)
        if prepared.leads:
            if pact is None:
                raise ImportRefused(NO_ACTIVE_PACT)
            _Leads(store, now, pact, self, refuse, outcome).apply(prepared.leads)
        counts = Counts(
            last_line=prepared.last_line,
            rows=prepared.rows,
            created=outcome.created,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
            quarantined=len(quarantined),
        )
        if run_id is not None:
            store.quarantine.add(run_id, self.fingerprint, self.name, quarantined, now)
            store.import_runs.advance(run_id, counts)
        problems = [
            Problem(self.name, line, column, reason, raw, last) for line, last, column, reason, raw in quarantined
        ]
        problems.sort(key=lambda p: p.line)
        return _Applied(counts, problems, outcome)

    def _recheck(self, store: Store, batch: ActivityColumns, refuse: Refuse, outcome: _Outcome) -> ActivityColumns:
        """Of rows read as new outside this transaction, those still new (another import may have written some)."""
        known = store.inbox.known(self.reader.source, batch.event_ids)
        if not known:
            return batch
        kept, differing = [], []
        for i, event_id in enumerate(batch.event_ids):
            before = known.get(event_id)
            if before is None:
                kept.append(i)
            elif before == batch.digests[i]:
                outcome.unchanged += 1
            else:
                differing.append(i)
        if differing:
            lines = [batch.lines[i] for i in differing]
            raw = raw_records(*self.file, lines) if self.file is not None else {}
            for i, line in zip(differing, lines, strict=True):
                refuse(line, line, None, changed(batch.event_ids[i]), raw.get(line, ""))
        return _taking(batch, kept)


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    leads_created: int = 0
    merged: int = 0
    transitions: int = 0
    owners_unmatched: Counter[str] = field(default_factory=Counter)
    folding: tuple[list[int], list[str], list[int]] | None = None  # rows left to the run's closing fold


@dataclass(frozen=True)
class _Applied:
    """What one batch did, added to the report once its transaction committed."""

    counts: Counts
    problems: list[Problem]
    outcome: _Outcome


Refuse = Callable[[int, int, str | None, str, str], None]


def _resolve(
    store: Store, now: datetime, file: str, wanted: Sequence[tuple[int, Identity, bool, datetime, str | None]]
) -> tuple[list[tuple[int | None, str | None]], set[int], int]:
    """Each (line, identity, may create, first seen, company) as a lead id or a refusal, in one pass
    of the identity resolver (services/identities.py): new leads are created, the leads a row
    shows to be one person are merged. Returns the rows, the leads created and the merges made."""
    # The common activity row names one known lead by its ids alone: nothing to link, create or
    # merge, so it skips the resolver (which plans every row it is given).
    by_ref: dict[tuple[str, str], int] = {}
    systems: dict[str, set[str]] = {}
    for _, identity, _, _, company in wanted:
        if identity.email is None and company is None:
            for system, ref in identity.refs:
                systems.setdefault(system, set()).add(ref)
    for system, refs in systems.items():
        for ref, lead_id in store.leads.ids_by_ref(system, refs).items():
            by_ref[(system, ref)] = lead_id
    direct: dict[int, int] = {}
    for index, (_, identity, _, _, company) in enumerate(wanted):
        if identity.email is None and company is None and identity.refs:
            leads = {by_ref.get(ref) for ref in identity.refs}
            if len(leads) == 1 and None not in leads:
                direct[index] = leads.pop()  # type: ignore[assignment]
    rest = [i for i in range(len(wanted)) if i not in direct]
    resolution = resolve_leads(
        store,
        [
            IdentityRow(at, identity.email, identity.refs, company, create=creates, record={"file": file, "line": line})
            for line, identity, creates, at, company in (wanted[i] for i in rest)
        ],
        now,
    )
    rows = dict(zip(rest, resolution.rows, strict=True))
    found: list[tuple[int | None, str | None]] = []
    created: set[int] = set()
    for index, (_, identity, _, _, _) in enumerate(wanted):
        if index in direct:
            found.append((direct[index], None))
            continue
        row = rows[index]
        if row.lead_id is None:
            unknown = f"no lead is known as {identity.describe()}: import the contacts or leads first"
            found.append((None, row.refused or unknown))
            continue
        if row.created:
            created.add(row.lead_id)
        found.append((row.lead_id, None))
    return found, created, len(resolution.merges)


class _Activities:
    """The bulk path: new activities inserted by the batch, scores folded, MQL crossings replayed."""

    def __init__(
        self,
        store: Store,
        now: datetime,
        pact: PactVersion | None,
        reader: Reader,
        refuse: Refuse,
        outcome: _Outcome,
        fold: bool,
        found: FoundLeads | None = None,
    ) -> None:
        self.store, self.now, self.pact, self.refuse, self.outcome = store, now, pact, refuse, outcome
        self.source = reader.source
        self.file = reader.context.file
        self.fold = fold  # fold the batch into the scores now, or leave it to the run's end
        self.found = found  # the leads its rows name, found by the reader process

    def apply(self, batch: ActivityColumns) -> None:
        found = self._leads(batch)
        lead_ids = [lead_id for lead_id in found if lead_id is not None]
        if len(lead_ids) < len(batch):
            batch = _taking(batch, [i for i, lead_id in enumerate(found) if lead_id is not None])
        rows = list(
            zip(batch.event_ids, lead_ids, batch.types, batch.micros, batch.properties_json, batch.digests, strict=True)
        )
        self.store.imported_activities.add(self.source, self.now, rows)
        self.outcome.created += len(rows)
        if self.pact is None or not rows:
            return
        if self.fold:
            self._score(batch, lead_ids)
        else:
            self.outcome.folding = (lead_ids, batch.types, batch.micros)

    def _leads(self, batch: ActivityColumns) -> list[int | None]:
        """Each row's lead. Rows naming their lead by one known id need no resolver (one query
        for the batch); the others go through it, which creates and merges (services/identities.py)."""
        if batch.system is not None:
            known = self._by_ref(batch.system, batch.refs)
            found: list[int | None] = [known.get(ref) for ref in batch.refs]
            rest = [i for i, lead_id in enumerate(found) if lead_id is None]
        else:
            found, rest = [None] * len(batch), list(range(len(batch)))
        if not rest:
            return found
        wanted = [(batch.lines[i], batch.identity(i), True, from_micros(batch.micros[i]), None) for i in rest]
        resolved, created, merged = _resolve(self.store, self.now, self.file, wanted)
        self.outcome.leads_created += len(created)
        self.outcome.merged += merged
        for i, (lead_id, refused) in zip(rest, resolved, strict=True):
            if lead_id is None:
                self.refuse(batch.lines[i], batch.lines[i], None, refused or "", "")
            found[i] = lead_id
        return found

    def _by_ref(self, system: str, refs: list[str]) -> dict[str, int]:
        """The leads known by these ids: as the reader process found them if no identity merge or
        undo has moved an id since (the lookup, off this transaction, took a fifth of the writer's
        time on PostgreSQL); ids it did not find are looked for again, a lead may have come since."""
        leads = self.store.leads
        if self.found is None or self.found.moved != leads.refs_moved():
            return leads.ids_by_ref(system, refs)
        missing = [ref for ref in refs if ref not in self.found.ids]
        return self.found.ids | leads.ids_by_ref(system, missing) if missing else self.found.ids

    def _score(self, batch: ActivityColumns, lead_ids: list[int]) -> None:
        """Fold the new rows into the scores; replay the leads whose MQL criteria may have started to hold."""
        assert self.pact is not None
        folded = fold_activities(
            self.store,
            self.pact.pact,
            self.pact.version,
            lead_ids,
            batch.types,
            batch.micros,
            batch.properties,
            at=self.now,
        )
        candidates = may_qualify(self.store, self.pact, folded, NewRows.of(lead_ids, batch.types, batch.micros))
        if not candidates:
            return
        earliest = dict(zip(folded.lead_ids.tolist(), folded.earliest.tolist(), strict=True))
        bench = Workbench(self.store, self.pact, self.now)
        bench.load(candidates)
        bench.load_history(candidates)
        for lead_id in candidates:
            work = bench.work[lead_id]
            bench.qualify(work, from_micros(earliest[lead_id]), trigger={"import": self.source}, in_order=False)
        self.outcome.transitions += bench.transitions
        bench.flush()


def _taking(batch: ActivityColumns, kept: Sequence[int]) -> ActivityColumns:
    """The rows `kept` of a batch (those whose lead was found)."""

    def take(values: list[Any]) -> list[Any]:
        return [values[i] for i in kept] if values else values

    return ActivityColumns(
        take(batch.lines),
        take(batch.event_ids),
        take(batch.types),
        take(batch.micros),
        take(batch.properties),
        take(batch.properties_json),
        take(batch.digests),
        batch.system,
        take(batch.refs),
        take(batch.identities),
    )


class _Leads:
    """Lead rows through the Workbench: attributes, ids, owner and imported stage history."""

    def __init__(
        self, store: Store, now: datetime, pact: PactVersion, job: _Job, refuse: Refuse, outcome: _Outcome
    ) -> None:
        self.store, self.now, self.pact, self.job = store, now, pact, job
        self.refuse, self.outcome = refuse, outcome

    def apply(self, records: list[LeadRecord]) -> None:
        named = []
        for record in records:
            if record.identity:
                named.append(record)
            else:
                self.refuse(record.line, record.line, None, "the row names nobody: no e-mail and no record id", "")
        leads, created, merged = _resolve(
            self.store,
            self.now,
            self.job.name,
            [
                (r.line, r.identity, r.creates, _first_known(r) or self.now, _company(r.attributes.get("company")))
                for r in named
            ],
        )
        resolved: list[tuple[LeadRecord, int]] = []
        for record, (lead_id, refused) in zip(named, leads, strict=True):
            if lead_id is None:
                self.refuse(record.line, record.line, None, refused or "", "")
            else:
                resolved.append((record, lead_id))
        self.outcome.leads_created += len(created)
        self.outcome.merged += merged
        ids = {lead_id for _, lead_id in resolved}
        bench = Workbench(self.store, self.pact, self.now)
        bench.load(ids)
        recorded = self.store.ledger.transitions_of(ids)
        owners = _Owners(self.store.users.all(), self.job.reader.mapping.owners)
        for record, lead_id in resolved:
            changed = self._apply(bench, record, lead_id, recorded, owners)
            if lead_id in created:
                self.outcome.created += 1
                created.discard(lead_id)  # a second row for the same new lead is an update
            elif changed:
                self.outcome.updated += 1
            else:
                self.outcome.unchanged += 1
        self.outcome.transitions += bench.transitions
        self.outcome.owners_unmatched.update(owners.unmatched)
        bench.flush()

    def _apply(
        self,
        bench: Workbench,
        record: LeadRecord,
        lead_id: int,
        recorded: set[tuple[int, str | None, datetime]],
        owners: _Owners,
    ) -> bool:
        work = bench.work[lead_id]
        changed = False
        fallback = _last_known(record) or self.now
        marks = list(record.marks)
        for i, mark in enumerate(marks):
            previous = marks[i - 1].stage if i else None
            changed |= self._mark(
                bench, record, lead_id, mark, previous, last=i == len(marks) - 1, fallback=fallback, recorded=recorded
            )
        attributes: dict[str, AttributeValue] = dict(record.attributes)
        if record.owner:
            user = owners.find(record.owner)
            if user is None:
                attributes["crm_owner"] = record.owner
            elif work.owner_id != user.id:
                department = (
                    user.department
                    if self.pact.pact.department(user.department)
                    else owning_department(self.pact.pact, work.lead.stage)
                )
                bench.record_imported(
                    lead_id,
                    EntryKind.ASSIGNMENT,
                    record.owner_at or fallback,
                    self.job.actor,
                    department,
                    owner=user,
                    current=True,
                    evidence=self._evidence(
                        record, self.job.reader.columns.column("owner"), dated=bool(record.owner_at)
                    ),
                )
                changed = True
        new_email = record.identity.email if work.lead.email is None else None
        different = {k: v for k, v in attributes.items() if work.lead.attributes.get(k) != v}
        if different or new_email:
            bench.upsert(lead_id, self.now, different, new_email)
            changed = True
        return changed

    def _mark(
        self,
        bench: Workbench,
        record: LeadRecord,
        lead_id: int,
        mark: StageMark,
        previous: Stage | None,
        *,
        last: bool,
        fallback: datetime,
        recorded: set[tuple[int, str | None, datetime]],
    ) -> bool:
        """Record one stage the export gives, unless already recorded; the last may become the lead's stage."""
        lead = bench.work[lead_id].lead
        if mark.at is None:
            if not last or lead.stage is mark.stage:
                return False  # an undated stage says only where the lead is now
            at = fallback
            if at < lead.stage_changed_at and lead.stage is not Stage.LEAD:
                return False  # leadpact moved the lead since: an undated stage is no history to keep
        else:
            at = mark.at
            if (lead_id, mark.stage.value, at) in recorded:
                return False
        current = last and lead.stage is not mark.stage and (at >= lead.stage_changed_at or lead.stage is Stage.LEAD)
        before = previous or (lead.stage if current else Stage.LEAD)
        if before is mark.stage:
            return False  # "became a lead" on a lead: no move
        bench.record_imported(
            lead_id,
            EntryKind.TRANSITION,
            at,
            self.job.actor,
            owning_department(self.pact.pact, mark.stage),
            to=mark.stage,
            frm=before,
            current=current,
            evidence=self._evidence(record, mark.column, dated=mark.at is not None),
            reason=mark.reason,
        )
        recorded.add((lead_id, mark.stage.value, at))
        return True

    def _evidence(self, record: LeadRecord, column: str, dated: bool) -> dict[str, object]:
        evidence: dict[str, object] = {"file": self.job.name, "line": record.line, "column": column}
        if not dated:
            evidence["dated"] = "the export gives no date; dated at the row's latest date, or the import"
        return evidence


def _company(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _first_known(record: LeadRecord) -> datetime | None:
    dates = [m.at for m in record.marks if m.at is not None] + [d for d in (record.created_at,) if d]
    return min(dates) if dates else None


def _last_known(record: LeadRecord) -> datetime | None:
    dates = [m.at for m in record.marks if m.at is not None] + [d for d in (record.created_at, record.owner_at) if d]
    return max(dates) if dates else None


class _Owners:
    """The export's owner values as leadpact users: the mapping, then the user's name or e-mail."""

    def __init__(self, users: Sequence[User], mapping: Mapping[str, str]) -> None:
        self.by_name = {u.name: u for u in users}
        self.by_key = {_owner_key(u.name): u for u in users}
        self.by_key.update({_owner_key(u.email): u for u in users if u.email})
        self.mapping = mapping
        self.unmatched: Counter[str] = Counter()

    def find(self, value: str) -> User | None:
        name = self.mapping.get(value, value)
        found = self.by_name.get(name) or self.by_key.get(_owner_key(name))
        if found is None:
            self.unmatched[value] += 1
        return found


def _owner_key(text: str) -> str:
    return "".join(text.casefold().split())
