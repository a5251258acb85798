"""The catalogue of community activities, in Open Referral HSDS 3.0 vocabulary.

Tables and field names follow HSDS 3.0's tabular form, so data moves in and out without
translation: a phone, contact, schedule or language row points at whichever object it
belongs to (organization, service, location, service_at_location, contact).

The unit that gets matched is a `ServiceAtLocation`: one activity (service) offered at one
place (location), with its weekly or monthly sessions (schedules) and its capacity.

Beyond HSDS 3.0 (exported as extension fields, which HSDS allows): capacity on
service_at_location, `confidential` on location, `translations` and `what_to_bring` on
service.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class TaxonomyTerm(models.Model):
    """A need a person has, or a kind of activity; codes are stable, labels bilingual.

    The taxonomy is data an operator keeps (`community_catalog.taxonomy_services`):
    terms are added, relabelled and deactivated, never renamed or deleted once in use.
    A need's `activities` are the kinds of activity that answer it.
    """

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
    active = models.BooleanField(
        default=True,
        help_text="An inactive term is kept (services and referrals may carry it) but is "
        "no longer offered in forms, accepted in new referrals or reached by matching.",
    )
    activities = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="needs_answered",
        help_text="For a need: the kinds of activity that answer it (matching also takes "
        "every kind below these in the tree).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    def label(self, language: str) -> str:
        return self.name_en if language == "en" else self.name


class TaxonomyVersion(models.Model):
    """One row: how many times the taxonomy or the crosswalks changed. Each change
    increments it in its own transaction, so the number a reader sees moves exactly when
    a change commits (an event's id is given at insert, not at commit, and could be
    overtaken)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    number = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.number)


class ForeignTerm(models.Model):
    """A term of another directory's taxonomy that a service carries, kept as the
    directory wrote it whether or not Tisser can read it: a `Crosswalk` maps it to
    Tisser's codes, and until one does, operators see it among the unmapped terms.

    `taxonomy` is the taxonomy's URI or name as the file gave it ("" when it named
    none); `code` is the term's code in that taxonomy, or its name when it has none.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    taxonomy = models.CharField(max_length=300)
    code = models.CharField(max_length=200)
    label = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["taxonomy", "code"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "code"], name="unique_foreign_term")
        ]

    def __str__(self) -> str:
        return f"{self.taxonomy or '(no taxonomy)'} {self.code}"


class Crosswalk(models.Model):
    """How to read a term of another taxonomy: the Tisser codes it stands for. No
    codes says, on purpose, that it has no correspondence (the term is then no longer
    listed as unmapped). Rows may exist before any service carries the term (the
    shipped data·inclusion crosswalk)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    taxonomy = models.CharField(max_length=300)
    code = models.CharField(max_length=200)
    label = models.CharField(max_length=300, blank=True)
    terms = models.ManyToManyField(TaxonomyTerm, blank=True, related_name="crosswalks")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["taxonomy", "code"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "code"], name="unique_crosswalk")
        ]

    def __str__(self) -> str:
        return f"{self.taxonomy or '(no taxonomy)'} {self.code}"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    alternate_name = models.CharField(max_length=200, blank=True)
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

    TRANSLATED_FIELDS = (
        "name",
        "description",
        "application_process",
        "what_to_bring",
        "fees_description",
        "eligibility_description",
        "alert",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=200)
    alternate_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    url = models.URLField(blank=True)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.ACTIVE)
    interpretation_services = models.TextField(
        blank=True, help_text="Interpretation offered, in words; matching treats it as any."
    )
    application_process = models.TextField(
        blank=True, help_text="How to join: printed as the slip's next steps."
    )
    # Tisser extension: HSDS's required_document is for papers; people also need to know
    # to bring comfortable shoes or an apron.
    what_to_bring = models.TextField(
        blank=True, help_text="What to bring to the first session: printed on the slip."
    )
    fees_description = models.TextField(blank=True)
    eligibility_description = models.TextField(blank=True)
    wait_time = models.CharField(max_length=200, blank=True)
    alert = models.TextField(blank=True, help_text="A short notice, e.g. why it is closed.")
    minimum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    maximum_age = models.PositiveSmallIntegerField(null=True, blank=True)

    class Cost(models.TextChoices):
        FREE = "free", "free"
        PAID = "paid", "paid"
        NOT_STATED = "not-stated", "not stated"

    # What the organisation said, when it said it (the web form, the API's `cost`): it
    # wins over what the cost options and the fees text suggest.
    cost_declared = models.CharField(
        max_length=10,
        blank=True,
        choices=Cost.choices,
        help_text="Free, paid or not stated, as the organisation declared it; empty: not "
        "declared (read from the cost options and the fees text).",
    )
    # Decided by `community_catalog.costs.cost_state` whenever the service is written;
    # matching, search, slips, the public page and reports all read this.
    cost = models.CharField(
        max_length=10, choices=Cost.choices, default=Cost.NOT_STATED, editable=False
    )
    translations = models.JSONField(default=dict, blank=True)
    # The codes of Tisser's own taxonomy the service carries. Terms of other
    # taxonomies are kept in `foreign_terms` and reach Tisser's codes through crosswalks.
    taxonomy_terms = models.ManyToManyField(TaxonomyTerm, related_name="services", blank=True)
    foreign_terms = models.ManyToManyField(ForeignTerm, related_name="services", blank=True)
    assured_date = models.DateField(
        null=True, blank=True, help_text="When the organisation last confirmed this is current."
    )
    # Set by the catalogue services on every change, and kept from an imported file.
    last_modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        # No index on status on purpose: search and matching start from the places near
        # a point; an index on status invites the database to start from every active
        # service instead (seen on SQLite: 200 ms instead of 12 ms per search).

    def __str__(self) -> str:
        return self.name

    def text(self, field: str, language: str) -> str:
        """The field in `language` when translated, else the original (French) text."""
        original: str = getattr(self, field)
        translated: Any = self.translations.get(language, {}).get(field)
        return translated if isinstance(translated, str) and translated else original

    def is_stale(self, today: date | None = None) -> bool:
        """Not confirmed for `TISSER_STALE_AFTER_DAYS`: flagged, and ranked lower."""
        if self.assured_date is None:
            return True
        today = today or timezone.localdate()
        return (today - self.assured_date).days > settings.TISSER_STALE_AFTER_DAYS


