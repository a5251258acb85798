"""Retention and consent: patient data is kept only as long as it serves the person.

Two ways a referral's personal data is erased, both with the same function:

- **Retention.** A referral closed (cancelled or completed) more than
  TISSER_RETENTION_DAYS ago is purged by the periodic `purge_personal_data` actor, which
  the relay sends every TISSER_RETENTION_CHECK_SECONDS.
- **Consent withdrawn.** The health centre says the person withdrew consent: the
  referral is cancelled, its open placements with it, and its data is erased at once.

What goes: everything that describes the person — first name, pseudonymous reference,
year of birth, position and the full postcode, availability, accessibility needs, large
print, the consent's scope, every note (for the person, for the organisation, the
clinical reason, the centre's and the organisations' comments), the idempotency keys the
centre sent with it (a key may be a patient reference) — and the printed slip's file.

Nothing derived from them survives either. Three exact distances to public places give a
home away to a few metres, so each match keeps only its distance rounded up to whole
kilometres; its score and the score's parts go, and so do the reasons drawn from the
person (the travel time from home, the free times it fits, the access it offers).

What stays, for the territory's reports: the referral's code, dates, stage and status,
its needs, the activities offered, their rank and what became of each placement, and the
postcode's area (its first two characters: the département in France), so unmet needs
can still be counted by area. Events carry ids, codes and states only (see
`events.outbox.EVENT_PAYLOAD_KEYS`); erasure cuts the person's stored events back to
that list in case an older version wrote more, and webhook bodies, redeliveries
included, are built from the stored event.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import HealthCenter
from core.errors import NotFound
from events.models import Event
from events.outbox import payload_scrub
from referrals.erasure_ledger import (
    Kind,
    contact_erasure_record_on_commit,
    erasure_record_on_commit,
)
from referrals.lifecycle import open_placements_cancel, referral_event
from referrals.models import (
    Contact,
    IdempotencyKey,
    Match,
    Placement,
    Referral,
    WellbeingMeasure,
)

logger = logging.getLogger(__name__)

# How much of a postcode is kept once the rest is erased.
POSTCODE_AREA_CHARS = 2
CLOSED = (Referral.Status.REVOKED, Referral.Status.COMPLETED)
# Referrals purged per transaction: a long backlog never holds locks for long.
PURGE_BATCH = 200
# Reasons drawn from what is erased: where the person lives, when they are free, what
# they need to get in. The others (need, language, cost, capacity, season) stay.
PERSONAL_REASONS = frozenset({"distance", "schedule", "accessibility"})
# How long an idempotency key answers a retry. Clients retry within minutes.
IDEMPOTENCY_DAYS = 7


def _erase(referral: Referral, *, now: datetime) -> None:
    """Erase the personal fields of a locked referral, in the caller's transaction. The
    slip's file is deleted after commit (see `erased_leftovers_delete`)."""
    referral.patient_ref = ""
    referral.first_name = ""
    referral.year_of_birth = None
    referral.postcode = referral.postcode.replace(" ", "")[:POSTCODE_AREA_CHARS]
    referral.latitude = None
    referral.longitude = None
    referral.availability = []
    referral.accessibility_needs = []
    referral.preferred_contact = ""
    referral.note_for_patient = ""
    referral.note_for_organization = ""
    referral.clinical_reason = ""
    referral.cancel_reason = ""
    referral.unmatched_explanation = {}
    referral.large_print = False
    referral.consent_scope = ""
    referral.purged_at = now
    referral.save()
    Placement.objects.filter(referral=referral).update(note="", center_note="", chosen_session=None)
    # The e-mail address, the phone number and the page's token: the page closes with it.
    Contact.objects.filter(referral=referral).delete()
    _matches_erase(referral)
    _events_scrub(referral)
    IdempotencyKey.objects.filter(referral=referral).delete()
    # robust: the periodic purge deletes a file left behind; a failure here must not stop
    # the callbacks after it (the erasure ledger's line).
    transaction.on_commit(lambda: erased_leftovers_delete([referral.id]), robust=True)
    erasure_record_on_commit(referral)  # what a restore would undo, recorded outside it


def _matches_erase(referral: Referral) -> None:
    """Keep each match's rank and a distance too coarse to place anyone."""
    matches = list(Match.objects.filter(referral=referral))
    for match in matches:
        match.distance_km = float(max(1, math.ceil(match.distance_km)))
        match.score = None
        match.score_parts = {}
        match.reasons = [r for r in match.reasons if r.get("code") not in PERSONAL_REASONS]
    Match.objects.bulk_update(matches, ["distance_km", "score", "score_parts", "reasons"])


