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


class StaffNotice(models.Model):
    """Something a member of a health centre or an organisation should know (issue 26):
    sent at once or in the day's digest, as they chose (`Membership.notify`). It names a
    referral by its code and links to the page; nothing about the person."""

    class Kind(models.TextChoices):
        ARRIVED = "arrived", "a referral arrived"
        ANSWER_DUE = "answer_due", "an answer is due soon"
        DECLINED = "declined", "an offer was declined"
        EXPIRED = "expired", "an offer expired unanswered"
        UNMATCHED = "unmatched", "no activity was found"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "no longer true, or no longer wanted"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="staff_notices")
    event_id = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    referral_code = models.CharField(max_length=7)
    # What the notice is about, to ask again when it is sent whether it still holds.
    referral_id = models.UUIDField(null=True, blank=True)
    placement_id = models.UUIDField(null=True, blank=True)
    # The party the member was told as: a member since moved elsewhere is not told.
    party_id = models.UUIDField(null=True, blank=True)
    path = models.CharField(max_length=200, help_text="The page to open, from the site's root.")
    respond_by = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event_id", "kind"], name="one_notice_each")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notice_due_idx",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.referral_code} ({self.status})"
