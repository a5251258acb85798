"""Django admin for operators: every catalogue object can be listed and edited."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from community_catalog import crosswalks, taxonomy_services
from community_catalog.changes import services_changed
from community_catalog.models import (
    Accessibility,
    Address,
    Contact,
    CostOption,
    Crosswalk,
    ForeignTerm,
    Language,
    Location,
    Organization,
    Phone,
    PostalCode,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.services import service_derived_refresh
from community_catalog.taxonomy import taxonomy_change_lock
from core.errors import Problem

# URLs typed without a scheme are read as https (Django 6's default, chosen now).
_URLS: dict[Any, dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


class TaxonomyTermForm(forms.ModelForm):
    class Meta:
        model = TaxonomyTerm
        fields = [
            "code",
            "kind",
            "name",
            "name_en",
            "description",
            "parent",
            "active",
            "activities",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        term = TaxonomyTerm(
            pk=self.instance.pk,
            code=data.get("code") or self.instance.code,
            kind=data.get("kind") or self.instance.kind,
        )
        try:
            taxonomy_services.term_check(
                term, parent=data.get("parent"), activities=list(data.get("activities") or [])
            )
        except Problem as problem:
            raise forms.ValidationError(
                "; ".join(f.message for f in problem.fields) or problem.message
            ) from None
        return data


@admin.register(TaxonomyTerm)
class TaxonomyTermAdmin(admin.ModelAdmin):
    """Terms are written as the API writes them: every change records its event, moves
    the taxonomy's version and reaches matching; a code is never renamed, and a term in
    use is deactivated, not deleted."""

    form = TaxonomyTermForm
    formfield_overrides = _URLS
    list_display = ["code", "kind", "name", "name_en", "parent", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name", "name_en"]
    filter_horizontal = ["activities"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("code", "kind") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        taxonomy_change_lock()  # first, as every taxonomy change does
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and taxonomy_services.term_uses(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        taxonomy_services.term_saved(
            form.instance, created=not change, fields=sorted(form.changed_data)
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        taxonomy_services.term_delete(code=obj.code)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for term in queryset:
            taxonomy_services.term_delete(code=term.code)


class CrosswalkForm(forms.ModelForm):
    class Meta:
        model = Crosswalk
        fields = ["taxonomy", "code", "label", "terms"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is not None:
            return data  # the term it maps cannot change (read only)
        try:
            key = crosswalks.crosswalk_key(data.get("taxonomy") or "", data.get("code") or "")
        except Problem as problem:
            raise forms.ValidationError(
                "; ".join(f.message for f in problem.fields) or problem.message
            ) from None
        if Crosswalk.objects.filter(taxonomy=key[0], code=key[1]).exists():
            raise forms.ValidationError("This term has a crosswalk already: change that one.")
        data["taxonomy"], data["code"] = key
        return data


@admin.register(Crosswalk)
class CrosswalkAdmin(admin.ModelAdmin):
    """Mappings written here apply at once to the services carrying the term, as from
    the API or `tisser crosswalk`. The term a row maps never changes: add another."""

    form = CrosswalkForm
    list_display = ["code", "label", "taxonomy", "updated_at"]
    list_filter = ["taxonomy"]
    search_fields = ["code", "label", "taxonomy"]
    filter_horizontal = ["terms"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("taxonomy", "code") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        taxonomy_change_lock()  # first, as every taxonomy change does
        if not change:
            obj.taxonomy, obj.code = form.cleaned_data["taxonomy"], form.cleaned_data["code"]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        crosswalks.crosswalk_saved(form.instance)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        crosswalks.crosswalk_remove(taxonomy=obj.taxonomy, code=obj.code)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for crosswalk in queryset:
            crosswalks.crosswalk_remove(taxonomy=crosswalk.taxonomy, code=crosswalk.code)


@admin.register(ForeignTerm)
class ForeignTermAdmin(admin.ModelAdmin):
    """Terms of other taxonomies, as the imports kept them: read only (map them with a
    crosswalk)."""

    list_display = ["code", "label", "taxonomy", "created_at"]
    list_filter = ["taxonomy"]
    search_fields = ["code", "label", "taxonomy"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContactInline(admin.StackedInline):
    formfield_overrides = _URLS
    model = Contact
    extra = 0
    fields = ["name", "title", "department", "email"]


class PhoneInline(admin.TabularInline):
    formfield_overrides = _URLS
    model = Phone
    extra = 0
    fields = ["number", "extension", "type", "description"]


class LanguageInline(admin.TabularInline):
    formfield_overrides = _URLS
    model = Language
    extra = 0
    fields = ["code", "name", "note"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["name", "email", "website", "updated_at"]
    search_fields = ["name", "alternate_name"]
    inlines = [ContactInline, PhoneInline]


class CostOptionInline(admin.TabularInline):
    formfield_overrides = _URLS
    model = CostOption
    extra = 0
    exclude = ["hsds_id"]


class ServiceScheduleInline(admin.StackedInline):
    formfield_overrides = _URLS
    model = Schedule
    fk_name = "service"
    extra = 0
    exclude = ["hsds_id", "location", "service_at_location"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["name", "organization", "status", "cost", "assured_date", "last_modified"]
    list_filter = ["status", "cost", "taxonomy_terms"]
    search_fields = ["name", "organization__name"]
    filter_horizontal = ["taxonomy_terms"]
    readonly_fields = ["cost", "foreign_terms"]
    date_hierarchy = "assured_date"
    inlines = [CostOptionInline, LanguageInline, ContactInline, PhoneInline, ServiceScheduleInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Its cost options are saved by now: the cost state follows them, and matching's
        # index the service.
        service_derived_refresh(form.instance)


class AddressInline(admin.StackedInline):
    formfield_overrides = _URLS
    model = Address
    extra = 0
    exclude = ["hsds_id"]


class AccessibilityInline(admin.TabularInline):
    formfield_overrides = _URLS
    model = Accessibility
    extra = 0
    exclude = ["hsds_id"]


class IndexFollows(admin.ModelAdmin):
    """An admin write of a place, a service at a place or a schedule bypasses the
    services that announce changes: the services it touches, before and after (a place
    given to another service), are told (`services_changed`), in the admin's
    transaction, so matching's index (and the search that reads it) never shows a
    confidential place at its exact position or a schedule that is gone."""

    def services_touched(self, pk: Any) -> set[uuid.UUID]:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj._services_before = self.services_touched(obj.pk) if change else set()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        services_changed(getattr(obj, "_services_before", set()) | self.services_touched(obj.pk))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        touched = self.services_touched(obj.pk)
        super().delete_model(request, obj)
        services_changed(touched)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        touched: set[uuid.UUID] = set()
        for pk in queryset.values_list("pk", flat=True):
            touched |= self.services_touched(pk)
        super().delete_queryset(request, queryset)
        services_changed(touched)


@admin.register(Location)
class LocationAdmin(IndexFollows):
    formfield_overrides = _URLS
    list_display = ["name", "organization", "location_type", "latitude", "longitude"]
    list_filter = ["is_confidential", "location_type"]
    search_fields = ["name", "addresses__address_1", "addresses__city", "addresses__postal_code"]
    inlines = [AddressInline, AccessibilityInline, LanguageInline, PhoneInline]

    def services_touched(self, pk: Any) -> set[uuid.UUID]:
        return set(
            ServiceAtLocation.objects.filter(location_id=pk).values_list("service_id", flat=True)
        )


class ScheduleInline(admin.StackedInline):
    formfield_overrides = _URLS
    model = Schedule
    fk_name = "service_at_location"
    extra = 0
    exclude = ["hsds_id", "service", "location"]


@admin.register(ServiceAtLocation)
class ServiceAtLocationAdmin(IndexFollows):
    formfield_overrides = _URLS
    list_display = ["service", "location", "capacity_status", "capacity_available"]
    list_filter = ["capacity_status"]
    search_fields = ["service__name", "location__name"]
    raw_id_fields = ["service", "location"]
    inlines = [ScheduleInline, ContactInline, PhoneInline]

    def services_touched(self, pk: Any) -> set[uuid.UUID]:
        return set(ServiceAtLocation.objects.filter(pk=pk).values_list("service_id", flat=True))


@admin.register(Schedule)
class ScheduleAdmin(IndexFollows):
    formfield_overrides = _URLS
    list_display = ["__str__", "service_at_location", "service", "valid_from", "valid_to"]
    list_filter = ["freq"]
    raw_id_fields = ["service", "location", "service_at_location"]

    def services_touched(self, pk: Any) -> set[uuid.UUID]:
        found: set[uuid.UUID] = set()
        for own, at_place in Schedule.objects.filter(pk=pk).values_list(
            "service_id", "service_at_location__service_id"
        ):
            found |= {i for i in (own, at_place) if i is not None}
        return found


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["name", "email", "organization", "service"]
    search_fields = ["name", "email"]
    raw_id_fields = ["organization", "service", "service_at_location", "location"]
    inlines = [PhoneInline]


@admin.register(PostalCode)
class PostalCodeAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["postal_code", "place_name", "country_code", "latitude", "longitude"]
    list_filter = ["country_code"]
    search_fields = ["postal_code", "place_name"]
