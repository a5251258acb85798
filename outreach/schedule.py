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
from django.db.models import Q, QuerySet
from django.utils import timezone

from events.models import Event
from outreach.models import PatientMessage
from referrals.models import Contact, Placement

# A placement the person may still go to (`referrals.lifecycle.OPEN`).
OPEN_STATUSES = ("requested", "accepted", "in-progress", "on-hold")
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
    go?" for a person who agreed to messages; a slip printed again after they asked for
    something else sends the link once more (their page has new activities)."""
    ready = [e for e in events if e.type == "referral.slip_ready"]
    if ready:
        first_schedule([e.aggregate_id for e in ready], now=max(e.created_at for e in ready))


def _wanting(referral_ids: list[uuid.UUID]) -> QuerySet[Contact]:
    return (
        Contact.objects.filter(
            referral_id__in=referral_ids,
            messages_consent=True,
            stopped_at__isnull=True,
            referral__do_not_contact=False,
            referral__purged_at__isnull=True,
        )
        .filter(Q(email__gt="") | Q(phone__gt=""))
        .filter(referral__placements__status__in=OPEN_STATUSES)
        .distinct()
    )


def first_schedule(referral_ids: list[uuid.UUID], *, now: datetime) -> None:
    contacts = list(_wanting(referral_ids).values_list("referral_id", "other_wanted_at"))
    if not contacts:
        return
    linked = set(
        PatientMessage.objects.filter(
            referral_id__in=[c[0] for c in contacts],
            kind=PatientMessage.Kind.PAGE_LINK,
            key="",
            status=PatientMessage.Status.SENT,
        ).values_list("referral_id", flat=True)
    )
    link_at = at_local(local_day(now) + timedelta(days=1), MORNING)
    asked_at = at_local(local_day(now) + timedelta(days=DID_YOU_GO_DAYS), MORNING)
    rows = []
    for referral_id, other_wanted_at in contacts:
        rows += [
            _message(referral_id, PatientMessage.Kind.PAGE_LINK, link_at),
            _message(referral_id, PatientMessage.Kind.DID_YOU_GO, asked_at),
        ]
        if other_wanted_at is not None and other_wanted_at <= now and referral_id in linked:
            # New activities after "something else": their link, once (unless the first
            # link has not gone yet: it will show them).
            rows.append(_message(referral_id, PatientMessage.Kind.PAGE_LINK, link_at, "again"))
    # The same slip printed again schedules nothing more.
    PatientMessage.objects.bulk_create(rows, ignore_conflicts=True)


def _message(referral_id: uuid.UUID, kind: str, due: datetime, key: str = "") -> PatientMessage:
    return PatientMessage(
        referral_id=referral_id, kind=kind, key=key, due_at=due, next_attempt_at=due
    )


def reminder_due(session: datetime, now: datetime) -> datetime:
    """The evening before the session, or now if that evening has passed."""
    return max(now, at_local(local_day(session) - timedelta(days=1), EVENING))


def reminder_key(placement: Placement, session: datetime) -> str:
    """A reminder's key: the activity and the session (UTC): a reminder for another
    session is another message (with its own Message-ID), the record of one sent kept."""
    return f"{placement.id}/{session.astimezone(UTC):%Y%m%dT%H%MZ}"


def reminder_schedule(placement: Placement, *, now: datetime) -> None:
    """The person chose a session, or took their choice back: the reminder of any other
    session of this activity not sent yet is cancelled, this session's is scheduled for
    the evening before it (a cancelled one brought back; one already sent stays sent),
    and "did you go?" follows the sessions chosen. In the caller's transaction."""
    session = placement.chosen_session
    key = reminder_key(placement, session) if session is not None else ""
    PatientMessage.objects.filter(
        referral_id=placement.referral_id,
        kind=PatientMessage.Kind.REMINDER,
        placement=placement,
        status=PatientMessage.Status.SCHEDULED,
    ).exclude(key=key).update(status=PatientMessage.Status.CANCELLED, status_reason="replaced")
    if session is not None:
        due = reminder_due(session, now)
        found = PatientMessage.objects.filter(
            referral_id=placement.referral_id, kind=PatientMessage.Kind.REMINDER, key=key
        )
        if not found.exists():
            PatientMessage.objects.create(
                referral_id=placement.referral_id,
                kind=PatientMessage.Kind.REMINDER,
                key=key,
                placement=placement,
                session_at=session,
                due_at=due,
                next_attempt_at=due,
            )
        else:
            found.filter(status=PatientMessage.Status.CANCELLED).update(
                status=PatientMessage.Status.SCHEDULED,
                status_reason="",
                due_at=due,
                next_attempt_at=due,
                attempts=0,
            )
    did_you_go_follow(placement.referral_id)


def did_you_go_follow(referral_id: uuid.UUID) -> None:
    """ "Did you go?" goes a week after the slip, or the morning after the last session
    the person chose if that is later: moved back as well as forth as choices change."""
    asked = PatientMessage.objects.filter(
        referral_id=referral_id,
        kind=PatientMessage.Kind.DID_YOU_GO,
        status=PatientMessage.Status.SCHEDULED,
    ).first()
    if asked is None:
        return
    due = at_local(local_day(asked.created_at) + timedelta(days=DID_YOU_GO_DAYS), MORNING)
    last = (
        Placement.objects.filter(
            referral_id=referral_id, status__in=OPEN_STATUSES, patient_report=""
        )
        .exclude(chosen_session=None)
        .order_by("-chosen_session")
        .values_list("chosen_session", flat=True)
        .first()
    )
    if last is not None:
        due = max(due, at_local(local_day(last) + timedelta(days=1), MORNING))
    if due != asked.due_at:
        PatientMessage.objects.filter(
            id=asked.id, status=PatientMessage.Status.SCHEDULED, attempts=0
        ).update(due_at=due, next_attempt_at=due)


def messages_erase(referral_ids: list[uuid.UUID] | None) -> int:
    """Erasure's hook: messages not yet sent to an erased person never will be. (Sent
    ones stay: ids, kinds, channels and times, for the reports; no address, no text.)"""
    scheduled = PatientMessage.objects.filter(status=PatientMessage.Status.SCHEDULED)
    scheduled = (
        scheduled.filter(referral_id__in=referral_ids)
        if referral_ids is not None
        else scheduled.filter(referral__purged_at__isnull=False)
    )
    cancelled = scheduled.update(status=PatientMessage.Status.CANCELLED, status_reason="erased")
    # The day a reminder was for is the person's: it goes with them (from its key too).
    chosen = PatientMessage.objects.filter(kind=PatientMessage.Kind.REMINDER).exclude(
        session_at=None
    )
    chosen = (
        chosen.filter(referral_id__in=referral_ids)
        if referral_ids is not None
        else chosen.filter(referral__purged_at__isnull=False)
    )
    forgotten = 0
    for message_id in chosen.values_list("id", flat=True):
        forgotten += PatientMessage.objects.filter(id=message_id).update(
            session_at=None, key=str(message_id)
        )
    return cancelled + forgotten
