from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class PasswordChangeRequired(models.Model):
    """A person who still has the password somebody else chose for them (the one
    `tisser create-user` printed): the pages send them to choose their own first. The row
    goes when they do."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE
    )
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "password change required"
        verbose_name_plural = "password changes required"

    def __str__(self) -> str:
        return f"{self.user} must change their password"


class HealthCenter(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    phone = models.CharField(max_length=40, blank=True)
    records_wellbeing = models.BooleanField(
        default=False,
        help_text="Ask the four ONS wellbeing questions when a referral is filed and again "
        "when an activity ends (set by an operator).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "referrals_healthcenter"  # kept from before the move to accounts
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's web sign-in, scoped to one health centre or one organisation. Created
    by an operator (`tisser create-user`); the person sees and acts for that party only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    health_center = models.ForeignKey(
        HealthCenter, null=True, blank=True, on_delete=models.CASCADE, related_name="members"
    )
    organization = models.ForeignKey(
        "community_catalog.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="members",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Notify(models.TextChoices):
        IMMEDIATE = "immediate", "at once"
        DAILY = "daily", "one e-mail a day"
        NONE = "none", "never"

    # When Tisser needs the person (a referral arrived, an answer is due, an offer was
    # declined, nothing was found): an e-mail at once, a daily digest, or none.
    notify = models.CharField(max_length=16, choices=Notify.choices, default=Notify.IMMEDIATE)

    class Meta:
        db_table = "referrals_membership"  # kept from before the move to accounts
        constraints = [
            models.CheckConstraint(
                condition=models.Q(health_center__isnull=False, organization__isnull=True)
                | models.Q(health_center__isnull=True, organization__isnull=False),
                name="membership_one_party",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.health_center or self.organization})"


class ApiKey(models.Model):
    """An API key. The key is shown once when created; only its SHA-256 is kept.

    Keys carry 192 random bits, so a fast hash is enough: there is nothing to brute-force.
    The prefix is stored in clear so an operator can tell keys apart and revoke one.
    A key belongs to one health centre, or one organisation, or is an operator's.
    """

    class Role(models.TextChoices):
        HEALTH_CENTER = "health_center", "health centre"
        ORGANIZATION = "organization", "organisation"
        OPERATOR = "operator", "operator"

    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.HEALTH_CENTER)
    health_center = models.ForeignKey(
        HealthCenter, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    organization = models.ForeignKey(
        "community_catalog.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "referrals_apikey"  # kept from before the move to accounts
        constraints = [
            models.CheckConstraint(
                name="api_key_owner_matches_role",
                condition=(
                    models.Q(
                        role="health_center",
                        health_center__isnull=False,
                        organization__isnull=True,
                    )
                    | models.Q(
                        role="organization",
                        health_center__isnull=True,
                        organization__isnull=False,
                    )
                    | models.Q(
                        role="operator", health_center__isnull=True, organization__isnull=True
                    )
                ),
            )
        ]

    def __str__(self) -> str:
        owner = self.health_center or self.organization or "operator"
        return f"{self.prefix}… ({owner})"


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: object) -> int:
        raise TypeError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")


class AuditEntry(models.Model):
    """Who read or changed which referral, and when: one row per API request, web page or
    admin page that succeeded on a referral (or on one of its placements), one row per
    list that showed referrals (with the ids it returned), and one row per request refused
    on a referral or placement it named (a probe across tenants). Append-only: rows are
    never updated or deleted through the application. The ids are plain values, not
    foreign keys, so the log outlives what it speaks of (a purge, a deleted key)."""

    class Action(models.TextChoices):
        READ = "read", "read"
        CHANGE = "change", "change"
        LIST = "list", "list"
        REFUSED = "refused", "refused"

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now)
    referral_id = models.UUIDField(
        null=True, blank=True, help_text="Empty for a list, or a refused unknown placement."
    )
    referral_ids = models.JSONField(
        default=list, blank=True, help_text="A list's referrals, as returned."
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    key_prefix = models.CharField(max_length=16, blank=True, help_text="Empty: a web sign-in.")
    username = models.CharField(max_length=150, blank=True, help_text="Empty: an API key.")
    role = models.CharField(
        max_length=16, help_text="health_center, organization, operator or admin."
    )
    health_center_id = models.UUIDField(null=True, blank=True)
    organization_id = models.UUIDField(null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        db_table = "referrals_auditentry"  # kept from before the move to accounts
        ordering = ["id"]
        indexes = [models.Index(fields=["referral_id", "id"], name="audit_referral_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.role} {self.key_prefix} {self.action} {self.path}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise TypeError("the audit log is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")
