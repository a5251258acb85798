"""The words of each message, in the person's language (frame text through gettext; the
activity's name and place in the organisation's words). Never a need, a note, a reason or
the health centre's name: a message may be read by someone else over the person's
shoulder, or on a shared phone."""

from __future__ import annotations

from datetime import datetime

from django.utils import translation
from django.utils.translation import gettext as _

from community_catalog.presentation import session_start
from core.languages import PATIENT_LANGUAGES, gettext_language, without_bidi_controls
from outreach.models import PatientMessage
from outreach.schedule import local_day
from outreach.services import answer_url, page_url, stop_url
from referrals.lifecycle import OPEN
from referrals.models import Contact, Placement


def person_language(contact: Contact) -> str:
    language = contact.referral.preferred_language
    return language if language in PATIENT_LANGUAGES else "fr"


def asked_placement(message: PatientMessage) -> Placement | None:
    """The activity a message is about: a reminder's; for "did you go?", the one whose
    session the person chose last, else the only one offered, else none (the question
    is asked of them all)."""
    if message.kind == PatientMessage.Kind.REMINDER:
        return message.placement
    if message.kind != PatientMessage.Kind.DID_YOU_GO:
        return None
    offered = Placement.objects.filter(referral_id=message.referral_id, status__in=OPEN)
    chosen = offered.exclude(chosen_session=None).order_by("-chosen_session").first()
    if chosen is not None:
        return chosen
    only = list(offered[:2])
    return only[0] if len(only) == 1 else None


def _about(placement: Placement | None, language: str) -> tuple[str, str, str]:
    """The activity's name, its chosen session in words, and its place (the place's
    name and address; nothing for a confidential place)."""
    if placement is None:
        return "", "", ""
    sal = placement.match.service_at_location
    name = without_bidi_controls(sal.service.text("name", language))
    start = placement.chosen_session
    when = session_start(start, language, in_sentence=True) if start is not None else ""
    location = sal.location
    place = ""
    if not location.is_confidential:
        address = location.physical_address
        parts = [location.name, address.one_line() if address is not None else ""]
        place = without_bidi_controls(", ".join(p for p in parts if p))
    return name, when, place


def message_text(
    message: PatientMessage, contact: Contact, channel: str, now: datetime
) -> tuple[str, str]:
    """(subject, text): the subject is for e-mail. An SMS is short: no subject, one link
    (their page, which also stops the messages), lines apart."""
    language = person_language(contact)
    name = without_bidi_controls(contact.referral.first_name)
    page = page_url(contact)
    placement = asked_placement(message)
    sms = channel == "sms"
    with translation.override(gettext_language(language)):
        activity, when, place = _about(placement, language)
        hello = _("Hello %(name)s,") % {"name": name}
        if message.kind == PatientMessage.Kind.PAGE_LINK:
            subject = _("Your activities")
            lines = (
                [
                    hello,
                    _("Your activities, their dates and how to get there: %(url)s") % {"url": page},
                ]
                if sms
                else [
                    hello,
                    _(
                        "Here is your page with the activities suggested to you: when "
                        "they take place and how to get there. You can say there which "
                        "day you will come."
                    ),
                    page,
                    _("This page is for you alone: do not share its link."),
                ]
            )
        elif message.kind == PatientMessage.Kind.REMINDER:
            subject = _reminder_subject(message, now)
            said = _("Reminder: %(activity)s, %(when)s.") % {"activity": activity, "when": when}
            lines = [hello, said]
            if place:
                lines.append(place)
            lines.append(_("Your page: %(url)s") % {"url": page})
        else:
            subject = _("Did you go?")
            asked = (
                _("Did you go to %(activity)s?") % {"activity": activity}
                if activity
                else _("Did you go to one of your activities?")
            )
            lines = [hello, asked]
            if sms:
                lines.append(_("Answer here: %(url)s") % {"url": page})
            else:
                if placement is not None:
                    went = answer_url(contact, placement, "went")
                    not_for_me = answer_url(contact, placement, "not-for-me")
                    lines += [
                        _("I went: %(url)s") % {"url": went},
                        _("It was not for me: %(url)s") % {"url": not_for_me},
                    ]
                lines.append(_("I would like something else: %(url)s") % {"url": page})
        stop = (
            _("To stop these messages, use your page.")
            if sms
            else _("Stop these messages: %(url)s") % {"url": stop_url(contact)}
        )
    return subject, ("\n" if sms else "\n\n").join([*lines, stop]) + ("" if sms else "\n")


def _reminder_subject(message: PatientMessage, now: datetime) -> str:
    """Said on the day it is sent: "See you today" on the session's day, "See you
    tomorrow" the day before, "Reminder" earlier."""
    session = message.session_at
    if session is None:
        return _("Reminder")
    days = (local_day(session) - local_day(now)).days
    if days <= 0:
        return _("See you today")
    return _("See you tomorrow") if days == 1 else _("Reminder")
