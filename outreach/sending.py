"""Sending the messages that are due, each once, with its delivery status.

The relay (`messages_sweep`, every TISSER_MESSAGES_CHECK_SECONDS) hands each due message
to a worker on the `messages` queue; `tisser messages due --as-of` sends them in its own
process (a catch-up after an outage; tests). Either way `message_send` does the work:

1. it claims the message: its next attempt is pushed forward as a lease, conditionally
   on the value read, so two workers given the same message send it once; every later
   change is conditional on that lease;
2. it asks again whether the message is still wanted: consent to messages, no
   `do_not_contact`, not erased, the referral still open, an activity still on offer, a
   channel, the page still open, the session still the one chosen and to come, a
   question not answered yet. If not, the message is cancelled with a code saying why;
3. it takes the person (`Contact.sending_until`, conditionally): one message to a
   person at a time, so that quiet hours and "one a day" hold with several workers;
   a reminder goes whatever was sent that day (it is the one that matters), the others
   wait for the next morning;
4. it sends through the channel's transport and records the outcome and its event in
   one transaction: `sent`, `failed` (after TISSER_MESSAGES_MAX_ATTEMPTS transient
   failures, or at once when retrying cannot help), or back to `scheduled` with a backoff.

The clock: the relay's is the time now. `messages due --as-of T` picks what is due at T;
with T in the past (a catch-up), quiet hours, leases and "one a day" still follow the
time now; with T ahead (a rehearsal, tests), they follow T.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from events.outbox import event_record
from outreach.models import PatientMessage
from outreach.schedule import MORNING, OPEN_STATUSES, at_local, local_day, quiet_until
from outreach.services import stop_url
from outreach.texts import message_text
from outreach.transport import Outgoing, SendFailed, transport_for
from referrals.models import Contact, Placement, Referral

logger = logging.getLogger(__name__)

# How long a claimed message is left to its worker before another may try it.
LEASE = timedelta(minutes=5)
# A message whose person is being sent another waits this long.
BUSY_WAIT = timedelta(minutes=1)

Hand = Callable[[uuid.UUID, datetime], object]


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 minutes…"""
    return timedelta(minutes=4 ** max(0, attempts - 1))


def messages_due(as_of: datetime, *, limit: int = 500) -> list[tuple[uuid.UUID, datetime]]:
    return list(
        PatientMessage.objects.filter(
            status=PatientMessage.Status.SCHEDULED, next_attempt_at__lte=as_of
        )
        .order_by("next_attempt_at")
        .values_list("id", "next_attempt_at")[:limit]
    )


def messages_sweep(hand: Hand, *, now: datetime | None = None, limit: int = 500) -> int:
    """Hand every due message to `hand` (the actor's `send`), each with a lease: a copy
    lost with the broker is handed again once the lease ends."""
    now = now or timezone.now()
    handed = 0
    for message_id, due in messages_due(now, limit=limit):
        lease = now + LEASE
        if PatientMessage.objects.filter(
            id=message_id, status=PatientMessage.Status.SCHEDULED, next_attempt_at=due
        ).update(next_attempt_at=lease):
            hand(message_id, lease)
            handed += 1
    return handed


def messages_send_due(as_of: datetime) -> dict[str, int]:
    """Send, in this process, every message due at `as_of` (`tisser messages due`)."""
    counts: dict[str, int] = {}
    for message_id, due in messages_due(as_of, limit=100_000):
        # Read for each message: a long catch-up must not send on a clock gone stale.
        outcome = message_send(message_id, due, now=max(as_of, timezone.now()))
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def message_send(message_id: uuid.UUID, expected: datetime, *, now: datetime | None = None) -> str:
    """One attempt at a message whose next attempt is `expected` (the lease it was
    handed with). Returns what became of it: sent, failed, cancelled, later, or
    skipped (another worker has it, or it is done)."""
    now = now or timezone.now()
    # Leases and the person's claim are about workers running now: real time, whatever
    # time `now` says the message is sent at (a rehearsal's).
    lease = timezone.now() + LEASE
    if not PatientMessage.objects.filter(
        id=message_id, status=PatientMessage.Status.SCHEDULED, next_attempt_at=expected
    ).update(next_attempt_at=lease, attempts=F("attempts") + 1):
        return "skipped"
    message = PatientMessage.objects.select_related("referral", "placement").get(id=message_id)
    # Every change from here on holds only while the lease is ours.
    mine = PatientMessage.objects.filter(
        id=message.id, status=PatientMessage.Status.SCHEDULED, next_attempt_at=lease
    )
    referral = message.referral
    contact = Contact.objects.filter(referral=referral).select_related("referral").first()
    why = _unwanted(message, referral, contact, now)
    if why:
        mine.update(status=PatientMessage.Status.CANCELLED, status_reason=why)
        return "cancelled"
    assert contact is not None
    later = _later(message, now)
    if later is not None:
        if message.kind == PatientMessage.Kind.REMINDER and _started_by(message, later):
            mine.update(status=PatientMessage.Status.CANCELLED, status_reason="too_late")
            return "cancelled"
        mine.update(next_attempt_at=later, attempts=F("attempts") - 1)
        return "later"
    claim = _person_take(contact)
    if claim is None:
        mine.update(next_attempt_at=now + BUSY_WAIT, attempts=F("attempts") - 1)
        return "later"
    try:
        return _send(message, mine, contact, now)
    finally:
        # Only our own claim: another worker's, taken after ours ran out, stays.
        Contact.objects.filter(referral_id=contact.referral_id, sending_until=claim).update(
            sending_until=None
        )


