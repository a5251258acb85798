"""Examples of the event feed's and the webhooks API's bodies, shown in the OpenAPI
document (each schema of `events.schemas` names its own), and of the refusals their
operations answer with, as the views raise them. tests/config/test_openapi.py checks each
against its schema."""

from __future__ import annotations

from typing import Any

from core.schemas import refusal

REFERRAL_ID = "9549f7b6-2fa0-4166-982c-86008421b03d"
PLACEMENT_ID = "f0bbc074-80a2-4877-ba89-200a94e2cf3b"
WEBHOOK_ID = "9e2d5ef6-4032-47b6-b5a1-b2b857822528"

EVENTS: list[dict[str, Any]] = [
    {
        "id": 37,
        "type": "referral.submitted",
        "created_at": "2026-11-25T10:00:02Z",
        "aggregate_type": "referral",
        "aggregate_id": REFERRAL_ID,
        "data": {"referral_id": REFERRAL_ID, "code": "GM9-KXC"},
    },
    {
        "id": 39,
        "type": "placement.requested",
        "created_at": "2026-11-25T10:00:04Z",
        "aggregate_type": "placement",
        "aggregate_id": PLACEMENT_ID,
        "data": {
            "placement_id": PLACEMENT_ID,
            "referral_id": REFERRAL_ID,
            "referral_code": "GM9-KXC",
            "organization_id": "7a27f858-e8ef-5754-b98e-8dc1877e8d2d",
            "service_id": "3edd078f-4d43-53ca-bf48-e77fa76ae363",
            "service_at_location_id": "1929906b-4adb-5d04-8819-3c4dd9e3b687",
            "status": "requested",
            "status_reason": None,
        },
    },
]

EVENT_LIST = {"items": EVENTS}
EVENT_PAGE = {"items": EVENTS, "next_cursor": "ZXYxOjM5"}

WEBHOOK_IN = {
    "url": "https://example.org/hooks/tisser",
    "event_types": ["placement.requested", "placement.cancelled"],
    "description": "Our intake system",
}
WEBHOOK_PATCH = {"event_types": ["placement.requested"], "active": True}

WEBHOOK: dict[str, Any] = {
    "id": WEBHOOK_ID,
    "url": "https://example.org/hooks/tisser",
    "event_types": ["placement.requested", "placement.cancelled"],
    "description": "Our intake system",
    "active": True,
    "created_at": "2026-11-20T14:03:11Z",
}
WEBHOOK_CREATED = {**WEBHOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
WEBHOOK_LIST = {"items": [WEBHOOK]}

DELIVERY: dict[str, Any] = {
    "id": "5d6c2f1e-8a4b-4c1d-9e7f-3a2b1c0d9e8f",
    "subscription_id": WEBHOOK_ID,
    "event_id": 39,
    "event_type": "placement.requested",
    "status": "failed",
    "attempts": 12,
    "next_attempt_at": None,
    "last_attempt_at": "2026-11-26T04:10:27Z",
    "last_status_code": 503,
    "last_error": "HTTP 503 Service Unavailable",
    "delivered_at": None,
    "created_at": "2026-11-25T10:00:04Z",
}
DELIVERY_PAGE = {"items": [DELIVERY], "total": 1, "limit": 50, "offset": 0}


# --- Refusals ------------------------------------------------------------------------

CURSOR_INVALID = refusal(
    "`cursor` is not one Tisser gave (use `next_cursor` of a previous page), or `limit` or "
    "`type` is out of range.",
    "validation_error",
    "This cursor is not one Tisser gave.",
    [("cursor", "use next_cursor from a previous page, or omit it")],
)
WEBHOOK_NOT_FOUND = refusal(
    "No webhook with this id among yours (another party's answers the same).",
    "not_found",
    "No webhook subscription with this id.",
)
DELIVERY_NOT_FOUND = refusal(
    "No delivery with this id among your webhooks' deliveries.",
    "not_found",
    "No webhook delivery with this id.",
)
WEBHOOK_INVALID = refusal(
    "An event type is unknown (or not one you may subscribe to), or the URL cannot be "
    "used: not https in production, with credentials, or pointing into Tisser's own "
    "network. `fields` names each.",
    "validation_error",
    "Unknown event types; see the list in the API documentation.",
    [("event_types[0]", "unknown event type 'placement.acepted'")],
)
WEBHOOK_UPDATE_INVALID = refusal(
    "The new URL cannot be used (not https in production, with credentials, or pointing "
    "into Tisser's own network), an event type is unknown, or `url`, `event_types` or "
    "`active` is null.",
    "validation_error",
    "The webhook URL cannot be used.",
    [("url", "must use https")],
)
