from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from harvest.models import HarvestRun, HarvestSource
from harvest.sources import source_problems


class HarvestSourceForm(forms.ModelForm):
    """The rules of the CLI and the API: a URL over http(s) (a path on the server is
    for `tisser harvest add`, at the server's terminal)."""

    class Meta:
        model = HarvestSource
        fields = ["name", "label", "url", "kind", "every_hours", "enabled", "token_env"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        keep_path = bool(self.instance.pk) and data.get("url") == self.instance.url
        for problem in source_problems(
            name=data.get("name", self.instance.name or ""),
            url=data.get("url", ""),
            kind=data.get("kind", self.instance.kind or ""),
            every_hours=data.get("every_hours") or 0,
            token_env=data.get("token_env", ""),
            paths_allowed=keep_path,
            label=data.get("label", ""),
        ):
            if problem.field in self.fields and problem.field not in self.errors:
                self.add_error(problem.field, problem.message)
        return data


@admin.register(HarvestSource)
class HarvestSourceAdmin(admin.ModelAdmin):
    form = HarvestSourceForm
    list_display = ["name", "kind", "url", "every_hours", "enabled", "next_run_at", "failures"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "url"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A source's ids derive from its name (harvest.records.source_namespace).
        # Nor its kind: another kind reads another directory's ids.
        return ["name", "kind", "next_run_at", "failures"] if obj else ["next_run_at", "failures"]

    def save_model(self, request: HttpRequest, obj: HarvestSource, form: Any, change: bool) -> None:
        """As `tisser harvest add` does: a source with an interval is due at once, and
        one made "by hand only" is due no more."""
        if not obj.every_hours:
            obj.next_run_at = None
        elif obj.next_run_at is None or "every_hours" in form.changed_data:
            obj.next_run_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(HarvestRun)
class HarvestRunAdmin(admin.ModelAdmin):
    list_display = [
        "source",
        "started_at",
        "status",
        "created",
        "updated",
        "unchanged",
        "deactivated",
        "invalid",
        "kept_local",
    ]
    list_filter = ["status", "source"]
    readonly_fields = [f.name for f in HarvestRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
