from __future__ import annotations

from django.contrib import admin

from accounts.models import ApiKey, HealthCenter, PasswordChangeRequired


@admin.register(PasswordChangeRequired)
class PasswordChangeRequiredAdmin(admin.ModelAdmin):
    """Who still has a password somebody else chose. An operator who sets a person's
    password here in the administration adds them, so that they choose their own."""

    list_display = ["user", "since"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]


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
