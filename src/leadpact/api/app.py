"""`create_app(settings)`: the FastAPI app, built by the entry point that serves it, never at import time."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from leadpact import __version__
from leadpact.adapters.db.engine import make_engine
from leadpact.api.receiver import Processor, ReceiptWriter, Receiver
from leadpact.api.routes import webhooks
from leadpact.bootstrap import App, bootstrap
from leadpact.config import Settings
from leadpact.domain.clock import Clock
from leadpact.services.webhooks import Mappings


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    core: App | None = None,
    process: bool = True,
) -> FastAPI:
    """The HTTP app over the store `settings` name (migrated on the way).

    `core`: an already bootstrapped app to serve (tests pass theirs). `process`: apply stored
    webhook events in the background; when false they wait for `leadpact webhooks process`.
    """
    built = core or bootstrap(settings, clock)
    # Deliveries are acknowledged once on disk: their commits sync (SQLite synchronous=FULL),
    # while applying them keeps the store's usual setting.
    durable = make_engine(settings.database_url, durable=True)
    turns = threading.Lock()  # the writer and the processor take turns writing
    mappings = Mappings(settings.hubspot_owners, settings.hubspot_stages)
    processor = Processor(built.engine, built.clock, mappings, turns)
    writer = ReceiptWriter(durable, built.clock, processor.wake, turns)
    processor.busy = writer.waiting
    receiver = Receiver(
        settings=settings,
        clock=built.clock,
        writer=writer,
        processor=processor if process else None,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        receiver.start()
        try:
            yield
        finally:
            receiver.stop()
            durable.dispose()
            if core is None:
                built.engine.dispose()

    # No /docs or /redoc: their pages load scripts from a CDN, and leadpact runs offline.
    app = FastAPI(
        title="leadpact",
        version=__version__,
        summary="The marketing–sales pact, enforced with data.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.receiver = receiver
    app.include_router(webhooks.router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Answers while the server runs (for load balancers and `leadpact serve` checks)."""
        return {"status": "ok"}

    return app
