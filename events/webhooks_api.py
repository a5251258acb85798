"""`/webhooks`: health centres and organisations subscribe URLs to the events they may see,
and follow their deliveries (the dead letters included). How deliveries are made is
`events.webhooks`."""

from __future__ import annotations

import uuid
from typing import Annotated

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router, Status
from pydantic import Field, WithJsonSchema

from accounts.auth import PartyKey, request_party
from core.errors import FieldProblem, InvalidInput
from core.schemas import ErrorOut, PageQuery, openapi_refusals, paged, refusal
from events import examples, webhooks
from events.models import WebhookDelivery
from events.schemas import (
    DeliveryOut,
    DeliveryPageOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookListOut,
    WebhookOut,
    WebhookPatch,
)

webhooks_router = Router(auth=PartyKey(), tags=["webhooks"])


_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
_LIMIT = settings.TISSER_WEBHOOK_MAX_SUBSCRIPTIONS


@webhooks_router.post(
    "",
    response={201: WebhookCreatedOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Subscribe a URL to events",
    description=(
        "Deliveries are signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
        "`webhook-signature` headers) with the `secret` returned here, and only here. "
        "A party has at most `TISSER_WEBHOOK_MAX_SUBSCRIPTIONS` (default 10) webhooks: "
        "past it, 409 `webhook_limit_reached` with the `limit`. "
        "Event types: " + ", ".join(f"`{t}`" for t in webhooks.WEBHOOK_EVENT_TYPES) + "."
    ),
    openapi_extra=openapi_refusals(
        {
            409: refusal(
                "You already have `TISSER_WEBHOOK_MAX_SUBSCRIPTIONS` webhooks (`limit`): "
                "delete one, or subscribe one URL to more event types.",
                "webhook_limit_reached",
                f"You have {_LIMIT} webhooks, the most allowed: delete one you no longer "
                "need, or subscribe one URL to more event types.",
                limit=_LIMIT,
            ),
            422: examples.WEBHOOK_INVALID,
        }
    ),
)
def webhook_create(request: HttpRequest, payload: WebhookIn) -> Status[WebhookCreatedOut]:
    subscription = webhooks.webhook_create(
        request_party(request),
        url=payload.url,
        event_types=payload.event_types,
        description=payload.description,
    )
    return Status(201, WebhookCreatedOut.model_validate(subscription))


@webhooks_router.get("", response={200: WebhookListOut, 401: ErrorOut}, summary="Your webhooks")
def webhook_list(request: HttpRequest) -> WebhookListOut:
    return WebhookListOut(
        items=[WebhookOut.model_validate(s) for s in webhooks.webhook_list(request_party(request))]
    )


# Inline, not a component named "Status" (see community_catalog.organization_api.ServiceStatus).
DeliveryStatus = Annotated[
    WebhookDelivery.Status,
    WithJsonSchema({"type": "string", "enum": list(WebhookDelivery.Status.values)}),
]


class DeliveryFilter(PageQuery):
    status: DeliveryStatus | None = Field(
        default=None, description="`failed` lists the dead letters."
    )
    subscription_id: uuid.UUID | None = Field(
        default=None, description="Only the deliveries of this webhook."
    )


@webhooks_router.get(
    "/deliveries",
    response={200: DeliveryPageOut, 401: ErrorOut, 422: ErrorOut},
    summary="Deliveries of your webhooks, newest first; `status=failed` is the dead letters",
)
def delivery_list(request: HttpRequest, filters: Query[DeliveryFilter]) -> DeliveryPageOut:
    deliveries = webhooks.deliveries_list(request_party(request)).order_by("-created_at", "id")
    if filters.status:
        deliveries = deliveries.filter(status=filters.status)
    if filters.subscription_id:
        deliveries = deliveries.filter(subscription_id=filters.subscription_id)
    return DeliveryPageOut(
        **paged(
            deliveries, limit=filters.limit, offset=filters.offset, item=DeliveryOut.model_validate
        )
    )


@webhooks_router.post(
    "/deliveries/{delivery_id}/redeliver",
    response={202: DeliveryOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Send a delivery again (a dead letter, or one already delivered)",
    openapi_extra=openapi_refusals({404: examples.DELIVERY_NOT_FOUND}),
)
def delivery_redeliver(request: HttpRequest, delivery_id: uuid.UUID) -> Status[DeliveryOut]:
    delivery = webhooks.delivery_redeliver(delivery_id, owner=request_party(request))
    return Status(202, DeliveryOut.model_validate(delivery))


@webhooks_router.get(
    "/{subscription_id}",
    response={200: WebhookOut, **_ERRORS},
    summary="One webhook",
    openapi_extra=openapi_refusals({404: examples.WEBHOOK_NOT_FOUND}),
)
def webhook_read(request: HttpRequest, subscription_id: uuid.UUID) -> WebhookOut:
    return WebhookOut.model_validate(webhooks.webhook_get(request_party(request), subscription_id))


@webhooks_router.patch(
    "/{subscription_id}",
    response={200: WebhookOut, **_ERRORS},
    summary="Change a webhook (url, event types, description, active)",
    openapi_extra=openapi_refusals(
        {404: examples.WEBHOOK_NOT_FOUND, 422: examples.WEBHOOK_UPDATE_INVALID}
    ),
)
def webhook_update(
    request: HttpRequest, subscription_id: uuid.UUID, payload: WebhookPatch
) -> WebhookOut:
    changes = payload.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "active"):
        if name in changes and changes[name] is None:
            raise InvalidInput(
                f"{name} cannot be null.", fields=[FieldProblem(name, "cannot be null")]
            )
    if changes.get("description") is None:
        changes.pop("description", None)
    subscription = webhooks.webhook_update(request_party(request), subscription_id, changes)
    return WebhookOut.model_validate(subscription)


@webhooks_router.post(
    "/{subscription_id}/rotate-secret",
    response={200: WebhookCreatedOut, **_ERRORS},
    summary="Replace the signing secret; the new one is shown only now",
    openapi_extra=openapi_refusals({404: examples.WEBHOOK_NOT_FOUND}),
)
def webhook_rotate(request: HttpRequest, subscription_id: uuid.UUID) -> WebhookCreatedOut:
    return WebhookCreatedOut.model_validate(
        webhooks.webhook_secret_rotate(request_party(request), subscription_id)
    )


@webhooks_router.delete(
    "/{subscription_id}",
    response={204: None, **_ERRORS},
    summary="Delete a webhook and its delivery history",
    openapi_extra=openapi_refusals({404: examples.WEBHOOK_NOT_FOUND}),
)
def webhook_delete(request: HttpRequest, subscription_id: uuid.UUID) -> Status[None]:
    webhooks.webhook_get(request_party(request), subscription_id).delete()
    return Status(204, None)
