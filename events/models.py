"""events models."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Event(models.Model):
    """A state change, written in the same transaction as the change (transactional outbox).

    `published_at` is set when the relay hands the event to the broker; `processed_at` when
    the work the event triggers has completed. An event published but not processed after
    a while is published again: actors are idempotent, so a duplicate is harmless, and a
    lost message (a broker restart, a killed worker) is not lost for good.
    """

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=64)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.UUIDField()
    payload = models.JSONField(default=dict)
    # Who may read the event (feed, webhooks): the referral's health centre and, for a
    # placement, the organisation it is addressed to. Payloads hold nothing the
    # audience may not see.
    health_center = models.ForeignKey(
        "accounts.HealthCenter",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    organization = models.ForeignKey(
        "community_catalog.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    publish_count = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(
        max_length=64, blank=True, help_text="The request that caused it (see core.logs)."
    )

    class Meta:
        db_table = "referrals_event"  # kept from before the move to events
        ordering = ["id"]
        indexes = [
            models.Index(fields=["aggregate_type", "aggregate_id", "id"]),
            # The newest catalogue change, which slip workers check (slips.content).
            models.Index(fields=["aggregate_type", "id"], name="event_type_newest_idx"),
            models.Index(fields=["health_center", "id"], name="event_center_feed_idx"),
            models.Index(fields=["organization", "id"], name="event_org_feed_idx"),
            # The relay's sweep only ever looks at events whose work is not done.
            models.Index(
                fields=["published_at"],
                name="event_pending_idx",
                condition=models.Q(processed_at__isnull=True, failed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.type} {self.aggregate_id}"


class WebhookSubscription(models.Model):
    """A URL a health centre or an organisation wants events POSTed to.

    The secret signs deliveries (Standard Webhooks); it must be kept to sign, so it is
    stored as is and shown to its owner only when created or rotated.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    health_center = models.ForeignKey(
        "accounts.HealthCenter",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
    )
    organization = models.ForeignKey(
        "community_catalog.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
    )
    url = models.URLField(max_length=500)
    event_types = models.JSONField(default=list, help_text="Empty: every event.")
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The breaker (events.webhooks): attempts in a row that got no answer, and when
    # the last of them ended.
    failures_in_a_row = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "referrals_webhooksubscription"  # kept from before the move to events
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="webhook_has_one_owner",
                condition=(
                    models.Q(health_center__isnull=False, organization__isnull=True)
                    | models.Q(health_center__isnull=True, organization__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.active and (not self.event_types or event_type in self.event_types)


class WebhookDelivery(models.Model):
    """One event to one subscription: tried until it succeeds, then kept as sent; after
    the last try it stays `failed` (the dead-letter list) until someone redelivers it."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed (dead letter)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "referrals_webhookdelivery"  # kept from before the move to events
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="unique_delivery")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscription_id} ({self.status})"