def _events_scrub(referral: Referral) -> None:
    """Cut the referral's and its placements' stored events back to what their type may
    carry, and forget the requests that wrote them. Only rows that hold more are written."""
    placement_ids = list(Placement.objects.filter(referral=referral).values_list("id", flat=True))
    events = Event.objects.filter(aggregate_id__in=[referral.id, *placement_ids])
    for event_id, type, payload in events.values_list("id", "type", "payload"):
        scrubbed = payload_scrub(type, payload or {})
        if scrubbed != payload:
            Event.objects.filter(id=event_id).update(payload=scrubbed)
    # A request id may be the caller's own `X-Request-ID`, which can say anything.
    events.exclude(request_id="").update(request_id="")


def idempotency_keys_prune(*, now: datetime | None = None) -> int:
    """Forget idempotency keys older than IDEMPOTENCY_DAYS: a retry comes within minutes,
    and a key may be a patient reference. Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=IDEMPOTENCY_DAYS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# What apps above keep of a referral outside its rows (slips.services registers its
# files): each hook deletes what purged referrals left, given their ids, or every
# purged referral's leftovers when given None. Called after the erasure commits.
ErasureHook = Callable[[list[uuid.UUID] | None], int]
_erasure_hooks: list[ErasureHook] = []


def erasure_register(hook: ErasureHook) -> None:
    if hook not in _erasure_hooks:
        _erasure_hooks.append(hook)


def contact_erase(referral: Referral, *, close_page: bool, now: datetime) -> Contact | None:
    """Erase the person's e-mail address and phone number and stop the messages, in the
    caller's transaction, the referral locked by the caller; with `close_page`, their
    consent to messages is withdrawn and their page closes too. Recorded in the erasure
    ledger, so a restore does not bring the addresses back."""
    contact = Contact.objects.select_for_update().filter(referral=referral).first()
    if contact is None:
        return None
    contact.email = contact.phone = ""
    contact.stopped_at = contact.stopped_at or now
    if close_page:
        contact.messages_consent = False
        contact.page_revoked_at = contact.page_revoked_at or now
    contact.save()
    kind: Kind = "contact_withdrawn" if close_page else "messages_stopped"
    contact_erasure_record_on_commit(referral.id, kind, now)
    return contact


def erased_leftovers_delete(referral_ids: list[uuid.UUID] | None) -> int:
    """Run every registered hook; returns how many things they deleted."""
    return sum(hook(referral_ids) for hook in _erasure_hooks)


def referral_consent_withdraw(
    *, health_center: HealthCenter, referral_id: uuid.UUID, now: datetime | None = None
) -> Referral:
    """The person withdrew consent: cancel the referral and its open placements, and
    erase its personal data, in one transaction. Withdrawing twice changes nothing."""
    with transaction.atomic():
        referral = (
            Referral.objects.select_for_update()
            .filter(id=referral_id, health_center=health_center)
            .first()
        )
        if referral is None:
            raise NotFound("No referral with this id.")
        if referral.consent_withdrawn_at is not None:
            return referral
        now = now or timezone.now()  # given: re-applied after a restore, at its first time
        open_placements_cancel(referral, now=now)
        if referral.status == Referral.Status.ACTIVE:
            referral.status = Referral.Status.REVOKED
            referral.closed_at = now
        referral.consent_given = False
        referral.consent_withdrawn_at = now
        _erase(referral, now=now)
        # Answers the person gave about themselves go with their consent. (The periodic
        # purge keeps them: the referral they belong to no longer names anyone.)
        WellbeingMeasure.objects.filter(referral=referral).delete()
        referral_event(referral, "referral.consent_withdrawn")
    return referral


def retention_purge(*, now: datetime | None = None) -> int:
    """Erase the personal data of every referral closed more than TISSER_RETENTION_DAYS
    ago and not yet purged. Returns how many were purged. Safe to run from several
    workers at once: each referral is re-read under its lock before it is erased."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TISSER_RETENTION_DAYS)
    due = Referral.objects.filter(
        closed_at__lt=cutoff, purged_at__isnull=True, status__in=CLOSED
    ).order_by("closed_at")
    purged = 0
    while ids := list(due.values_list("id", flat=True)[:PURGE_BATCH]):
        with transaction.atomic():
            for referral in Referral.objects.select_for_update().filter(
                id__in=ids, purged_at__isnull=True
            ):
                _erase(referral, now=now)
                referral_event(
                    referral, "referral.purged", {"retention_days": settings.TISSER_RETENTION_DAYS}
                )
                purged += 1
    idempotency_keys_prune(now=now)
    # Files a crash left behind between a purge's commit and its file deletion.
    erased_leftovers_delete(None)
    if purged:
        logger.info("retention: purged the personal data of %s referral(s)", purged)
    return purged
