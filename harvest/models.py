"""Directory feeds Tisser keeps its catalogue current from, their runs, and what each
harvested service was when it was last written (to tell local edits from the source's)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone


class HarvestSource(models.Model):
    class Kind(models.TextChoices):
        HSDS_API = "hsds-api", "HSDS 3.0 API"
        HSDS_FILE = "hsds-file", "HSDS 3.0 document"
        DATA_INCLUSION = "data-inclusion", "data·inclusion"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A short name operators type: `tisser harvest run NAME`.
    name = models.SlugField(max_length=60, unique=True)
    # The directory's name as people know it ("Annuaire de la Métropole"), shown on the
    # public page of each activity it brings; the name when empty.
    label = models.CharField(max_length=200, blank=True)
    # An http(s) URL; a path on the server only when an operator added it from the CLI.
    url = models.CharField(max_length=2000)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Hours between runs; 0: only when run by hand.
    every_hours = models.PositiveIntegerField(default=24)
    enabled = models.BooleanField(default=True)
    # The name of an environment variable holding a bearer token (data·inclusion's API
    # asks for one); the token itself is never stored.
    token_env = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The relay runs the source once this time has passed (None: never by schedule).
    next_run_at = models.DateTimeField(null=True, blank=True)
    # Failed runs in a row: each one doubles the wait before the next attempt.
    failures = models.PositiveIntegerField(default=0)
    # Set while a run holds the source, so that two relays never run it at once.
    running_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_label(self) -> str:
        return self.label or self.name


class HarvestRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(HarvestSource, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    # "schedule" or "manual".
    trigger = models.CharField(max_length=10, default="manual")
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    # Services whose locally edited fields were kept over the source's.
    kept_local = models.PositiveIntegerField(default=0)
    # Why the run failed, in Tisser's words (never the source's answer body).
    error = models.CharField(max_length=300, blank=True)
    # The first problems: {"record": id at the source, "field": ..., "message": ...}.
    problems: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    # Terms of the source's taxonomies that no crosswalk maps yet, with counts.
    unmapped_terms: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class HarvestedRecord(models.Model):
    """One record of a source and the service it became."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(HarvestSource, on_delete=models.CASCADE, related_name="records")
    record_id = models.CharField(max_length=300)
    service = models.ForeignKey(
        "community_catalog.Service", on_delete=models.CASCADE, related_name="+"
    )
    # SHA-256 of the record as mapped, ids included: equal means nothing to write.
    content_hash = models.CharField(max_length=64)
    # The source's last-modified for it as the listing gave it ("" when none).
    source_modified = models.CharField(max_length=40, blank=True)
    # Per top-level field, a hash of what the source sent and of what Tisser wrote:
    # a field whose value in Tisser no longer has the written hash was edited locally.
    source_hashes: models.JSONField[dict[str, str]] = models.JSONField(default=dict)
    written_hashes: models.JSONField[dict[str, str]] = models.JSONField(default=dict)
    # Fields edited in Tisser that the source changed too: Tisser's value was kept, and
    # the organisation or an operator should look.
    review_fields: models.JSONField[list[str]] = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "record_id"], name="harvest_record_unique")
        ]

    def __str__(self) -> str:
        return self.record_id


class HarvestedObject(models.Model):
    """An organisation or a place a source's services share, as the harvest last wrote
    it: a hash of it as Tisser exported it then (another hash now: edited in Tisser) and
    as the source sent it (another one now: changed at the source)."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(
        HarvestSource, on_delete=models.CASCADE, related_name="shared_objects"
    )
    object_id = models.UUIDField()
    kind = models.CharField(max_length=20)  # "organization" or "location"
    written_hash = models.CharField(max_length=32)
    source_hash = models.CharField(max_length=32)
    # Edited in Tisser, and changed at the source since: each service naming it is
    # flagged for review as it is written, until someone marks one reviewed.
    changed_at_source = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "object_id"], name="harvest_object_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
