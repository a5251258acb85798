"""Health centres, their referrals, the activities matched to them, slips, and the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


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
        "accounts.HealthCenter", on_delete=models.PROTECT, related_name="referrals"
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
        "accounts.HealthCenter", on_delete=models.CASCADE, related_name="idempotency_keys"
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


class PatientReport(models.TextChoices):
    """What the person said about an activity on their own page."""

    WENT = "went", "went"
    NOT_FOR_ME = "not-for-me", "it was not for them"


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
        PATIENT_ASKED_OTHER = "patient-asked-other", "the person asked for something else"

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
    # What the person said on their own page (outreach), kept apart from the
    # organisation's answer (`status`): the session they chose, and whether they went.
    chosen_session = models.DateTimeField(
        null=True, blank=True, help_text="The session the person said they will come to."
    )
    patient_report = models.CharField(
        max_length=16, choices=PatientReport.choices, blank=True, help_text="Patient-reported."
    )
    patient_report_at = models.DateTimeField(null=True, blank=True)

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


class Contact(models.Model):
    """How to reach the person after the slip, and their consent to be reached: separate
    from the referral's consent, optional, and withdrawn at any time (a stop link, or the
    centre). `Referral.do_not_contact` wins over it. Erasure deletes the row.

    The personal page's token is a bearer secret of 256 random bits, not derived from any
    id; it is kept here (not hashed) because the slip's QR code and every message carry
    it again."""

    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        SMS = "sms", "SMS"

    referral = models.OneToOneField(
        Referral, on_delete=models.CASCADE, primary_key=True, related_name="contact"
    )
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +33612345678.")
    messages_consent = models.BooleanField(default=False)
    messages_consent_method = models.CharField(
        max_length=16, choices=Referral.ConsentMethod.choices, blank=True
    )
    messages_consent_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(
        null=True, blank=True, help_text="When the person (or the centre) stopped the messages."
    )
    page_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    page_revoked_at = models.DateTimeField(null=True, blank=True)
    other_wanted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the person asked for something else."
    )
    # A message to this person is being sent until then (outreach.sending): one at a
    # time, so that "one a day" holds with several workers.
    sending_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"contact of {self.referral_id}"

    @property
    def channel(self) -> str:
        """The one channel messages use: the one the centre noted the person prefers,
        else e-mail, else SMS; empty when there is no address."""
        preferred = self.referral.preferred_contact
        if preferred == "sms" and self.phone:
            return self.Channel.SMS
        if self.email:
            return self.Channel.EMAIL
        return self.Channel.SMS if self.phone else ""

    def page_is_open(self, now: datetime | None = None) -> bool:
        """The personal page answers until it is revoked, the person is erased, or
        TISSER_PERSONAL_PAGE_DAYS (30) after the referral closed."""
        referral = self.referral
        if not self.page_token or self.page_revoked_at is not None or not self.messages_consent:
            return False
        if referral.purged_at is not None or referral.closed_at is None:
            return referral.purged_at is None
        days = timedelta(days=settings.TISSER_PERSONAL_PAGE_DAYS)
        return (now or timezone.now()) < referral.closed_at + days

    @property
    def messages_state(self) -> str:
        """on, stopped, withdrawn, do_not_contact, no_consent or no_address."""
        if self.referral.do_not_contact:
            return "do_not_contact"
        if not self.messages_consent:
            return "withdrawn" if self.page_revoked_at else "no_consent"
        if self.stopped_at is not None:
            return "stopped"
        return "on" if self.channel else "no_address"

    @property
    def messages_allowed(self) -> bool:
        return (
            self.messages_consent
            and self.stopped_at is None
            and not self.referral.do_not_contact
            and self.referral.purged_at is None
            and bool(self.channel)
        )
