"""What the OpenAPI document says beyond what ninja reads off the endpoints.

- The answers every operation may give: 429 past a key's rate limit (every operation
  called with a key: `accounts.keys` counts each request), 503 while the database is
  unavailable (`config.api`), each with `Retry-After`; 401 without a valid key of the
  operation's role; and for a JSON body, 400 when ninja cannot parse it, 413 past the
  request size limit and 422 when it does not fit its schema.
- Each refusal's description says when it happens. An operation documents its own
  refusals with the example its view really raises (`core.schemas.refusal`); a 422 it
  does not document is its parameters' (e.g. an id that is not a UUID), with the message
  pydantic gives.
- A description for each path parameter (the ids) and for `limit` and `offset`.
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
from collections.abc import Mapping
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from standardwebhooks.webhooks import Webhook

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


def too_many_requests(example: dict[str, Any]) -> dict[str, Any]:
    """The 429 of every operation called with a key, with `example` (the configured
    limit's)."""
    return {
        "description": "Too many requests with this key: past `TISSER_RATE_LIMIT_PER_MINUTE` "
        "requests in the current minute (`rate_limited`) or, for the long operations that "
        "say so, too many of them still running (`busy`). Try again after `Retry-After` "
        "seconds.",
        "headers": {"Retry-After": RETRY_AFTER},
        "content": {"application/json": {"schema": ERROR_REF, "example": example}},
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

# Whose key each security scheme takes (`accounts.auth`), for the 401's description.
_ROLES = {
    "HealthCenterKey": "a health centre's key",
    "OrganizationKey": "a community organisation's key",
    "PartyKey": "a health centre's or a community organisation's key",
    "AnyKey": "any Tisser key",
    "OperatorKey": "an operator's key",
}

# When the refusals any operation may give happen, by status.
_WHEN = {
    400: "The body is not JSON that can be parsed.",
    413: "The body is larger than the request size limit (`TISSER_MAX_BODY_BYTES`): nothing "
    "was read.",
}

# What each path parameter is.
PATH_PARAMETERS = {
    "referral_id": "The referral's `id`, as `POST /referrals` answered it.",
    "placement_id": "The placement's `id` (`placements[].id` of the referral, or `id` in "
    "the inbox).",
    "service_id": "The service's `id`.",
    "sal_id": "The service_at_location's `id` (`service_at_locations[].id` of the service).",
    "schedule_id": "The schedule's `id`.",
    "location_id": "The location's `id`.",
    "subscription_id": "The webhook's `id`.",
    "delivery_id": "The delivery's `id` (`GET /webhooks/deliveries`).",
    "crosswalk_id": "The crosswalk's `id` (`GET /catalog/crosswalks`).",
    "code": "The term's code, e.g. `walking-group`.",
    "table": "One of the report's `tables`, e.g. `needs`.",
    "name": "The directory source's `name` (`GET /harvest/sources`).",
}
_PAGING = {
    "limit": "How many items per page.",
    "offset": "Skip this many items: the next page's is this one's plus `limit`.",
}


def openapi_complete(
    document: dict[str, Any], error_examples: Mapping[int, dict[str, Any]]
) -> dict[str, Any]:
    """Add to ninja's document what it cannot know (see the module's docstring), with the
    bodies of the refusals any operation may give (`error_examples`, by status: 400 of
    ninja's parser, 401, 413, 429)."""
    schemas = document.get("components", {}).get("schemas", {})
    for item in document["paths"].values():
        for operation in item.values():
            _parameters_describe(operation)
            responses = operation["responses"]
            _refusals_complete(document, operation, error_examples)
            for status, response in responses.items():
                if 200 <= int(status) < 300 and _is_page(response, schemas):
                    response.setdefault("headers", {}).update(PAGE_HEADERS)
            if operation.get("security"):
                _merge(responses.setdefault(429, {}), too_many_requests(error_examples[429]))
            _merge(responses.setdefault(503, {}), UNAVAILABLE)
    document["webhooks"] = webhooks_section()
    return document


def _refusals_complete(
    document: dict[str, Any], operation: dict[str, Any], shared: Mapping[int, dict[str, Any]]
) -> None:
    """The refusals every operation of its kind may give, and for each its description
    and example unless the operation gave its own."""
    responses = operation["responses"]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    shape = _shape_refusal(document, operation)
    if body is not None:
        # Any body is read whole first, and refused past the request size limit.
        responses.setdefault(413, {})
        # A body ninja parses (its schema a component) is refused by ninja when it is not
        # JSON; one the view reads itself documents its own 400 (`core.schemas`).
        if "$ref" in body.get("schema", {}):
            responses.setdefault(400, {})
    if shape is not None:
        responses.setdefault(422, {})
    if operation.get("security"):
        responses.setdefault(401, {})
    for status in list(responses):
        code = int(status)
        if not 400 <= code < 500 or code == 429:
            continue
        response = responses[status]
        media = response.setdefault("content", {}).setdefault("application/json", {})
        media.setdefault("schema", ERROR_REF)
        if code == 401:
            schemes = operation.get("security", [])
            roles = [_ROLES.get(name, name) for scheme in schemes for name in scheme]
            response["description"] = (
                "No `Authorization: Bearer` key, or one that is unknown or revoked, or not "
                f"{' or '.join(roles)}: the operation is not there for other keys."
            )
            media.setdefault("example", shared[401])
        elif code in _WHEN and "example" not in media:
            response["description"] = _WHEN[code]
            media["example"] = shared[code]
        elif code == 422 and "example" not in media and shape is not None:
            response["description"], media["example"] = shape
        response.setdefault("description", HTTPStatus(code).phrase)


def _parameters_describe(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("description"):
            continue
        name = parameter["name"]
        if parameter["in"] == "path" and name in PATH_PARAMETERS:
            parameter["description"] = PATH_PARAMETERS[name]
        elif parameter["in"] == "query" and name in _PAGING:
            parameter["description"] = _PAGING[name]


def _shape_refusal(
    document: dict[str, Any], operation: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """The 422 an operation gives when a parameter does not fit its schema: its first
    parameter that can be wrong, with the message pydantic gives then (or, with no such
    parameter, a body missing its first required field). A list's own filters come before
    the paging parameters every list shares."""
    parameters = operation.get("parameters", [])
    paging = ("limit", "offset")
    ordered = [p for p in parameters if p["name"] not in paging] + [
        p for p in parameters if p["name"] in paging
    ]
    for parameter in ordered:
        if parameter["in"] not in ("path", "query"):
            continue
        message = _wrong_value_message(document, parameter.get("schema", {}))
        if message is not None:
            field = parameter["name"]
            break
    else:
        media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        required = _resolve(document, media.get("schema", {})).get("required", [])
        if not required:
            return None
        field, message = required[0], "Field required"
    what = "A parameter or the body" if "requestBody" in operation else "A parameter"
    example = {
        "error": {
            "code": "validation_error",
            "message": f"The request is not valid: {field}: {message}",
            "fields": [{"field": field, "message": message}],
        }
    }
    return f"{what} does not fit its schema (here `{field}`): `fields` names each.", example


def _wrong_value_message(document: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """What pydantic says of a value that does not fit `schema`, if one is easily made."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            return _wrong_value_message(document, branch)
    schema = _resolve(document, schema)
    checks: list[tuple[Any, Any]] = []
    if schema.get("format") == "uuid":
        checks.append((uuid.UUID, "42"))
    elif "enum" in schema:
        checks.append((Literal.__getitem__(tuple(schema["enum"])), "unknown"))
    elif schema.get("type") in ("integer", "number") and "maximum" in schema:
        kind = int if schema["type"] == "integer" else float
        checks.append((Annotated[kind, Field(le=schema["maximum"])], schema["maximum"] + 1))
    elif schema.get("format") == "date":
        checks.append((date, "2026-13-01"))
    elif schema.get("type") == "boolean":
        checks.append((bool, "perhaps"))
    for kind, value in checks:
        try:
            TypeAdapter(kind).validate_python(value)
        except PydanticValidationError as exc:
            return str(exc.errors()[0]["msg"])
    return None


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document.get("components", {}).get("schemas", {}).get(name, {})
    return schema


def _merge(response: dict[str, Any], standard: dict[str, Any]) -> None:
    """The standard answer, keeping what the operation said of its own (a 429 `busy`)."""
    status_phrases = {phrase.phrase for phrase in HTTPStatus}
    if not response.get("description") or response["description"] in status_phrases:
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
