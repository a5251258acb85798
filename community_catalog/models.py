"""The catalogue of community activities, in Open Referral HSDS 3.0 vocabulary.

The unit that gets matched is a `ServiceAtLocation`: one activity (service) offered at one
place (location), with its weekly or monthly sessions (schedules).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models


class TaxonomyTerm(models.Model):
    """A need a person has, or a kind of activity; codes are stable, labels bilingual."""

    class Kind(models.TextChoices):
        NEED = "need", "need"
        ACTIVITY = "activity", "activity kind"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="French label")
    name_en = models.CharField(max_length=200, help_text="English label")
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    def label(self, language: str) -> str:
        return self.name_en if language == "en" else self.name


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """An activity an organisation runs. Texts are in French; `translations` holds the same
    fields in other languages: `{"en": {"name": ..., "description": ...}}`."""

    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        INACTIVE = "inactive", "inactive"
        DEFUNCT = "defunct", "defunct"
        TEMPORARILY_CLOSED = "temporarily closed", "temporarily closed"

    TRANSLATED_FIELDS = ("name", "description", "application_process", "fees_description")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.ACTIVE)
    application_process = models.TextField(
        blank=True, help_text="How to join: printed as the slip's next steps."
    )
    fees_description = models.CharField(max_length=300, blank=True)
    is_free = models.BooleanField(default=True)
    minimum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    maximum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    email = models.EmailField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    translations = models.JSONField(default=dict, blank=True)
    taxonomy_terms = models.ManyToManyField(TaxonomyTerm, related_name="services", blank=True)
    assured_date = models.DateField(null=True, blank=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    def text(self, field: str, language: str) -> str:
        """The field in `language` when translated, else the original (French) text."""
        original: str = getattr(self, field)
        translated: Any = self.translations.get(language, {}).get(field)
        return translated if isinstance(translated, str) and translated else original


class Location(models.Model):
    class LocationType(models.TextChoices):
        PHYSICAL = "physical", "physical"
        VIRTUAL = "virtual", "virtual"
        POSTAL = "postal", "postal"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="locations"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    location_type = models.CharField(
        max_length=16, choices=LocationType.choices, default=LocationType.PHYSICAL
    )
    address_1 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=2, default="FR")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    transportation = models.CharField(
        max_length=300, blank=True, help_text="How to get there (bus lines, tram stops)."
    )
    is_confidential = models.BooleanField(
        default=False,
        help_text="A shelter or private home: the address is never printed or shown.",
    )

    class Meta:
        ordering = ["name"]
        # The matching prefilter is a bounding box on these two columns.
        indexes = [models.Index(fields=["latitude", "longitude"])]

    def __str__(self) -> str:
        return self.name


class ServiceAtLocation(models.Model):
    """A service offered at a location: the unit that gets matched and printed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="service_at_locations"
    )
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="service_at_locations"
    )
    description = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "location"], name="unique_service_location")
        ]

    def __str__(self) -> str:
        return f"{self.service} @ {self.location}"


class Schedule(models.Model):
    """When a service meets at a location, in HSDS's iCal-style fields (RFC 5545)."""

    class Freq(models.TextChoices):
        WEEKLY = "WEEKLY", "weekly"
        MONTHLY = "MONTHLY", "monthly"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service_at_location = models.ForeignKey(
        ServiceAtLocation, on_delete=models.CASCADE, related_name="schedules"
    )
    freq = models.CharField(max_length=16, choices=Freq.choices, default=Freq.WEEKLY)
    interval = models.PositiveSmallIntegerField(default=1)
    byday = models.CharField(
        max_length=64, blank=True, help_text="Comma-separated iCal days, e.g. 'TU,TH' or '2TU'."
    )
    opens_at = models.TimeField()
    closes_at = models.TimeField()
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    dtstart = models.DateField(null=True, blank=True)
    until = models.DateField(null=True, blank=True)
    notes = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.freq} {self.byday} {self.opens_at}-{self.closes_at}"
