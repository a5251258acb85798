"""When each message to the person is due.

- The link to their page: the morning after the slip was first ready.
- "Did you go?": a week after the slip, or the morning after the session they chose if
  that is later.
- A reminder: the evening before the session they chose (at once if that evening has
  passed); a new choice moves it.

Rows are written in the transaction that records the event that calls for them (an
`events_recorded` hook for `referral.slip_ready`; the personal page's own transaction
for a choice), so nothing is scheduled for a change that did not happen. Whether a
message is still wanted (consent, `do_not_contact`, an answer already given) is decided
again when it is due (`outreach.sending`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from events.models import Event
from outreach.models import PatientMessage
from referrals.models import Contact, Placement

MORNING = time(10, 0)
EVENING = time(18, 0)
DID_YOU_GO_DAYS = 7


def at_local(day: date, moment: time) -> datetime:
    """`moment` on `day`, in the territory's time zone (TIME_ZONE)."""
    return timezone.make_aware(datetime.combine(day, moment))


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def quiet_until(moment: datetime) -> datetime | None:
    """When the quiet hours that `moment` falls in end, or None outside them."""
    start, end = settings.TISSER_MESSAGES_QUIET
    local = timezone.localtime(moment)
    now = local.time()
    today = local.date()
    if start == end:
        return None
    if start > end:  # across midnight: 20:00-09:00
        if now >= start:
            return at_local(today + timedelta(days=1), end)
        if now < end:
            return at_local(today, end)
        return None
    if start <= now < end:
        return at_local(today, end)
    return None


def events_schedule(events: list[Event]) -> None:
    """The hook: a slip ready for the first time schedules the page link and "did you
    go?" for a person who agreed to messages."""
    referral_ids = [e.aggregate_id for e in events if e.type == "referral.slip_ready"]
    if referral_ids:
        now = max(e.created_at for e in events if e.type == "referral.slip_ready")
        first_schedule(referral_ids, now=now)


def first_schedule(referral_ids: list[uuid.UUID], *, now: datetime) -> int:
    wanting = list(
        Contact.objects.filter(
            referral_id__in=referral_ids,
            messages_consent=True,
            stopped_at__isnull=True,
            referral__do_not_contact=False,
            referral__purged_at__isnull=True,
        )
        .filter(Q(email__gt="") | Q(phone__gt=""))
        .filter(referral__placements__isnull=False)
        .values_list("referral_id", flat=True)
        .distinct()
    )
    if not wanting:
        return 0
    tomorrow = local_day(now) + timedelta(days=1)
    link_at = at_local(tomorrow, MORNING)
    asked_at = at_local(local_day(now) + timedelta(days=DID_YOU_GO_DAYS), MORNING)
    rows = [
        PatientMessage(referral_id=referral_id, kind=kind, key="", due_at=due, next_attempt_at=due)
        for referral_id in wanting
        for kind, due in (
            (PatientMessage.Kind.PAGE_LINK, link_at),
            (PatientMessage.Kind.DID_YOU_GO, asked_at),
        )
    ]
    # The same slip printed again (a re-match) schedules nothing more.
    return len(PatientMessage.objects.bulk_create(rows, ignore_conflicts=True))


def reminder_key(placement: Placement) -> str:
    """A reminder's key: the placement and the session chosen (in UTC, as stored)."""
    session = placement.chosen_session
    assert session is not None
    return f"{placement.id}/{session.astimezone(UTC):%Y%m%dT%H%MZ}"


def reminder_schedule(placement: Placement, *, now: datetime) -> None:
    """The person chose a session (or took their choice back): remind them the evening
    before (or now, if that evening has passed), and ask "did you go?" no earlier than
    the morning after it. A reminder of an earlier choice not sent yet is cancelled. In
    the caller's transaction."""
    session = placement.chosen_session
    key = reminder_key(placement) if session is not None else ""
    PatientMessage.objects.filter(
        referral_id=placement.referral_id,
        kind=PatientMessage.Kind.REMINDER,
        placement=placement,
        status=PatientMessage.Status.SCHEDULED,
    ).exclude(key=key).update(status=PatientMessage.Status.CANCELLED, status_reason="replaced")
    if session is None:
        return
    due = max(now, at_local(local_day(session) - timedelta(days=1), EVENING))
    PatientMessage.objects.bulk_create(
        [
            PatientMessage(
                referral_id=placement.referral_id,
                kind=PatientMessage.Kind.REMINDER,
                key=key,
                placement=placement,
                due_at=due,
                next_attempt_at=due,
            )
        ],
        ignore_conflicts=True,
    )
    after = at_local(local_day(session) + timedelta(days=1), MORNING)
    PatientMessage.objects.filter(
        referral_id=placement.referral_id,
        kind=PatientMessage.Kind.DID_YOU_GO,
        status=PatientMessage.Status.SCHEDULED,
        due_at__lt=after,
    ).update(due_at=after, next_attempt_at=after)


def messages_erase(referral_ids: list[uuid.UUID] | None) -> int:
    """Erasure's hook: messages not yet sent to an erased person never will be. (Sent
    ones stay: ids, kinds, channels and times, for the reports; no address, no text.)"""
    scheduled = PatientMessage.objects.filter(status=PatientMessage.Status.SCHEDULED)
    scheduled = (
        scheduled.filter(referral_id__in=referral_ids)
        if referral_ids is not None
        else scheduled.filter(referral__purged_at__isnull=False)
    )
    return scheduled.update(status=PatientMessage.Status.CANCELLED, status_reason="erased")
