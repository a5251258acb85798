"""What the event feed and the webhooks API take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from core.schemas import ModelOut, StrictSchema, Text, example_config
from events import examples
from events.models import Event, WebhookDelivery


class EventOut(ModelOut):
    id: int
    type: str
    created_at: datetime
    aggregate_type: str
    aggregate_id: UUID
    data: dict[str, Any]

    @staticmethod
    def resolve_data(event: Event) -> dict[str, Any]:
        return event.payload


class EventListOut(Schema):
    model_config = example_config(examples.EVENT_LIST)

    items: list[EventOut]


class EventPageOut(Schema):
    model_config = example_config(examples.EVENT_PAGE)

    items: list[EventOut]
    next_cursor: str = Field(
        description="Pass as `cursor` to get what follows; when `items` is empty, poll "
        "again later with the same cursor."
    )


class WebhookIn(StrictSchema):
    model_config = example_config(examples.WEBHOOK_IN)

    url: Text = Field(max_length=500, description="Where to POST the events (https).")
    event_types: list[Text] = Field(
        default=[], max_length=50, description="Event types wanted; empty: all you may see."
    )
    description: Text = Field(default="", max_length=200)


class WebhookPatch(StrictSchema):
    model_config = example_config(examples.WEBHOOK_PATCH)

    url: Text | None = Field(default=None, max_length=500)
    event_types: list[Text] | None = Field(default=None, max_length=50)
    description: Text | None = Field(default=None, max_length=200)
    active: bool | None = None


class WebhookOut(Schema):
    model_config = example_config(examples.WEBHOOK)

    id: UUID
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    model_config = example_config(examples.WEBHOOK_CREATED)

    secret: str = Field(
        description="The signing secret (Standard Webhooks `whsec_…`). Shown only now."
    )


class WebhookListOut(Schema):
    model_config = example_config(examples.WEBHOOK_LIST)

    items: list[WebhookOut]


class DeliveryOut(ModelOut):
    model_config = example_config(examples.DELIVERY)

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

    @staticmethod
    def resolve_event_type(delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @staticmethod
    def resolve_next_attempt_at(delivery: WebhookDelivery) -> datetime | None:
        """Only a delivery still to be tried has a next attempt."""
        pending = delivery.status == WebhookDelivery.Status.PENDING
        return delivery.next_attempt_at if pending else None


class DeliveryPageOut(Schema):
    model_config = example_config(examples.DELIVERY_PAGE)

    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


_UUID = {"type": "string", "format": "uuid"}
# What each key an event's payload may carry (`events.outbox.EVENT_PAYLOAD_KEYS`) holds: the
# OpenAPI document's webhooks are built from it (`config.openapi`). Not every key is in
# every event of a type that may carry it.
PAYLOAD_KEY_SCHEMAS: dict[str, dict[str, Any]] = {
    "referral_id": {**_UUID, "examples": ["9549f7b6-2fa0-4166-982c-86008421b03d"]},
    "code": {
        "type": "string",
        "description": "The referral's code, printed on the slip.",
        "examples": ["GM9-KXC"],
    },
    "referral_code": {
        "type": "string",
        "description": "The referral's code, printed on the slip.",
        "examples": ["GM9-KXC"],
    },
    "matches": {
        "type": "integer",
        "description": "How many activities were proposed.",
        "examples": [3],
    },
    "rematched": {
        "type": "integer",
        "description": "When an offer ended and matching ran again: the new offers made.",
        "examples": [1],
    },
    "slip_bytes": {"type": "integer", "description": "The PDF's size.", "examples": [48213]},
    "slip_version": {
        "type": "integer",
        "description": "1 for the first slip, then one more each time it is printed again.",
        "examples": [1],
    },
    "outcomes": {
        "type": "array",
        "items": {"type": "string", "enum": ["completed", "failed"]},
        "description": "How the referral's placements ended.",
        "examples": [["completed"]],
    },
    "retention_days": {
        "type": "integer",
        "description": "The retention period after which the personal data was erased.",
        "examples": [365],
    },
    "timepoint": {"type": "string", "enum": ["baseline", "follow_up"], "examples": ["baseline"]},
    "placement_id": {
        "type": ["string", "null"],
        "format": "uuid",
        "examples": ["f0bbc074-80a2-4877-ba89-200a94e2cf3b"],
    },
    "organization_id": {**_UUID, "examples": ["7a27f858-e8ef-5754-b98e-8dc1877e8d2d"]},
    "service_id": {**_UUID, "examples": ["3edd078f-4d43-53ca-bf48-e77fa76ae363"]},
    "service_at_location_id": {**_UUID, "examples": ["1929906b-4adb-5d04-8819-3c4dd9e3b687"]},
    "status": {
        "type": "string",
        "description": "The placement's status, the service's, or the place's capacity.",
        "examples": ["requested"],
    },
    "status_reason": {
        "type": ["string", "null"],
        "description": "Why a placement was rejected, cancelled or expired.",
        "examples": [None],
    },
    "expires_at": {
        "type": "string",
        "format": "date-time",
        "description": "When the unanswered placement expires.",
        "examples": ["2026-12-21T02:04:29+00:00"],
    },
    "action": {
        "type": "string",
        "description": "`created`, `updated`, `confirmed` or `deleted`.",
        "examples": ["updated"],
    },
    "changes": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The fields that changed.",
        "examples": [["schedules"]],
    },
    "reason": {
        "type": "string",
        "description": "A code: why a service closed, or why a message failed.",
        "examples": ["deleted-with-live-referrals"],
    },
    "available": {"type": ["integer", "null"], "examples": [4]},
    "maximum": {"type": ["integer", "null"], "examples": [12]},
    "source": {
        "type": "string",
        "description": "`import` when an HSDS import changed it.",
        "examples": ["import"],
    },
    "change": {"type": "string", "examples": ["term.updated"]},
    "fields": {"type": "array", "items": {"type": "string"}, "examples": [["name_en"]]},
    # What the person said on their own page, and the messages sent to them.
    "chosen_session": {
        "type": ["string", "null"],
        "format": "date-time",
        "description": "The session the person said they will come to; null: taken back.",
        "examples": ["2026-12-09T14:00:00+01:00"],
    },
    "patient_report": {
        "type": "string",
        "enum": ["went", "not-for-me"],
        "description": "What the person said (patient-reported, apart from `status`).",
        "examples": ["went"],
    },
    "cancelled": {
        "type": "integer",
        "description": "Offers withdrawn because the person asked for something else.",
        "examples": [2],
    },
    "message_id": {**_UUID, "examples": ["0b9d7c1e-4f43-4d8e-9a8a-1f2e3d4c5b6a"]},
    "kind": {
        "type": "string",
        "enum": ["page_link", "reminder", "did_you_go"],
        "description": "Which message: the page's link, a reminder, or 'did you go?'.",
        "examples": ["reminder"],
    },
    "channel": {"type": "string", "enum": ["email", "sms"], "examples": ["email"]},
    "by": {
        "type": "string",
        "enum": ["person", "health_center"],
        "description": "Who stopped the messages.",
        "examples": ["person"],
    },
}