def _person_take(contact: Contact) -> datetime | None:
    """One message to a person at a time, across workers (real time: a claim left by a
    worker that died runs out with its lease); then "one a day" is asked again under
    that claim. Returns the claim, to release exactly it."""
    now = timezone.now()
    claim = now + LEASE
    taken = (
        Contact.objects.filter(referral_id=contact.referral_id)
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lt=now))
        .update(sending_until=claim)
    )
    return claim if taken else None


def _send(message: PatientMessage, mine: Any, contact: Contact, now: datetime) -> str:
    later = _later(message, now)
    if later is not None:  # another worker sent this person one meanwhile
        mine.update(next_attempt_at=later, attempts=F("attempts") - 1)
        return "later"
    channel = contact.channel
    subject, text = message_text(message, contact, channel, now)
    outgoing = Outgoing(
        to=contact.email if channel == "email" else contact.phone,
        subject=subject,
        text=text,
        language=contact.referral.preferred_language,
        stop_url=stop_url(contact),
        message_id=str(message.id),
    )
    referral = contact.referral
    try:
        sent = transport_for(channel).send(outgoing)
    except SendFailed as failure:
        attempts = message.attempts + 1
        if failure.transient and attempts < settings.TISSER_MESSAGES_MAX_ATTEMPTS:
            mine.update(next_attempt_at=now + backoff(attempts), status_reason=failure.code)
            return "later"
        with transaction.atomic():
            if mine.update(
                status=PatientMessage.Status.FAILED, status_reason=failure.code, channel=channel
            ):
                _event(referral, "referral.message_failed", message, channel, reason=failure.code)
        logger.warning("message %s failed: %s", message.id, failure.code)
        return "failed"
    with transaction.atomic():
        if mine.update(
            status=PatientMessage.Status.SENT,
            status_reason="",
            channel=channel,
            sent_at=now,
            provider_ref=sent.provider_ref,
        ):
            _event(referral, "referral.message_sent", message, channel)
    return "sent"


def _event(
    referral: Referral, type: str, message: PatientMessage, channel: str, **extra: Any
) -> None:
    event_record(
        type=type,
        aggregate_type="referral",
        aggregate_id=referral.id,
        payload={
            "referral_id": str(referral.id),
            "code": referral.code,
            "message_id": str(message.id),
            "kind": message.kind,
            "channel": channel,
            **extra,
        },
        health_center_id=referral.health_center_id,
    )


def _unwanted(
    message: PatientMessage, referral: Referral, contact: Contact | None, now: datetime
) -> str:
    """Why the message must not be sent now or ever, as a code; "" when it may."""
    if contact is None or referral.purged_at is not None:
        return "erased"
    if referral.do_not_contact:
        return "do_not_contact"
    if not contact.messages_consent:
        return "no_consent"
    if contact.stopped_at is not None:
        return "stopped"
    if referral.status != Referral.Status.ACTIVE:
        return "referral_closed"
    if not contact.channel:
        return "no_address"
    if not contact.page_is_open(now):
        return "page_closed"
    offered = Placement.objects.filter(referral=referral, status__in=OPEN_STATUSES)
    if message.kind == PatientMessage.Kind.REMINDER:
        placement = message.placement
        if placement is None or placement.status not in OPEN_STATUSES:
            return "not_open"
        if placement.patient_report:
            return "answered"
        if placement.chosen_session is None or placement.chosen_session != message.session_at:
            return "replaced"
        if placement.chosen_session <= now:
            return "too_late"
        return ""
    if message.kind == PatientMessage.Kind.DID_YOU_GO and (
        Placement.objects.filter(referral=referral).exclude(patient_report="").exists()
    ):
        return "answered"  # on any activity, even one the organisation has closed
    if not offered.exists():
        return "nothing_offered"
    return ""


def _started_by(message: PatientMessage, moment: datetime) -> bool:
    return message.session_at is None or message.session_at <= moment


def _later(message: PatientMessage, now: datetime) -> datetime | None:
    """When a message due now may go instead: after the quiet hours; and, but for a
    reminder, not on a day the person already had one (the next morning)."""
    quiet = quiet_until(now)
    if quiet is not None:
        return quiet
    if message.kind == PatientMessage.Kind.REMINDER:
        return None
    today = local_day(now)
    already = PatientMessage.objects.filter(
        referral_id=message.referral_id,
        status=PatientMessage.Status.SENT,
        sent_at__gte=at_local(today, time(0)),
        sent_at__lt=at_local(today + timedelta(days=1), time(0)),
    ).exclude(id=message.id)
    if already.exists():
        next_morning = at_local(today + timedelta(days=1), MORNING)
        return quiet_until(next_morning) or next_morning
    return None
