"""What the HTTP API answers with: pydantic schemas at the edge, never the domain's own objects."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RefusedEvent(BaseModel):
    """An event of the delivery that will not be applied, and why."""

    index: int = Field(description="Its position in the delivery's array, from 0.")
    id: str | None = Field(description="Its id as the sender gave it, if it had a readable one.")
    reason: str


class WebhookReceipt(BaseModel):
    """Sent once every stored event is on disk: what became of the delivery's events."""

    received: int = Field(description="Events in the delivery.")
    stored: int = Field(description="New events, stored and applied after this answer.")
    duplicates: int = Field(description="Events received before: nothing changes twice.")
    refused: list[RefusedEvent] = Field(description="Events that will not be applied.")


class Problem(BaseModel):
    """Why a request was refused as a whole (nothing of it was stored)."""

    detail: str
