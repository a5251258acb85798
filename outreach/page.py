"""The person's own page, `/p/<token>`: the activities offered to them, their next
sessions and how to get there, in their language; they say which session they will come
to, whether they went, that an activity was not for them, or that they would like
something else; and they can stop the messages.

Never anything clinical: no needs, no notes, no reason, no health centre. The token is
the only key (256 random bits): an unknown, revoked or expired one gets the same answer.
Forms post without a CSRF cookie: a page on another site cannot know the token, which is
in every URL it would have to post to. Every answer is `no-store`, `noindex` and sends no
referrer."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from community_catalog.presentation import activity_contact, session_start
from community_catalog.public import page_language
from core.errors import InvalidInput, NotFound
from core.languages import (
    PATIENT_LANGUAGES,
    gettext_language,
    text_direction,
    without_bidi_controls,
)
from outreach.services import (
    Unavailable,
    messages_stop,
    other_may_ask,
    page_open,
    page_placements,
    person_choose,
    person_report,
    person_wants_other,
    sessions_offered,
)
from referrals.lifecycle import ENGAGED, OPEN
from referrals.models import Contact, PatientReport, Placement

DONE = (
    "chosen",
    "unchosen",
    "went",
    "not-for-me",
    "other",
    "stopped",
    "unavailable",
    "not-saved",
)


def _private(response: HttpResponse, language: str) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Language"] = language
    return response


# What a token looks like (`secrets.token_urlsafe(32)`): anything else is no page, and
# never reaches the database (a NUL byte there is PostgreSQL's error).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def token_ok(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


def _contact(token: str) -> Contact | None:
    if not token_ok(token):
        return None
    contact = Contact.objects.filter(page_token=token).select_related("referral").first()
    return contact if contact is not None and page_open(contact) else None


def _language(request: HttpRequest, contact: Contact | None) -> str:
    asked = request.GET.get("lang", "")
    if asked in PATIENT_LANGUAGES:
        return asked
    if contact is not None and contact.referral.preferred_language in PATIENT_LANGUAGES:
        return contact.referral.preferred_language
    return page_language(request)


def _gone(request: HttpRequest, language: str) -> HttpResponse:
    with translation.override(gettext_language(language)):
        context = {"language": language, "direction": text_direction(language)}
        response = render(request, "outreach/gone.html", context, status=404)
    return _private(response, language)


@require_safe
def personal_page(request: HttpRequest, token: str) -> HttpResponse:
    contact = _contact(token)
    language = _language(request, contact)
    if contact is None:
        return _gone(request, language)
    now = timezone.now()
    with translation.override(gettext_language(language)):
        shown = page_placements(contact.referral)
        activities = [_activity(p, language, now) for p in shown if p.status in OPEN]
        ended = [_activity(p, language, now) for p in shown if p.status not in OPEN]
        answer = request.GET.get("answer", "")
        asked = request.GET.get("activity", "")
        context: dict[str, Any] = {
            "language": language,
            "direction": text_direction(language),
            "token": contact.page_token,
            "first_name": without_bidi_controls(contact.referral.first_name),
            "activities": activities,
            "ended": ended,
            # An organisation already takes the person: asking for something else tells
            # the centre, but offers nothing new by itself.
            "expected": any(p.status in ENGAGED for p in shown),
            "other_may_ask": other_may_ask(contact),
            "done": request.GET.get("done", "") if request.GET.get("done") in DONE else "",
            "answer": answer if answer in PatientReport.values else "",
            "answer_activity": next(
                (a for a in [*activities, *ended] if str(a["id"]) == asked), None
            ),
            "messages_on": contact.stopped_at is None and contact.channel != "",
            "other_wanted": contact.other_wanted_at is not None,
            "lang_query": _lang_query(request),
        }
        response = render(request, "outreach/page.html", context)
    return _private(response, language)


def _activity(placement: Placement, language: str, now: datetime) -> dict[str, Any]:
    sal = placement.match.service_at_location
    service, location = sal.service, sal.location
    address = location.physical_address
    shown = not location.is_confidential
    contact_name, phone = activity_contact(sal)
    starts = sessions_offered(placement, now)
    chosen = placement.chosen_session
    return {
        "id": placement.id,
        "name": without_bidi_controls(service.text("name", language)),
        "organization": without_bidi_controls(service.organization.name),
        "place": without_bidi_controls(location.name) if shown else "",
        "address": without_bidi_controls(address.one_line()) if shown and address else "",
        "transportation": without_bidi_controls(location.transportation) if shown else "",
        "confidential": not shown,
        "sessions": [
            {
                "value": start.isoformat(),
                "text": session_start(start, language),
                "chosen": start == chosen,
            }
            for start in (starts if placement.status in OPEN else [])
        ],
        "chosen": session_start(chosen, language, in_sentence=True) if chosen else "",
        "accepted": placement.status != Placement.Status.REQUESTED,
        "report": placement.patient_report,
        "contact_name": without_bidi_controls(contact_name),
        "phone": phone,
        "phone_link": phone.replace(" ", ""),
        "details_url": reverse("public-activity", args=[sal.id])
        + (f"?lang={language}" if language != "fr" else ""),
    }


def _back(token: str, done: str, request: HttpRequest) -> HttpResponse:
    url = reverse("personal-page", args=[token]) + f"?done={done}"
    if request.GET.get("lang") in PATIENT_LANGUAGES:
        url += f"&lang={request.GET['lang']}"
    return HttpResponseRedirect(url, status=303)


def _placement_id(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("activity", ""))
    except ValueError:
        return None


@csrf_exempt
@require_POST
def choose_view(request: HttpRequest, token: str) -> HttpResponse:
    if not token_ok(token):
        return _gone(request, _language(request, None))
    placement_id = _placement_id(request)
    raw = request.POST.get("session", "")
    try:
        chosen = parse_datetime(raw[:64]) if raw else None
    except ValueError:  # well formed, but no such day or offset: 30 February
        chosen = None
    if placement_id is None or (raw and (chosen is None or chosen.tzinfo is None)):
        return _back(token, "not-saved", request)
    try:
        person_choose(token, placement_id, chosen)
    except NotFound:
        return _gone(request, _language(request, _contact_any(token)))
    except Unavailable:
        return _back(token, "unavailable", request)
    except InvalidInput:  # no longer among the next sessions (the page was old)
        return _back(token, "not-saved", request)
    return _back(token, "chosen" if chosen else "unchosen", request)


@csrf_exempt
@require_POST
def answer_view(request: HttpRequest, token: str) -> HttpResponse:
    if not token_ok(token):
        return _gone(request, _language(request, None))
    placement_id = _placement_id(request)
    answer = request.POST.get("answer", "")
    if placement_id is None or answer not in PatientReport.values:
        return _back(token, "not-saved", request)
    try:
        person_report(token, placement_id, answer)
    except NotFound:
        return _gone(request, _language(request, _contact_any(token)))
    except Unavailable:
        return _back(token, "unavailable", request)
    return _back(token, answer, request)


@csrf_exempt
@require_POST
def other_view(request: HttpRequest, token: str) -> HttpResponse:
    if not token_ok(token):
        return _gone(request, _language(request, None))
    try:
        person_wants_other(token)
    except NotFound:
        return _gone(request, _language(request, _contact_any(token)))
    return _back(token, "other", request)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def stop_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (a link opened by a mail scanner stops nothing); POST stops at
    once: the page's button, or a mail client's one-click unsubscribe (RFC 8058)."""
    contact = _contact(token)
    language = _language(request, contact)
    if contact is None:
        return _gone(request, language)
    if request.method == "POST":
        messages_stop(contact, by="person")
        return _back(token, "stopped", request)
    with translation.override(gettext_language(language)):
        context = {
            "language": language,
            "direction": text_direction(language),
            "token": token,
            "stopped": contact.stopped_at is not None,
            "lang_query": _lang_query(request),
        }
        response = render(request, "outreach/stop.html", context)
    return _private(response, language)


def _contact_any(token: str) -> Contact | None:
    """The person a token names, open page or not: only to answer in their language."""
    if not token_ok(token):
        return None
    return Contact.objects.filter(page_token=token).select_related("referral").first()


def _lang_query(request: HttpRequest) -> str:
    lang = request.GET.get("lang", "")
    return f"?lang={lang}" if lang in PATIENT_LANGUAGES else ""
