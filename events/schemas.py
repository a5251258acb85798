"""What the event feed and the webhooks API take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from core.schemas import StrictSchema, Text
from events.models import Event


class EventOut(Schema):
    id: int
    type: str
    created_at: datetime
    aggregate_type: str
    aggregate_id: UUID
    data: dict[str, Any]


class EventListOut(Schema):
    items: list[EventOut]


class EventPageOut(Schema):
    items: list[EventOut]
    next_cursor: str = Field(
        description="Pass as `cursor` to get what follows; when `items` is empty, poll "
        "again later with the same cursor."
    )


class WebhookIn(StrictSchema):
    url: Text = Field(max_length=500, description="Where to POST the events (https).")
    event_types: list[Text] = Field(
        default=[], max_length=50, description="Event types wanted; empty: all you may see."
    )
    description: Text = Field(default="", max_length=200)


class WebhookPatch(StrictSchema):
    url: Text | None = Field(default=None, max_length=500)
    event_types: list[Text] | None = Field(default=None, max_length=50)
    description: Text | None = Field(default=None, max_length=200)
    active: bool | None = None


class WebhookOut(Schema):
    id: UUID
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks `whsec_…`). Shown only now."
    )


class WebhookListOut(Schema):
    items: list[WebhookOut]


class DeliveryOut(Schema):
    id: UUID
    subscription_id: UUID
    event_id: int
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPageOut(Schema):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        type=event.type,
        created_at=event.created_at,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        data=event.payload,
    )
