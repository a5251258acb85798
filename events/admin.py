from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.audit import audit_ids
from events.models import Event, WebhookDelivery, WebhookSubscription
from events.outbox import event_referral_id
from events.webhooks import deliveries_redeliver


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "health_center", "organization", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The `failed` filter is the dead-letter list; "Redeliver" sends them again."""

    list_display = [
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Redeliver (a new series of attempts, starting now)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = deliveries_redeliver(queryset)
        self.message_user(request, f"{count} delivery(ies) sent again.", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "type",
        "aggregate_id",
        "created_at",
        "published_at",
        "publish_count",
        "processed_at",
        "failed_at",
    ]
    list_filter = ["type", ("failed_at", admin.EmptyFieldListFilter)]
    search_fields = ["aggregate_id"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            audit_ids(request, (event_referral_id(e) for e in changelist.result_list))
        return response

    @admin.action(description="Publish again (clears the failure)")
    def republish(self, request: object, queryset: object) -> None:
        queryset.update(failed_at=None, published_at=None, publish_count=0)  # type: ignore[attr-defined]

    actions = ["republish"]
