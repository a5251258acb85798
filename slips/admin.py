from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.audit import audited_changelist
from slips.models import Slip


@admin.register(Slip)
class SlipAdmin(admin.ModelAdmin):
    list_display = ["referral", "language", "size_bytes", "render_ms", "created_at"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return audited_changelist(super().changelist_view(request, extra_context), request)
