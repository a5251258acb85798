from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.audit import audit_ids
from accounts.models import ApiKey, HealthCenter
from events.models import Event, WebhookDelivery, WebhookSubscription
from events.outbox import event_referral_id
from events.webhooks import deliveries_redeliver
from referrals.models import IdempotencyKey, Match, Placement, Referral
from slips.models import Slip


@admin.register(HealthCenter)
class HealthCenterAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "role",
        "health_center",
        "organization",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["role", "revoked_at"]
    # Keys are created with `tisser create-center` or `create-org`, which show them once.
    readonly_fields = [
        "prefix",
        "key_hash",
        "role",
        "health_center",
        "organization",
        "created_at",
        "last_used_at",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "health_center", "referral", "status_code", "created_at"]
    search_fields = ["key"]
    readonly_fields = [
        "key",
        "health_center",
        "request_hash",
        "status_code",
        "response",
        "referral",
        "created_at",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False


class MatchInline(admin.TabularInline):
    model = Match
    extra = 0
    fields = ["rank", "service_at_location", "score", "distance_km", "reasons"]
    readonly_fields = ["rank", "service_at_location", "score", "distance_km", "reasons"]


class PlacementInline(admin.TabularInline):
    model = Placement
    extra = 0
    fields = ("organization", "match", "status", "status_reason", "note", "requested_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def audited_changelist(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """An admin list that shows referrals: the audit log records which (`accounts.audit`)."""
    changelist = (getattr(response, "context_data", None) or {}).get("cl")
    if changelist is not None:
        audit_ids(
            request, (getattr(row, "referral_id", None) or row.pk for row in changelist.result_list)
        )
    return response


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["code", "health_center", "stage", "status", "preferred_language", "created_at"]
    list_filter = ["stage", "status", "health_center"]
    search_fields = ["code", "patient_ref"]
    inlines = [MatchInline, PlacementInline]
    readonly_fields = ["id", "code", "created_at", "updated_at", "stage", "status", "closed_at"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return audited_changelist(super().changelist_view(request, extra_context), request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """A referral is erased (consent withdrawn, retention), never deleted: a deletion
        would take the reports' counts with it and write no event."""
        return False


@admin.register(Placement)
class PlacementAdmin(admin.ModelAdmin):
    """Read only: placements change through their transitions (API), which write events."""

    list_display = ["referral", "organization", "status", "status_reason", "requested_at"]
    list_filter = ["status", "status_reason", "organization"]
    search_fields = ["referral__code"]
    readonly_fields = [f.name for f in Placement._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return audited_changelist(super().changelist_view(request, extra_context), request)


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


@admin.register(Slip)
class SlipAdmin(admin.ModelAdmin):
    list_display = ["referral", "language", "size_bytes", "render_ms", "created_at"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return audited_changelist(super().changelist_view(request, extra_context), request)


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
