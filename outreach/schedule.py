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
from datetime import date, datetime, time, timedelta

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
    link_at = at_local(local_day(now) + timedelta(days=1), MORNING)
    asked_at = at_local(local_day(now) + timedelta(days=DID_YOU_GO_DAYS), MORNING)
    rows = []
    for referral_id, other_wanted_at in contacts:
        rows += [
            _message(referral_id, PatientMessage.Kind.PAGE_LINK, link_at),
            _message(referral_id, PatientMessage.Kind.DID_YOU_GO, asked_at),
        ]
        if other_wanted_at is not None and other_wanted_at <= now:
            # New activities after "something else": their link, once.
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


def reminder_schedule(placement: Placement, *, now: datetime) -> None:
    """The person chose a session, or took their choice back: one reminder row per
    activity, moved to the evening before the session chosen (or cancelled); "did you
    go?" follows the sessions chosen. In the caller's transaction."""
    session = placement.chosen_session
    mine = PatientMessage.objects.filter(
        referral_id=placement.referral_id,
        kind=PatientMessage.Kind.REMINDER,
        key=str(placement.id),
    )
    found = mine.first()
    if session is None:
        mine.filter(status=PatientMessage.Status.SCHEDULED).update(
            status=PatientMessage.Status.CANCELLED, status_reason="replaced"
        )
    elif found is None:
        due = reminder_due(session, now)
        PatientMessage.objects.create(
            referral_id=placement.referral_id,
            kind=PatientMessage.Kind.REMINDER,
            key=str(placement.id),
            placement=placement,
            session_at=session,
            due_at=due,
            next_attempt_at=due,
        )
    elif not (found.status == PatientMessage.Status.SENT and found.session_at == session):
        # Another session (or the same one chosen again): this one gets its reminder.
        due = reminder_due(session, now)
        mine.update(
            status=PatientMessage.Status.SCHEDULED,
            status_reason="",
            session_at=session,
            due_at=due,
            next_attempt_at=due,
            attempts=0,
            sent_at=None,
            channel="",
            provider_ref="",
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
    return scheduled.update(status=PatientMessage.Status.CANCELLED, status_reason="erased")
