"""Dependencies routes declare: `Annotated` aliases over what `create_app` built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from leadpact.api.receiver import Receiver


async def get_receiver(request: Request) -> Receiver:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request
    # (a quarter of the interpreter's time under a W6 burst) for one attribute read.
    receiver = request.app.state.receiver
    assert isinstance(receiver, Receiver)
    return receiver


ReceiverDep = Annotated[Receiver, Depends(get_receiver)]
