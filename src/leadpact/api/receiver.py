"""What runs behind the webhook routes: one writer that stores deliveries, one processor that applies them.

The writer: requests hand their deliveries to one thread, which stores every delivery waiting
at that moment in one transaction and wakes each request once the commit is on disk (group
commit). Acknowledging after a synced commit then costs one disk sync per group instead of one
per request, and requests never contend for SQLite's write lock.

The processor: a thread that applies stored events (`services.webhooks.process`) after they were
acknowledged: woken by the writer, and once at start for whatever an earlier run stored and did
not apply (a crash after the answer loses nothing). It applies in short passes and takes turns
with the writer on one lock, so an acknowledgement waits at most one short pass, and never on
SQLite's busy handler, which polls with sleeps of up to 100 ms.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from leadpact.config import Settings
from leadpact.domain.clock import Clock
from leadpact.services.webhooks import Incoming, Mappings, ProcessReport, Receipt, process, receive

log = logging.getLogger("leadpact.webhooks")

GROUP_EVENTS = 5_000  # events stored in one transaction at most
BUSY_PASS = 20  # events the processor applies per turn while deliveries arrive (about 15 ms)
IDLE_PASS = 500  # and while none do
DEFER = 0.2  # seconds the processor lets arriving deliveries go first, at most, before each pass
RECENT = 0.05  # seconds since the last commit during which deliveries count as still arriving


def _resolve(future: asyncio.Future[Receipt], receipt: Receipt | None, error: BaseException | None) -> None:
    if future.done():  # the request went away (the sender hung up)
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert receipt is not None
        future.set_result(receipt)


Waiting = tuple[list[Incoming], asyncio.AbstractEventLoop, "asyncio.Future[Receipt]"]


class ReceiptWriter:
    """Stores deliveries from one thread, every waiting delivery in one transaction."""

    def __init__(self, engine: Engine, clock: Clock, stored: Callable[[], None], turns: threading.Lock) -> None:
        self.engine, self.clock, self.stored, self.turns = engine, clock, stored, turns
        self._queue: queue.SimpleQueue[Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last = 0.0  # time.monotonic() of the last commit

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leadpact-receipts", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def waiting(self) -> bool:
        """Deliveries are arriving: one is waiting to be stored, or one was stored in the last 50 ms."""
        return not self._queue.empty() or time.monotonic() - self._last < RECENT

    async def store(self, delivery: list[Incoming]) -> Receipt:
        """Store one delivery; returns once it is committed."""
        self.start()  # normally started by the app's lifespan; this keeps a bare app from hanging
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        self._queue.put((delivery, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stopping = [first], False
            events = len(first[0])
            while events < GROUP_EVENTS:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting is None:
                    stopping = True
                    break
                group.append(waiting)
                events += len(waiting[0])
            self._write(group)
            if stopping:
                return

    def _write(self, group: list[Waiting]) -> None:
        try:
            with self.turns:
                receipts = receive(self.engine, self.clock, [delivery for delivery, _, _ in group])
        except Exception as exc:  # every request of the group answers 500; their senders retry
            log.exception("storing %d webhook deliveries failed", len(group))
            for _, loop, future in group:
                loop.call_soon_threadsafe(_resolve, future, None, exc)
            return
        self._last = time.monotonic()
        for (_, loop, future), receipt in zip(group, receipts, strict=True):
            loop.call_soon_threadsafe(_resolve, future, receipt, None)
        if any(r.stored for r in receipts):
            self.stored()


class Processor:
    """Applies stored events in a thread of its own, whenever woken."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        mappings: Mappings,
        turns: threading.Lock,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine, self.clock, self.mappings, self.turns, self.busy = engine, clock, mappings, turns, busy
        self._changed = threading.Condition()
        self._wanted = self._busy = self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._changed:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="leadpact-processor", daemon=True)
            self._thread.start()
        self.wake()  # whatever an earlier run stored and did not apply

    def stop(self) -> None:
        """Stop after the pass under way; events still pending are applied at the next start."""
        with self._changed:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._changed.notify_all()
        if thread is not None:
            thread.join()

    def wake(self) -> None:
        with self._changed:
            self._wanted = True
            self._changed.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending that the processor was woken for (for tests and shutdown)."""
        with self._changed:
            return self._changed.wait_for(lambda: not (self._wanted or self._busy) or self._stopping, timeout)

    def _apply_all(self) -> ProcessReport:
        """Short passes while deliveries arrive, each a turn on the lock the writer takes too."""
        total = ProcessReport()
        while not self._stopping:
            # Acknowledging comes first (HubSpot retries what is not answered in time); applying
            # may lag during a burst, but gets a pass at least every DEFER seconds.
            deferred = time.monotonic() + DEFER
            while self.busy() and time.monotonic() < deferred:
                time.sleep(RECENT / 2)  # seldom: a waiting thread takes the interpreter from the event loop
            size = BUSY_PASS if self.busy() else IDLE_PASS
            with self.turns:
                part = process(self.engine, self.clock, self.mappings, pass_size=size, passes=1)
            total.merge(part)
            if part.taken < size:
                break
        return total

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._wanted or self._stopping)
                if self._stopping:
                    return
                self._wanted, self._busy = False, True
            try:
                report = self._apply_all()
                if report.taken:
                    log.info(
                        "applied webhook events: %d applied, %d superseded, %d rejected, %d not applied",
                        report.applied,
                        report.superseded,
                        report.rejected,
                        report.not_applied,
                    )
            except Exception:  # the events stay pending; the next wake (or start) tries again
                log.exception("applying stored webhook events failed")
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()


@dataclass
class Receiver:
    """Everything the webhook routes need, built once per app by `create_app`."""

    settings: Settings
    clock: Clock
    writer: ReceiptWriter
    processor: Processor | None  # None: stored events wait for `leadpact webhooks process`

    def start(self) -> None:
        self.writer.start()
        if self.processor is not None:
            self.processor.start()

    def stop(self) -> None:
        self.writer.stop()
        if self.processor is not None:
            self.processor.stop()