class Location(models.Model):
    class LocationType(models.TextChoices):
        PHYSICAL = "physical", "physical"
        VIRTUAL = "virtual", "virtual"
        POSTAL = "postal", "postal"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="locations"
    )
    location_type = models.CharField(
        max_length=16, choices=LocationType.choices, default=LocationType.PHYSICAL
    )
    url = models.URLField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    alternate_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    transportation = models.TextField(
        blank=True, help_text="How to get there (bus lines, tram stops)."
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    is_confidential = models.BooleanField(
        default=False,
        help_text="A shelter or a private home: the address is never printed or shown "
        "to other parties; the slip says to call.",
    )

    class Meta:
        ordering = ["name"]
        # Search and matching prefilter on a bounding box over these two columns.
        indexes = [models.Index(fields=["latitude", "longitude"])]

    def __str__(self) -> str:
        return self.name or str(self.id)

    @property
    def physical_address(self) -> Address | None:
        """The address to go to: the physical one, else the first one given."""
        addresses = list(self.addresses.all())
        physical = [a for a in addresses if a.address_type == Address.AddressType.PHYSICAL]
        if physical:
            return physical[0]
        return addresses[0] if addresses else None


class Address(models.Model):
    class AddressType(models.TextChoices):
        PHYSICAL = "physical", "physical"
        POSTAL = "postal", "postal"
        VIRTUAL = "virtual", "virtual"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # HSDS ids of nested objects are not unique in practice (the official examples reuse
    # one phone id under five parents), so they are kept beside a row key of our own.
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="addresses")
    attention = models.CharField(max_length=200, blank=True)
    address_1 = models.CharField(max_length=200)
    address_2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    state_province = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=16)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    address_type = models.CharField(
        max_length=16, choices=AddressType.choices, default=AddressType.PHYSICAL
    )

    class Meta:
        ordering = ["location", "address_type", "hsds_id", "id"]
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return ", ".join(p for p in (self.address_1, self.postal_code, self.city) if p)

    def one_line(self) -> str:
        return ", ".join(
            p for p in (self.address_1, self.address_2, self.postal_code, self.city) if p
        )


