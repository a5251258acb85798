from __future__ import annotations

from django.contrib import admin

from referrals.models import ApiKey, Event, HealthCenter, IdempotencyKey, Match, Referral, Slip


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


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["code", "health_center", "stage", "preferred_language", "created_at"]
    list_filter = ["stage", "health_center"]
    search_fields = ["code", "patient_ref"]
    inlines = [MatchInline]
    readonly_fields = ["id", "code", "created_at", "updated_at", "stage"]


@admin.register(Slip)
class SlipAdmin(admin.ModelAdmin):
    list_display = ["referral", "language", "size_bytes", "render_ms", "created_at"]


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

    @admin.action(description="Publish again (clears the failure)")
    def republish(self, request: object, queryset: object) -> None:
        queryset.update(failed_at=None, published_at=None, publish_count=0)  # type: ignore[attr-defined]

    actions = ["republish"]
