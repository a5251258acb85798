from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.audit import audited_changelist
from referrals.models import IdempotencyKey, Match, Placement, Referral


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
