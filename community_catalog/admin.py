from __future__ import annotations

from django.contrib import admin

from community_catalog.models import (
    Location,
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)


@admin.register(TaxonomyTerm)
class TaxonomyTermAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "name", "name_en", "parent"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "updated_at"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "is_free", "assured_date"]
    list_filter = ["status", "is_free", "taxonomy_terms"]
    search_fields = ["name", "organization__name"]
    filter_horizontal = ["taxonomy_terms"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "city", "postal_code", "is_confidential"]
    list_filter = ["is_confidential", "city"]
    search_fields = ["name", "address_1"]


class ScheduleInline(admin.TabularInline):
    model = Schedule
    extra = 0


@admin.register(ServiceAtLocation)
class ServiceAtLocationAdmin(admin.ModelAdmin):
    list_display = ["service", "location"]
    search_fields = ["service__name", "location__name"]
    inlines = [ScheduleInline]
