"""Telling staff when Tisser needs them (issue 26): organisation members when a referral
arrives and when its answer is due soon; a health centre's members when an offer was
declined or expired with nothing taken up, and when nothing was found. By e-mail
(TISSER_SMTP_URL), at once or in one e-mail a day, as each chose (`Membership.notify`).

Rows are written in the transaction that records the event (an `events_recorded` hook);
the relay hands the due ones to a worker per person, who sends them as one e-mail. An
e-mail names the referral by its code and links to the page: no name, no need, no note.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership
from events.models import Event
from outreach.models import StaffNotice
from outreach.schedule import at_local, local_day
from referrals.lifecycle import ENGAGED
from referrals.models import Placement, Referral

logger = logging.getLogger(__name__)

# The event, what it tells, and whose members are told.
NOTICES: dict[str, tuple[str, str]] = {
    "placement.requested": (StaffNotice.Kind.ARRIVED, "organization"),
    "placement.reminder": (StaffNotice.Kind.ANSWER_DUE, "organization"),
    "placement.rejected": (StaffNotice.Kind.DECLINED, "health_center"),
    "placement.expired": (StaffNotice.Kind.EXPIRED, "health_center"),
    "referral.unmatched": (StaffNotice.Kind.UNMATCHED, "health_center"),
}
DIGEST_AT = time(8, 0)
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5


def digest_due(now: datetime) -> datetime:
    """The next morning's digest (08:00), or this morning's if it is not 08:00 yet."""
    today = at_local(local_day(now), DIGEST_AT)
    return today if now < today else at_local(local_day(now) + timedelta(days=1), DIGEST_AT)


def staff_events_notice(events: list[Event]) -> None:
    """The hook: a notice for each member who wants one, for each event that needs them."""
    wanted = [e for e in events if e.type in NOTICES]
    if not wanted or not settings.TISSER_SMTP_URL:
        return  # without e-mail, nothing to keep
    now = max(e.created_at for e in wanted)
    members = _members(wanted)
    ended = _ended_without_taker(wanted)
    rows = []
    for event in wanted:
        kind, side = NOTICES[event.type]
        if kind in (StaffNotice.Kind.DECLINED, StaffNotice.Kind.EXPIRED) and (
            event.payload.get("referral_id") not in ended
        ):
            continue  # another offer was accepted: nothing for the clinician to do
        party = event.organization_id if side == "organization" else event.health_center_id
        for user_id, notify in members.get((side, party), []):
            due = now if notify == Membership.Notify.IMMEDIATE else digest_due(now)
            rows.append(
                StaffNotice(
                    user_id=user_id,
                    event_id=event.id,
                    kind=kind,
                    referral_id=event.payload.get("referral_id") or event.aggregate_id,
                    placement_id=event.payload.get("placement_id"),
                    party_id=party,
                    referral_code=event.payload.get("referral_code")
                    or event.payload.get("code", ""),
                    path=_path(event, side),
                    respond_by=_respond_by(event),
                    due_at=due,
                    next_attempt_at=due,
                )
            )
    StaffNotice.objects.bulk_create(rows, ignore_conflicts=True)


def _members(events: list[Event]) -> dict[tuple[str, Any], list[tuple[int, str]]]:
    """Who wants to be told, by party: one query for all the events recorded together."""
    organizations = {
        e.organization_id
        for e in events
        if NOTICES[e.type][1] == "organization" and e.organization_id is not None
    }
    centers = {
        e.health_center_id
        for e in events
        if NOTICES[e.type][1] == "health_center" and e.health_center_id is not None
    }
    found: dict[tuple[str, Any], list[tuple[int, str]]] = defaultdict(list)
    if not organizations and not centers:
        return found
    rows = (
        Membership.objects.filter(user__is_active=True, user__email__gt="")
        .exclude(notify=Membership.Notify.NONE)
        .filter(Q(organization_id__in=organizations) | Q(health_center_id__in=centers))
        .values_list("organization_id", "health_center_id", "user_id", "notify")
    )
    for organization_id, health_center_id, user_id, notify in rows:
        if organization_id is not None:
            found[("organization", organization_id)].append((user_id, notify))
        else:
            found[("health_center", health_center_id)].append((user_id, notify))
    return found


def _ended_without_taker(events: list[Event]) -> set[str]:
    """The referrals of declined or expired offers with nothing accepted (or taken up)."""
    ids = {
        e.payload.get("referral_id")
        for e in events
        if e.type in ("placement.rejected", "placement.expired")
    } - {None}
    if not ids:
        return set()
    busy = set(
        Placement.objects.filter(referral_id__in=ids, status__in=ENGAGED)
        .values_list("referral_id", flat=True)
        .distinct()
    )
    return {i for i in ids if uuid.UUID(i) not in busy}


def _path(event: Event, side: str) -> str:
    if side == "organization":
        return f"{reverse('web-inbox')}#placement-{event.payload.get('placement_id', '')}"
    referral_id = event.payload.get("referral_id") or str(event.aggregate_id)
    return reverse("web-referral", args=[referral_id])


def _respond_by(event: Event) -> datetime | None:
    if event.type == "placement.requested":
        return event.created_at + timedelta(days=settings.TISSER_PLACEMENT_EXPIRY_DAYS)
    if event.type == "placement.reminder" and event.payload.get("expires_at"):
        return datetime.fromisoformat(event.payload["expires_at"])
    return None


# --- Sending -------------------------------------------------------------------------


Hand = Callable[[int, datetime], object]


def staff_notices_sweep(hand: Hand, *, now: datetime | None = None) -> int:
    """Hand each person whose notices are due to a worker, with a lease on those rows."""
    now = now or timezone.now()
    due = StaffNotice.objects.filter(status=StaffNotice.Status.PENDING, next_attempt_at__lte=now)
    handed = 0
    for user_id in set(due.values_list("user_id", flat=True)):
        lease = timezone.now() + LEASE
        # The attempt is counted when leased: one that never ends (a worker killed, a
        # time limit) still counts towards MAX_ATTEMPTS.
        if due.filter(user_id=user_id).update(next_attempt_at=lease, attempts=F("attempts") + 1):
            hand(user_id, lease)
            handed += 1
    return handed


def staff_notices_prune(*, now: datetime | None = None) -> int:
    """Forget notices sent (or given up) more than 30 days ago (with the retention
    purge)."""
    before = (now or timezone.now()) - timedelta(days=30)
    done = StaffNotice.objects.exclude(status=StaffNotice.Status.PENDING)
    return done.filter(created_at__lt=before).delete()[0]


def staff_notices_send(user_id: int, lease: datetime) -> str:
    """Send a person the notices leased to this call, as one e-mail. Idempotent: only
    rows still pending under this lease are sent and marked."""
    mine = StaffNotice.objects.filter(
        user_id=user_id, status=StaffNotice.Status.PENDING, next_attempt_at=lease
    )
    notices = list(mine.order_by("created_at"))
    if not notices:
        return "skipped"
    user = User.objects.filter(id=user_id, is_active=True).first()
    membership = Membership.objects.filter(user_id=user_id).first()
    if user is None or membership is None or not user.email or not settings.TISSER_SMTP_URL:
        mine.update(status=StaffNotice.Status.FAILED)
        return "failed"
    if notices[0].attempts > MAX_ATTEMPTS:
        mine.update(status=StaffNotice.Status.FAILED)
        return "failed"
    # Asked again now: the member's choice, their party, and whether it still holds.
    stale = [n.id for n in notices if not _still_true(n, membership)]
    if stale:
        StaffNotice.objects.filter(id__in=stale).update(status=StaffNotice.Status.SKIPPED)
        notices = [n for n in notices if n.id not in stale]
        mine = mine.exclude(id__in=stale)
    if not notices:
        return "skipped"
    subject, text = _email(notices)
    try:
        send_mail(subject, text, None, [user.email], fail_silently=False)
    except OSError as exc:  # SMTP errors are OSErrors too
        logger.warning("staff notice to user %s not sent: %s", user_id, exc)
        attempts = notices[0].attempts
        if attempts >= MAX_ATTEMPTS:
            mine.update(status=StaffNotice.Status.FAILED)
            return "failed"
        mine.update(next_attempt_at=timezone.now() + timedelta(minutes=4**attempts))
        return "later"
    mine.update(status=StaffNotice.Status.SENT, sent_at=timezone.now())
    return "sent"


def _still_true(notice: StaffNotice, membership: Membership) -> bool:
    """Whether the member still wants it, still belongs to the party told, and what it
    says still holds (an offer answered since, a referral cancelled or erased)."""
    if membership.notify == Membership.Notify.NONE:
        return False
    if notice.party_id not in (membership.organization_id, membership.health_center_id):
        return False
    if notice.referral_id is None:
        return False
    referral = Referral.objects.filter(id=notice.referral_id).first()
    if referral is None or referral.status != Referral.Status.ACTIVE or referral.purged_at:
        return False
    if notice.kind in (StaffNotice.Kind.ARRIVED, StaffNotice.Kind.ANSWER_DUE):
        return (
            notice.placement_id is not None
            and Placement.objects.filter(
                id=notice.placement_id, status=Placement.Status.REQUESTED
            ).exists()
        )
    if notice.kind in (StaffNotice.Kind.DECLINED, StaffNotice.Kind.EXPIRED):
        return not Placement.objects.filter(referral=referral, status__in=ENGAGED).exists()
    return referral.stage in (Referral.Stage.UNMATCHED, Referral.Stage.SLIP_READY) and not (
        referral.matches.exists()
    )


def _email(notices: list[StaffNotice]) -> tuple[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            {
                "code": n.referral_code,
                "kind": n.kind,
                "respond_by": timezone.localtime(n.respond_by) if n.respond_by else None,
                "link": f"{settings.TISSER_PUBLIC_URL}{n.path}",
            }
            for n in notices
        ]
        context = {"lines": lines, "count": len(lines)}
        subject = render_to_string("web/staff_notice_subject.txt", context).strip()
        text = render_to_string("web/staff_notice_email.txt", context)
    return subject, text
