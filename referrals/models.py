"""Health centres, their referrals, the activities matched to them, slips, and the outbox."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


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

    class Meta:
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


class Referral(models.Model):
    """A non-medical referral for one person (≈ FHIR ServiceRequest)."""

    class Stage(models.TextChoices):
        SUBMITTED = "submitted", "submitted"
        MATCHING = "matching", "matching"
        MATCHED = "matched", "matched"
        UNMATCHED = "unmatched", "unmatched"
        SLIP_READY = "slip_ready", "slip ready"

    class Status(models.TextChoices):
        """FHIR ServiceRequest status: active until the centre revokes it or no further
        activity will occur (every placement ended)."""

        ACTIVE = "active", "active"
        REVOKED = "revoked", "cancelled"
        COMPLETED = "completed", "completed"

    class ConsentMethod(models.TextChoices):
        VERBAL = "verbal", "verbal"
        WRITTEN = "written", "written"
        ELECTRONIC = "electronic", "electronic"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=7, unique=True, help_text="Printed on the slip.")
    health_center = models.ForeignKey(
        HealthCenter, on_delete=models.PROTECT, related_name="referrals"
    )
    clinician_name = models.CharField(max_length=200, blank=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.SUBMITTED)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was cancelled or completed; starts retention."
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    purged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the personal fields were erased (retention or consent withdrawn).",
    )

    # About the person: pseudonymous, and only what is needed to match and to print.
    patient_ref = models.CharField(max_length=64, help_text="Pseudonymous; never a health number.")
    first_name = models.CharField(max_length=80)
    year_of_birth = models.PositiveSmallIntegerField(null=True, blank=True)
    preferred_language = models.CharField(max_length=2, default="fr")
    postcode = models.CharField(max_length=16, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    max_distance_km = models.FloatField(default=5)
    matches_wanted = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Activities to propose (1-5); empty: the default."
    )
    unmatched_explanation = models.JSONField(
        default=dict,
        blank=True,
        help_text="Why nothing was found, in words a clinician can act on (fr, en).",
    )
    needs = models.ManyToManyField("community_catalog.TaxonomyTerm", related_name="referrals")
    availability = models.JSONField(
        default=list, blank=True, help_text='[{"weekday": "TU", "start": "14:00", "end": "18:00"}]'
    )
    accessibility_needs = models.JSONField(default=list, blank=True)
    free_only = models.BooleanField(default=False)
    large_print = models.BooleanField(default=False)
    note_for_patient = models.TextField(blank=True)
    note_for_organization = models.TextField(blank=True)
    clinical_reason = models.TextField(blank=True, help_text="Never shown to organisations.")
    do_not_contact = models.BooleanField(default=False)
    preferred_contact = models.CharField(max_length=16, blank=True)

    consent_given = models.BooleanField()
    consent_method = models.CharField(max_length=16, choices=ConsentMethod.choices)
    consent_at = models.DateTimeField()
    consent_scope = models.CharField(max_length=200, blank=True)
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["health_center", "created_at"]),
            # The retention purge looks only at closed referrals not yet purged.
            models.Index(
                fields=["closed_at"],
                name="referral_retention_idx",
                condition=models.Q(purged_at__isnull=True, closed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.stage})"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a health centre sent with a referral, and the answer it got.

    The same key with the same body gets the same answer and creates nothing; the same
    key with another body is refused. The unique constraint is what makes concurrent
    retries safe: the second INSERT waits for the first transaction, then fails.
    """

    health_center = models.ForeignKey(
        HealthCenter, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical body.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    referral = models.ForeignKey(
        "Referral", null=True, on_delete=models.SET_NULL, related_name="idempotency_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["health_center", "key"], name="unique_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.health_center_id})"