class ServiceAtLocation(models.Model):
    """A service offered at a location: the unit that gets matched and printed.

    Capacity lives here because places are counted per group: the same workshop can be
    full on one side of town and have room on the other.
    """

    class CapacityStatus(models.TextChoices):
        HAS_CAPACITY = "has-capacity", "has capacity"
        NO_CAPACITY = "no-capacity", "no capacity"
        WAITLIST = "waitlist", "waitlist"
        ASSESSMENT_REQUIRED = "assessment-required", "assessment required"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="service_at_locations"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="service_at_locations"
    )
    description = models.TextField(blank=True)
    capacity_status = models.CharField(
        max_length=24, choices=CapacityStatus.choices, default=CapacityStatus.HAS_CAPACITY
    )
    capacity_available = models.PositiveIntegerField(null=True, blank=True)
    capacity_maximum = models.PositiveIntegerField(null=True, blank=True)
    capacity_updated = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "location"], name="unique_service_location")
        ]

    def __str__(self) -> str:
        return f"{self.service} @ {self.location}"


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    service_at_location = models.ForeignKey(
        ServiceAtLocation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="contacts",
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["hsds_id", "id"]

    def __str__(self) -> str:
        return self.name or self.email or str(self.id)


class Phone(models.Model):
    """A phone number, normalised to E.164 with `phonenumbers`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    service_at_location = models.ForeignKey(
        ServiceAtLocation, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    number = models.CharField(max_length=32)
    extension = models.CharField(max_length=16, blank=True)
    type = models.CharField(max_length=16, blank=True, help_text="voice, text, fax, cell…")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["hsds_id", "id"]

    def __str__(self) -> str:
        return self.number


class Language(models.Model):
    """A language a service is run in, or spoken at a location, as an ISO 639-1 code."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    phone = models.ForeignKey(
        Phone, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    name = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=3, blank=True, db_index=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["hsds_id", "id"]

    def __str__(self) -> str:
        return self.code or self.name


class CostOption(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="cost_options")
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    option = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217, e.g. EUR")
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    amount_description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["hsds_id", "id"]

    def __str__(self) -> str:
        return f"{self.option} {self.amount} {self.currency}".strip()


class Accessibility(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="accessibility")
    description = models.TextField(blank=True)
    details = models.TextField(blank=True)
    url = models.URLField(blank=True)

    class Meta:
        ordering = ["hsds_id", "id"]
        verbose_name_plural = "accessibility"

    def __str__(self) -> str:
        return self.description[:60]


class Schedule(models.Model):
    """When a service meets, in HSDS's iCal-style fields (RFC 5545).

    As in HSDS, a schedule belongs to a service_at_location, a service or a location; the
    sessions of a service_at_location come from its own schedules, else its service's.
    """

    class Freq(models.TextChoices):
        WEEKLY = "WEEKLY", "weekly"
        MONTHLY = "MONTHLY", "monthly"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hsds_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    service_at_location = models.ForeignKey(
        ServiceAtLocation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="schedules",
    )
    freq = models.CharField(max_length=16, choices=Freq.choices, blank=True)
    interval = models.PositiveSmallIntegerField(null=True, blank=True)
    byday = models.CharField(
        max_length=64, blank=True, help_text="Comma-separated iCal days, e.g. 'TU,TH' or '2TU'."
    )
    bymonthday = models.CharField(max_length=100, blank=True)
    byweekno = models.CharField(max_length=200, blank=True)
    byyearday = models.CharField(max_length=200, blank=True)
    wkst = models.CharField(max_length=2, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    dtstart = models.DateField(null=True, blank=True)
    until = models.DateField(null=True, blank=True)
    timezone = models.FloatField(
        null=True, blank=True, help_text="HSDS: offset from UTC; sessions use TIME_ZONE."
    )
    description = models.TextField(blank=True)
    schedule_link = models.URLField(blank=True)
    attending_type = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    # Derived from byday/dtstart on every save (and by the importer's bulk writes), so
    # that search can filter on a weekday in the database: "MO,TH".
    weekdays = models.CharField(max_length=20, blank=True, editable=False)

    class Meta:
        ordering = ["hsds_id", "id"]

    def __str__(self) -> str:
        return f"{self.freq} {self.byday} {self.opens_at}-{self.closes_at}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        from community_catalog.schedules import schedule_weekdays  # it reads this module

        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"byday", "dtstart", "freq"} & set(update_fields):
            self.weekdays = schedule_weekdays(self)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "weekdays"}
        super().save(*args, **kwargs)


class PostalCode(models.Model):
    """A postcode and its centre, loaded from GeoNames' postal code files."""

    country_code = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=20)
    place_name = models.CharField(max_length=180)
    admin_name1 = models.CharField(max_length=100, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()

    class Meta:
        ordering = ["country_code", "postal_code", "place_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country_code", "postal_code", "place_name"], name="unique_postal_place"
            )
        ]

    def __str__(self) -> str:
        return f"{self.postal_code} {self.place_name}"


class ServiceProvenance(models.Model):
    """Where a harvested service came from (the `harvest` app writes it): shown on the
    public page and in the HSDS API, so that a reader knows whose data it is and how old.
    A service written in Tisser has none."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, primary_key=True, related_name="provenance"
    )
    # The source as the operator named it, and the directory's own name for itself.
    source_name = models.CharField(max_length=60)
    source_label = models.CharField(max_length=200, blank=True)
    # The service's id at the source, and its page there when the source gives one.
    record_id = models.CharField(max_length=300)
    record_url = models.URLField(max_length=1000, blank=True)
    fetched_at = models.DateTimeField()
    # The source's own last-modified date for the record, when it gives one.
    source_modified = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source_name", "record_id"]

    def __str__(self) -> str:
        return f"{self.source_name}: {self.record_id}"
