"""Messages to the person after the slip: one row per message, with its delivery status.

A row holds ids, a kind, a channel, times and a status: never the address it went to nor
its text, which are made from the referral's contact at the moment of sending (so a
message to a person who stopped them, or was erased, is never sent)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class PatientMessage(models.Model):
    class Kind(models.TextChoices):
        PAGE_LINK = "page_link", "link to the personal page"
        REMINDER = "reminder", "reminder of a chosen session"
        DID_YOU_GO = "did_you_go", "did you go?"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "scheduled"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What makes a message unique within its kind: "" for the page link and "did you
    # go?" ("again" for the link after a re-match the person asked for), the placement
    # for a reminder (a new choice moves the reminder, never adds one).
    key = models.CharField(max_length=64, blank=True)
    placement = models.ForeignKey(
        "referrals.Placement", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_at = models.DateTimeField(
        null=True, blank=True, help_text="A reminder's session: the one chosen when it was set."
    )
    channel = models.CharField(max_length=8, blank=True, help_text="Set when sent: email, sms.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    status_reason = models.CharField(max_length=32, blank=True, help_text="A code, never text.")
    due_at = models.DateTimeField(help_text="Not before; quiet hours and one a day may delay.")
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_ref = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "kind", "key"], name="one_message_each")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="message_due_idx",
                condition=models.Q(status="scheduled"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"
