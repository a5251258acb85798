"""Sending the messages that are due, each once, with its delivery status.

The relay (`messages_sweep`, every TISSER_MESSAGES_CHECK_SECONDS) hands each due message
to a worker on the `messages` queue; `tisser messages due --as-of` sends them in its own
process (a catch-up after an outage; tests). Either way `message_send` does the work:

1. it claims the message: its next attempt is pushed forward as a lease, conditionally
   on the value read, so two workers given the same message send it once;
2. it asks again whether the message is still wanted: consent to messages, no
   `do_not_contact`, not erased, a channel, the page still open, the session still
   chosen and to come, a question not answered yet. If not, the message is cancelled with
   a code saying why;
3. quiet hours and one message a day per person put it back, untried, for later;
4. it sends through the channel's transport and records the outcome and its event in
   one transaction: `sent`, `failed` (after TISSER_MESSAGES_MAX_ATTEMPTS transient
   failures, or at once when retrying cannot help), or back to `scheduled` with a backoff.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from events.outbox import event_record
from outreach.models import PatientMessage
from outreach.schedule import MORNING, at_local, local_day, quiet_until, reminder_key
from outreach.services import page_open, stop_url
from outreach.texts import message_text
from outreach.transport import Outgoing, SendFailed, transport_for
from referrals.models import Contact, Placement, Referral

logger = logging.getLogger(__name__)

# How long a claimed message is left to its worker before another may try it.
LEASE = timedelta(minutes=5)
OPEN_STATUSES = ("requested", "accepted", "in-progress", "on-hold")

Hand = Callable[[uuid.UUID, datetime], object]


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 minutes…"""
    return timedelta(minutes=4 ** max(0, attempts - 1))


def messages_due(now: datetime, *, limit: int = 500) -> list[tuple[uuid.UUID, datetime]]:
    return list(
        PatientMessage.objects.filter(
            status=PatientMessage.Status.SCHEDULED, next_attempt_at__lte=now
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


def messages_send_due(now: datetime) -> dict[str, int]:
    """Send, in this process, every message due at `now` (`tisser messages due`)."""
    counts: dict[str, int] = {}
    for message_id, due in messages_due(now, limit=100_000):
        outcome = message_send(message_id, due, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def message_send(message_id: uuid.UUID, expected: datetime, *, now: datetime | None = None) -> str:
    """One attempt at a message whose next attempt is `expected` (the lease it was
    handed with). Returns what became of it: sent, failed, cancelled, later, or
    skipped (another worker has it, or it is done)."""
    now = now or timezone.now()
    message = (
        PatientMessage.objects.select_related("referral", "placement")
        .filter(id=message_id, status=PatientMessage.Status.SCHEDULED, next_attempt_at=expected)
        .first()
    )
    if message is None:
        return "skipped"
    claimed = PatientMessage.objects.filter(
        id=message.id, status=PatientMessage.Status.SCHEDULED, next_attempt_at=expected
    )
    if not claimed.update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1):
        return "skipped"
    mine = PatientMessage.objects.filter(id=message.id, status=PatientMessage.Status.SCHEDULED)
    referral = message.referral
    contact = Contact.objects.filter(referral=referral).select_related("referral").first()
    why = _unwanted(message, referral, contact, now)
    if why:
        mine.update(
            status=PatientMessage.Status.CANCELLED,
            status_reason=why,
            attempts=F("attempts") - 1,
        )
        return "cancelled"
    assert contact is not None
    later = _later(message, now)
    if later is not None:
        if message.kind == PatientMessage.Kind.REMINDER and _session_started(message, later):
            mine.update(status=PatientMessage.Status.CANCELLED, status_reason="too_late")
            return "cancelled"
        mine.update(next_attempt_at=later, attempts=F("attempts") - 1)
        return "later"
    channel = contact.channel
    outgoing = _outgoing(message, contact, channel, now)
    try:
        sent = transport_for(channel).send(outgoing)
    except SendFailed as failure:
        attempts = message.attempts + 1
        if failure.transient and attempts < settings.TISSER_MESSAGES_MAX_ATTEMPTS:
            mine.update(next_attempt_at=now + backoff(attempts), status_reason=failure.code)
            return "later"
        with transaction.atomic():
            mine.update(
                status=PatientMessage.Status.FAILED, status_reason=failure.code, channel=channel
            )
            _event(referral, "referral.message_failed", message, channel, reason=failure.code)
        logger.warning("message %s failed: %s", message.id, failure.code)
        return "failed"
    with transaction.atomic():
        mine.update(
            status=PatientMessage.Status.SENT,
            status_reason="",
            channel=channel,
            sent_at=now,
            provider_ref=sent.provider_ref,
        )
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
    if not contact.channel:
        return "no_address"
    if not page_open(contact, now):
        return "page_closed"
    placements = Placement.objects.filter(referral=referral)
    if message.kind == PatientMessage.Kind.REMINDER:
        placement = message.placement
        if placement is None or placement.status not in OPEN_STATUSES:
            return "not_open"
        if placement.chosen_session is None or message.key != reminder_key(placement):
            return "replaced"
        if placement.chosen_session <= now:
            return "too_late"
    if message.kind == PatientMessage.Kind.DID_YOU_GO:
        if not placements.exists():
            return "nothing_offered"
        if placements.exclude(patient_report="").exists() or contact.other_wanted_at:
            return "answered"
    if message.kind == PatientMessage.Kind.PAGE_LINK and not placements.exists():
        return "nothing_offered"
    return ""


def _session_started(message: PatientMessage, moment: datetime) -> bool:
    session = message.placement.chosen_session if message.placement else None
    return session is None or session <= moment


def _later(message: PatientMessage, now: datetime) -> datetime | None:
    """When a message due now may go instead: after the quiet hours, and not on a day
    the person already had one (the next morning)."""
    quiet = quiet_until(now)
    if quiet is not None:
        return quiet
    today = local_day(now)
    already = PatientMessage.objects.filter(
        referral_id=message.referral_id,
        status=PatientMessage.Status.SENT,
        sent_at__gte=at_local(today, MORNING.replace(hour=0)),
    ).exclude(id=message.id)
    if already.exists():
        next_morning = at_local(today + timedelta(days=1), MORNING)
        return quiet_until(next_morning) or next_morning
    return None


def _outgoing(message: PatientMessage, contact: Contact, channel: str, now: datetime) -> Outgoing:
    referral = contact.referral
    subject, text = message_text(message, contact, channel)
    return Outgoing(
        to=contact.email if channel == "email" else contact.phone,
        subject=subject,
        text=text,
        language=referral.preferred_language,
        stop_url=stop_url(contact),
        message_id=str(message.id),
    )
