"""What the person does on their own page, and the centre's withdrawal of the consent to
messages. Every change takes the referral's lock first (as `referrals.lifecycle` does)
and writes its event in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import HealthCenter
from community_catalog.schedules import service_at_location_sessions
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from outreach.models import PatientMessage
from outreach.schedule import reminder_schedule
from referrals.lifecycle import (
    CENTER_ACTIONS,
    OPEN,
    placement_event,
    placement_locked,
    placement_move,
    referral_event,
)
from referrals.models import Contact, PatientReport, Placement, Referral
from referrals.retention import contact_erase

# Sessions the person may choose from, on their page.
SESSIONS_OFFERED = 4


def page_url(contact: Contact) -> str:
    return f"{settings.TISSER_PUBLIC_URL}{reverse('personal-page', args=[contact.page_token])}"


def stop_url(contact: Contact) -> str:
    return f"{settings.TISSER_PUBLIC_URL}{reverse('personal-page-stop', args=[contact.page_token])}"


def answer_url(contact: Contact, placement: Placement, answer: str) -> str:
    """The page, with this answer ready to confirm in one tap (a link in a message never
    answers by itself: mail scanners and link previews open links)."""
    return f"{page_url(contact)}?answer={answer}&activity={placement.id}#answer"


def page_open(contact: Contact, now: datetime | None = None) -> bool:
    return contact.page_is_open(now)


# Activities the person may still say "I went" about: on offer, or ended by the
# organisation with an outcome.
SHOWN = (*OPEN, Placement.Status.COMPLETED, Placement.Status.FAILED)


class Unavailable(Exception):
    """The page is open, but that activity is no longer on offer (or never was on it)."""


def page_placements(referral: Referral) -> list[Placement]:
    """What the person's page lists: the activities on offer, then those that ended
    with an outcome."""
    return list(
        Placement.objects.filter(referral=referral, status__in=SHOWN)
        .select_related(
            "match__service_at_location__service__organization",
            "match__service_at_location__location",
        )
        .prefetch_related(
            "match__service_at_location__schedules",
            "match__service_at_location__service__schedules",
        )
        .order_by("match__rank")
    )


def sessions_offered(placement: Placement, now: datetime) -> list[datetime]:
    sal = placement.match.service_at_location
    return [
        s.starts_at for s in service_at_location_sessions(sal, after=now, count=SESSIONS_OFFERED)
    ]


def _locked(
    token: str, placement_id: uuid.UUID | None = None, statuses: tuple[str, ...] = OPEN
) -> tuple[Contact, Placement | None]:
    """The contact (its referral locked, then re-read) and one of its placements in
    `statuses`; NotFound for a page that is closed, Unavailable for an activity that is
    not (or no longer) on it."""
    found = Contact.objects.filter(page_token=token).values_list("referral_id", flat=True)
    referral_id = found.first()
    if referral_id is None:
        raise NotFound("No such page.")
    if placement_id is None:
        Referral.objects.select_for_update().filter(id=referral_id).first()
        placement = None
    else:
        try:
            _referral, placement = placement_locked(
                Q(id=placement_id, referral_id=referral_id, status__in=statuses)
            )
        except (NotFound, ObjectDoesNotExist):  # or it moved while we waited for the lock
            placement = None
    contact = Contact.objects.select_related("referral").filter(referral_id=referral_id).first()
    if contact is None or not page_open(contact):  # erased while we waited
        raise NotFound("No such page.")
    if placement_id is not None and placement is None:
        raise Unavailable(placement_id)
    return contact, placement


def person_choose(token: str, placement_id: uuid.UUID, session: datetime | None) -> Placement:
    """The person will come to `session` (one of the next ones offered), or takes their
    choice back (None). The organisation sees the date in its inbox."""
    now = timezone.now()
    with transaction.atomic():
        contact, placement = _locked(token, placement_id)
        assert placement is not None
        if session is not None and session not in sessions_offered(placement, now):
            raise InvalidInput(
                "Choose one of the sessions shown.",
                fields=[FieldProblem("session", "not one of the next sessions")],
            )
        placement.chosen_session = session
        placement.save(update_fields=["chosen_session"])
        placement_event(
            placement,
            contact.referral,
            "placement.patient_chose",
            {"chosen_session": session.isoformat() if session else None},
        )
        reminder_schedule(placement, now=now)
    return placement


def person_report(token: str, placement_id: uuid.UUID, answer: str) -> Placement:
    """ "I went" or "it wasn't for me": patient-reported, beside the organisation's own
    answer (which it does not change)."""
    if answer not in PatientReport.values:
        raise InvalidInput(
            "Unknown answer.",
            fields=[FieldProblem("answer", f"one of: {', '.join(PatientReport.values)}")],
        )
    now = timezone.now()
    with transaction.atomic():
        contact, placement = _locked(token, placement_id, SHOWN)
        assert placement is not None
        placement.patient_report = answer
        placement.patient_report_at = now
        changed = ["patient_report", "patient_report_at"]
        if answer == PatientReport.NOT_FOR_ME and placement.chosen_session is not None:
            # Not coming: no day chosen any more, and no reminder.
            placement.chosen_session = None
            changed.append("chosen_session")
        placement.save(update_fields=changed)
        placement_event(
            placement, contact.referral, "placement.patient_reported", {"patient_report": answer}
        )
        reminder_schedule(placement, now=now)
    return placement


def person_wants_other(token: str) -> int:
    """ "I'd like something else": the offers no organisation has answered yet are
    withdrawn (`patient-asked-other`), the centre is told (`referral.other_wanted`), and
    re-matching offers something new if there is. Returns how many offers were withdrawn."""
    now = timezone.now()
    with transaction.atomic():
        contact, _ = _locked(token)
        referral = contact.referral
        if not other_may_ask(contact):
            return 0
        contact.other_wanted_at = now
        contact.save(update_fields=["other_wanted_at"])
        waiting = (
            Placement.objects.select_for_update(of=("self",))
            .select_related("match__service_at_location")
            .filter(referral=referral, status=Placement.Status.REQUESTED)
        )
        cancelled = 0
        for placement in waiting:
            placement_move(
                referral,
                placement,
                Placement.Status.CANCELLED,
                actions=CENTER_ACTIONS,
                reason=Placement.Reason.PATIENT_ASKED_OTHER,
                now=now,
            )
            cancelled += 1
        referral_event(referral, "referral.other_wanted", {"cancelled": cancelled})
    return cancelled


def other_may_ask(contact: Contact) -> bool:
    """ "Something else" may be asked once, and again once new activities were offered
    after it."""
    if contact.other_wanted_at is None:
        return True
    return Placement.objects.filter(
        referral_id=contact.referral_id,
        status=Placement.Status.REQUESTED,
        requested_at__gt=contact.other_wanted_at,
    ).exists()


def messages_stop(contact: Contact, *, by: str) -> bool:
    """No more messages, at once (the person's stop link): their e-mail address and
    phone number are erased, as nothing will be sent to them again; their page stays.
    Returns whether anything changed (stopping twice changes nothing)."""
    with transaction.atomic():
        referral = Referral.objects.select_for_update().get(id=contact.referral_id)
        fresh = Contact.objects.filter(referral=referral).first()
        if fresh is None or fresh.stopped_at is not None:
            return False
        contact_erase(referral, close_page=False, now=timezone.now())
        _unsent_cancel(referral, "stopped")
        referral_event(referral, "referral.messages_stopped", {"by": by})
    return True


def contact_withdraw(*, health_center: HealthCenter, referral_id: uuid.UUID) -> Referral:
    """The centre says the person withdrew their consent to messages: no more messages,
    the personal page closed, and their e-mail address and phone number erased. The
    referral itself goes on."""
    with transaction.atomic():
        referral = (
            Referral.objects.select_for_update()
            .filter(id=referral_id, health_center=health_center)
            .first()
        )
        if referral is None:
            raise NotFound("No referral with this id.")
        contact = Contact.objects.filter(referral=referral).first()
        if contact is None or not contact.messages_consent:
            raise Conflict("The person gave no consent to messages.", code="no_messages_consent")
        contact_erase(referral, close_page=True, now=timezone.now())
        _unsent_cancel(referral, "no_consent")
        referral_event(referral, "referral.messages_stopped", {"by": "health_center"})
    return referral


def _unsent_cancel(referral: Referral, reason: str) -> None:
    PatientMessage.objects.filter(referral=referral, status=PatientMessage.Status.SCHEDULED).update(
        status=PatientMessage.Status.CANCELLED, status_reason=reason
    )
