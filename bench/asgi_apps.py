"""W5's baselines, served by the same uvicorn (uvloop, httptools) as `leadpact serve`.

* `raw`: a bare ASGI app that reads the body and answers a fixed JSON body: the HTTP ceiling.
* `fastapi_noop()`: a FastAPI route that reads the raw body and answers: the framework's cost.
* `fastapi_pydantic()`: a FastAPI route that validates the body as HubSpot events with the same
  pydantic model leadpact uses, and answers: the edge's cost without a store.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from pydantic import TypeAdapter

from leadpact.adapters.hubspot_webhooks import HubSpotEvent

ANSWER = b'{"received":1,"stored":1,"duplicates":0,"refused":[]}'


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


def fastapi_noop() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.post("/noop")
    async def noop(request: Request) -> dict[str, int]:
        await request.body()
        return {"received": 1, "stored": 0}

    return app


_EVENTS: TypeAdapter[list[HubSpotEvent]] = TypeAdapter(list[HubSpotEvent])


def fastapi_pydantic() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.post("/validate")
    async def validate(request: Request) -> dict[str, int]:
        events = _EVENTS.validate_json(await request.body())
        return {"received": len(events), "stored": 0}

    return app
