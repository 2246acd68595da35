"""Dependencies routes declare: `Annotated` aliases over what `create_app` built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from leadpact.api.receiver import Receiver


def get_receiver(request: Request) -> Receiver:
    receiver = request.app.state.receiver
    assert isinstance(receiver, Receiver)
    return receiver


ReceiverDep = Annotated[Receiver, Depends(get_receiver)]
