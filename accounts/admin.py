from __future__ import annotations

from django.contrib import admin

from accounts.models import PasswordChangeRequired


@admin.register(PasswordChangeRequired)
class PasswordChangeRequiredAdmin(admin.ModelAdmin):
    """Who still has a password somebody else chose. An operator who sets a person's
    password here in the administration adds them, so that they choose their own."""

    list_display = ["user", "since"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
