"""What the OpenAPI document says beyond what ninja reads off the endpoints.

- The answers every operation may give: 429 past a key's rate limit (every operation
  called with a key: `accounts.keys` counts each request), 503 while the database is
  unavailable (`config.api`), each with `Retry-After`.
- The paging headers of every list answering `items`, `total`, `limit` and `offset`
  (`config.api` sends them).
- `webhooks` (OpenAPI 3.1): what Tisser POSTs to a subscribed URL for each event type
  one may subscribe to, built from the event types, their payload keys and the body
  `events.webhooks` sends, so a new event type is documented as soon as it exists.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from core.ratelimit import RateLimited
from core.schemas import PAGE_FIELDS
from events import outbox
from events import webhooks as event_webhooks
from events.models import Event
from events.schemas import PAYLOAD_KEY_SCHEMAS

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
    "example": 23,
}

PAGE_HEADERS = {
    "X-Total-Count": {
        "description": "How many items the whole list holds (the body's `total`).",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "example": 120,
    },
    "Link": {
        "description": 'The neighbouring pages (RFC 8288): `rel="next"` while items follow, '
        '`rel="prev"` past the first page; absent when the list fits in one page.',
        "required": False,
        "schema": {"type": "string"},
        "example": '</api/v1/referrals?limit=50&offset=100>; rel="next", '
        '</api/v1/referrals?limit=50&offset=0>; rel="prev"',
    },
}


def _error_example(problem: RateLimited) -> dict[str, Any]:
    return {
        "error": {"code": problem.code, "message": problem.message, "fields": [], **problem.extra}
    }


TOO_MANY_REQUESTS = {
    "description": "Too many requests with this key: past `TISSER_RATE_LIMIT_PER_MINUTE` "
    "requests in the current minute (`rate_limited`) or, for the long operations that say "
    "so, too many of them still running (`busy`). Try again after `Retry-After` seconds.",
    "headers": {"Retry-After": RETRY_AFTER},
    "content": {
        "application/json": {
            "schema": ERROR_REF,
            "example": _error_example(RateLimited(limit=120, retry_after=23)),
        }
    },
}

UNAVAILABLE = {
    "description": "The database is unavailable (down, overloaded, or it dropped the "
    "connection): the request changed nothing. Try again after `Retry-After` seconds; for a "
    "referral, with the same `Idempotency-Key`. (An unavailable broker refuses no request: "
    "the background work waits for it.)",
    "headers": {"Retry-After": {**RETRY_AFTER, "example": 5}},
    "content": {
        "application/json": {
            "schema": ERROR_REF,
            "example": {
                "error": {
                    "code": "unavailable",
                    "message": "The service is briefly unavailable; try again shortly.",
                    "fields": [],
                }
            },
        }
    },
}


def openapi_complete(
    document: dict[str, Any], error_examples: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """Add to ninja's document what it cannot know (see the module's docstring), and an
    example of each refusal (`error_examples`, by status) the operations document."""
    schemas = document.get("components", {}).get("schemas", {})
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            for status, response in responses.items():
                if 200 <= int(status) < 300 and _is_page(response, schemas):
                    response.setdefault("headers", {}).update(PAGE_HEADERS)
                media = response.get("content", {}).get("application/json")
                if media is not None and int(status) in error_examples:
                    media.setdefault("example", error_examples[int(status)])
            if operation.get("security"):
                _merge(responses.setdefault(429, {}), TOO_MANY_REQUESTS)
            _merge(responses.setdefault(503, {}), UNAVAILABLE)
    document["webhooks"] = webhooks_section()
    return document


def _merge(response: dict[str, Any], standard: dict[str, Any]) -> None:
    """The standard answer, keeping what the operation said of its own (a 429 `busy`)."""
    response["description"] = standard["description"]
    response.setdefault("headers", {}).update(standard["headers"])
    media = response.setdefault("content", {}).setdefault("application/json", {})
    media.setdefault("schema", ERROR_REF)
    media.setdefault("example", standard["content"]["application/json"]["example"])


def _is_page(response: dict[str, Any], schemas: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if not ref.startswith("#/components/schemas/"):
        return False
    found = schemas.get(ref.rsplit("/", 1)[1], {})
    return set(found.get("properties", {})) >= PAGE_FIELDS


# --- Webhooks ------------------------------------------------------------------------

# The examples are signed with this secret (the Standard Webhooks specification's own
# example), so a receiver's verification can be checked against them.
EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (public, for examples)
_EXAMPLE_TIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_EXAMPLE_DELIVERY = uuid.UUID("5d6c2f1e-8a4b-4c1d-9e7f-3a2b1c0d9e8f")
# Whose id an event's aggregate is, by the first word of its type.
_AGGREGATES = {
    "referral": ("referral", "referral_id"),
    "placement": ("placement", "placement_id"),
    "service": ("service", "service_id"),
    "capacity": ("service", "service_id"),
}


# A placement's status and reason in the example of each placement event, when not its name.
_PLACEMENT_STATES = {
    "reminder": ("requested", None),
    "expired": ("cancelled", "expired"),
    "rejected": ("rejected", "no-capacity"),
    "cancelled": ("cancelled", "cancelled-by-center"),
}

# The status in the example of the other events that carry one.
_STATUSES = {
    "service.updated": "active",
    "service.closed": "inactive",
    "capacity.changed": "no-capacity",
}


def _example(key: str) -> Any:
    return PAYLOAD_KEY_SCHEMAS.get(key, {}).get("examples", [None])[0]


def webhook_example(event_type: str) -> Event:
    """An event of this type as it could be delivered (not saved)."""
    family, _, name = event_type.partition(".")
    payload = {key: _example(key) for key in sorted(outbox.EVENT_PAYLOAD_KEYS[event_type])}
    if family == "placement" and "status" in payload:
        payload["status"], payload["status_reason"] = _PLACEMENT_STATES.get(name, (name, None))
    elif "status" in payload:
        payload["status"] = _STATUSES.get(event_type, payload["status"])
    aggregate_type, id_key = _AGGREGATES.get(family, (family, "service_id"))
    return Event(
        id=4217,
        type=event_type,
        created_at=_EXAMPLE_TIME,
        aggregate_type=aggregate_type,
        aggregate_id=uuid.UUID(_example(id_key)),
        payload=payload,
    )


def webhook_body_schema(event_type: str) -> dict[str, Any]:
    """The JSON schema of the body of a delivery of this type (`webhook_body`)."""
    keys = sorted(outbox.EVENT_PAYLOAD_KEYS[event_type])
    return {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "const": event_type},
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the event happened.",
            },
            "data": {
                "type": "object",
                "required": ["event_id", "aggregate_type", "aggregate_id"],
                "properties": {
                    "event_id": {
                        "type": "integer",
                        "description": "The event's id, as in the feed (`GET /events`): a "
                        "delivery sent again carries the same.",
                    },
                    "aggregate_type": {
                        "type": "string",
                        "description": "What the event is about: `referral`, `placement` "
                        "or `service`.",
                    },
                    "aggregate_id": {"type": "string", "format": "uuid"},
                    **{key: PAYLOAD_KEY_SCHEMAS.get(key, {}) for key in keys},
                },
            },
        },
    }


def _header(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "in": "header",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


def webhooks_section() -> dict[str, Any]:
    """One webhook per event type a subscription may ask for (read at each call: a new
    type is documented at once)."""
    section: dict[str, Any] = {}
    for event_type in event_webhooks.WEBHOOK_EVENT_TYPES:
        body = event_webhooks.webhook_body(webhook_example(event_type))
        message_id = f"msg_{_EXAMPLE_DELIVERY.hex}"
        signature = Webhook(EXAMPLE_SECRET).sign(
            message_id, _EXAMPLE_TIME, json.dumps(body, separators=(",", ":"))
        )
        section[event_type] = {
            "post": {
                "operationId": "webhook_" + re.sub(r"[^a-z0-9]+", "_", event_type),
                "summary": f"{event_type}, POSTed to the URLs subscribed to it",
                "description": (
                    "Signed per Standard Webhooks with the subscription's `secret`: verify "
                    "`webhook-signature` over `webhook-id`, `webhook-timestamp` and the raw "
                    "body with any Standard Webhooks library, and refuse an old timestamp. "
                    f"This example is signed with `{EXAMPLE_SECRET}`. A delivery may come "
                    "twice: `webhook-id` is the same each time. Payloads carry ids, codes, "
                    "states and counts, never anything about the person: read the rest "
                    "from the API."
                ),
                "tags": ["webhooks"],
                "parameters": [
                    _header(
                        "webhook-id", "The delivery's id: the same on every retry.", message_id
                    ),
                    _header(
                        "webhook-timestamp",
                        "When this attempt was sent, in seconds since the epoch.",
                        str(int(_EXAMPLE_TIME.timestamp())),
                    ),
                    _header(
                        "webhook-signature",
                        "`v1,` and the base64 HMAC-SHA256, keyed with the secret, of "
                        "`{webhook-id}.{webhook-timestamp}.{body}`.",
                        signature,
                    ),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": webhook_body_schema(event_type),
                            "example": body,
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Received: the delivery is done."},
                    "default": {
                        "description": "Any other answer, or none within the deadline, is "
                        "a failed attempt: tried again with exponential backoff, then listed "
                        "with `status=failed` in `GET /webhooks/deliveries`."
                    },
                },
            }
        }
    return section
