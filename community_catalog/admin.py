"""Django admin for operators: every catalogue object can be listed and edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models

from community_catalog.models import (
    Accessibility,
    Address,
    Contact,
    CostOption,
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

# URLs typed without a scheme are read as https (Django 6's default, chosen now).
_URLS: dict[Any, dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


@admin.register(TaxonomyTerm)
class TaxonomyTermAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["code", "kind", "name", "name_en", "parent"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "name_en"]


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
    date_hierarchy = "assured_date"
    inlines = [CostOptionInline, LanguageInline, ContactInline, PhoneInline, ServiceScheduleInline]


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


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["name", "organization", "location_type", "latitude", "longitude"]
    list_filter = ["is_confidential", "location_type"]
    search_fields = ["name", "addresses__address_1", "addresses__city", "addresses__postal_code"]
    inlines = [AddressInline, AccessibilityInline, LanguageInline, PhoneInline]


class ScheduleInline(admin.StackedInline):
    formfield_overrides = _URLS
    model = Schedule
    fk_name = "service_at_location"
    extra = 0
    exclude = ["hsds_id", "service", "location"]


@admin.register(ServiceAtLocation)
class ServiceAtLocationAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["service", "location", "capacity_status", "capacity_available"]
    list_filter = ["capacity_status"]
    search_fields = ["service__name", "location__name"]
    raw_id_fields = ["service", "location"]
    inlines = [ScheduleInline, ContactInline, PhoneInline]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    formfield_overrides = _URLS
    list_display = ["__str__", "service_at_location", "service", "valid_from", "valid_to"]
    list_filter = ["freq"]
    raw_id_fields = ["service", "location", "service_at_location"]


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