class Match(models.Model):
    """An activity proposed for a referral, with its rank and the reasons it was chosen."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="matches")
    service_at_location = models.ForeignKey(
        "community_catalog.ServiceAtLocation", on_delete=models.PROTECT, related_name="matches"
    )
    rank = models.PositiveSmallIntegerField()
    # Both come from where the person lives: erasure empties the score and rounds the
    # distance up to whole kilometres (see `referrals.retention`).
    score = models.FloatField(null=True, blank=True, help_text="Empty once erased.")
    distance_km = models.FloatField(help_text="Whole kilometres, rounded up, once erased.")
    reasons = models.JSONField(default=list)
    score_parts = models.JSONField(
        default=dict, blank=True, help_text="Each named part of the score (0-1) and its weight."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["referral", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "rank"], name="unique_match_rank"),
            models.UniqueConstraint(
                fields=["referral", "service_at_location"], name="unique_match_activity"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} for {self.referral_id}"


class Slip(models.Model):
    """The referral's current printed slip. One per referral; a re-match renders a new
    version in its place. `event_id` is the event the render answered, so a re-run of
    the same job leaves the slip as it is."""

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, related_name="slip")
    version = models.PositiveSmallIntegerField(default=1)
    event_id = models.BigIntegerField(null=True, blank=True)
    file = models.FileField(upload_to="slips/")
    language = models.CharField(
        max_length=5, help_text='"fr", "en", or "fr+en" when the person\'s language is not printed.'
    )
    size_bytes = models.PositiveIntegerField()
    render_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.file.name or f"slip of {self.referral_id}"


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
        HealthCenter, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
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
        ordering = ["id"]
        indexes = [
            models.Index(fields=["aggregate_type", "aggregate_id", "id"]),
            # The newest catalogue change, which slip workers check (workers.slip_content).
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


class Placement(models.Model):
    """A referral offered to one activity of one organisation (≈ FHIR Task).

    The status follows the FHIR Task statuses the SDOH Clinical Care guide allows, with
    the transitions in `TRANSITIONS`. The health centre creates (`requested`) and
    cancels; the organisation answers and records what happened.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "requested"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"
        CANCELLED = "cancelled", "cancelled"
        IN_PROGRESS = "in-progress", "in progress"
        ON_HOLD = "on-hold", "on hold"
        COMPLETED = "completed", "completed"
        FAILED = "failed", "failed"

    class Reason(models.TextChoices):
        # An organisation's reasons to reject.
        NO_CAPACITY = "no-capacity", "no capacity"
        NOT_ELIGIBLE = "not-eligible", "not eligible"
        COULD_NOT_CONTACT = "could-not-contact", "could not contact"
        NO_LONGER_INTERESTED = "no-longer-interested", "no longer interested"
        REFERRED_ELSEWHERE = "referred-elsewhere", "referred elsewhere"
        # Set by Tisser or the centre.
        EXPIRED = "expired", "no answer within the time allowed"
        CANCELLED_BY_CENTER = "cancelled-by-center", "cancelled by the health centre"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="placements")
    match = models.OneToOneField(Match, on_delete=models.PROTECT, related_name="placement")
    organization = models.ForeignKey(
        "community_catalog.Organization", on_delete=models.PROTECT, related_name="placements"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    status_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    note = models.CharField(max_length=500, blank=True, help_text="The last answer's comment.")
    center_note = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why the centre cancelled; never shown to the organisation.",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    reminded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["requested_at", "id"]
        indexes = [
            models.Index(fields=["organization", "status", "requested_at"]),
            # The periodic check only looks at placements still waiting for an answer.
            models.Index(
                fields=["requested_at"],
                name="placement_waiting_idx",
                condition=models.Q(status="requested"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} ({self.referral_id} → {self.organization_id})"


class WebhookSubscription(models.Model):
    """A URL a health centre or an organisation wants events POSTed to.

    The secret signs deliveries (Standard Webhooks); it must be kept to sign, so it is
    stored as is and shown to its owner only when created or rotated.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    health_center = models.ForeignKey(
        HealthCenter, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
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
    # The breaker (referrals.webhooks): attempts in a row that got no answer, and when
    # the last of them ended.
    failures_in_a_row = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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


WELLBEING_QUESTIONS = ("life_satisfaction", "worthwhile", "happiness", "anxiety")


class WellbeingMeasure(models.Model):
    """The four ONS personal wellbeing questions, each answered from 0 to 10: asked when
    the referral is filed (`baseline`) and again when a placement completes
    (`follow_up`, recorded by the organisation or the clinician). Only for health centres
    that chose to (`HealthCenter.records_wellbeing`).

    Reported as the change per person, in aggregate and never in groups under five;
    never shown to organisations one by one. Consent withdrawn deletes them."""

    class Timepoint(models.TextChoices):
        BASELINE = "baseline", "when the referral was filed"
        FOLLOW_UP = "follow_up", "when the activity ended"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="wellbeing")
    placement = models.ForeignKey(
        Placement, null=True, blank=True, on_delete=models.CASCADE, related_name="wellbeing"
    )
    timepoint = models.CharField(max_length=16, choices=Timepoint.choices)
    life_satisfaction = models.PositiveSmallIntegerField()
    worthwhile = models.PositiveSmallIntegerField()
    happiness = models.PositiveSmallIntegerField()
    anxiety = models.PositiveSmallIntegerField(help_text="0 is not anxious at all.")
    recorded_by = models.CharField(max_length=16, help_text="health_center or organization")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["referral"],
                condition=models.Q(timepoint="baseline"),
                name="wellbeing_one_baseline",
            ),
            models.UniqueConstraint(
                fields=["placement"],
                condition=models.Q(timepoint="follow_up"),
                name="wellbeing_one_follow_up",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    life_satisfaction__lte=10,
                    worthwhile__lte=10,
                    happiness__lte=10,
                    anxiety__lte=10,
                ),
                name="wellbeing_scores_0_10",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.timepoint} ({self.referral_id})"
