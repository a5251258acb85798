"""Public activity pages: what the QR code on a slip opens (`/a/<service_at_location>`).

No sign-in and no patient data: the address holds only the activity's id, and the page
says only what the organisation publishes in the catalogue. A confidential place (a
shelter, someone's home) keeps its address and position off the page, as off the slip.

The page is rendered once per activity, language and catalogue version and kept for a
few minutes: every change to a service, its places, sessions or capacity writes a
`service` event, which moves the version, so an edit shows on the next visit. The time
limit bounds what no event announces: the passing of a session, an admin edit.
"""

from __future__ import annotations

import uuid
from typing import Any

from babel import Locale
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.http import require_safe

from community_catalog.models import Service, ServiceAtLocation
from community_catalog.presentation import activity_contact, activity_cost, long_date, session
from community_catalog.schedules import service_at_location_sessions
from community_catalog.service_codes import service_codes
from core.languages import (
    PATIENT_LANGUAGES,
    gettext_language,
    text_direction,
    without_bidi_controls,
)
from events.models import Event

PAGE_SECONDS = 300
SESSIONS_SHOWN = 5
ALTERNATIVES_SHOWN = 5
SHOWN_STATUSES = (Service.Status.ACTIVE, Service.Status.TEMPORARILY_CLOSED)
_PARTS = (
    "schedules",
    "service__schedules",
    "service__cost_options",
    "service__languages",
    "location__addresses",
    "location__accessibility",
    "contacts__phones",
    "phones",
    "service__contacts__phones",
    "service__phones",
)


def catalogue_version() -> int:
    """The newest catalogue event's id: it moves whenever the catalogue changes through
    Tisser (the import, the organisations' pages and API)."""
    newest: int | None = Event.objects.filter(aggregate_type="service").aggregate(v=Max("id"))["v"]
    return newest or 0


def page_language(request: HttpRequest) -> str:
    """`?lang=` when it names a language Tisser speaks to people (the slip's QR code
    carries the person's), else the first of the browser's that it speaks, else
    French. The staff pages' languages (Django's LocaleMiddleware) are among them."""
    spoken = set(PATIENT_LANGUAGES) | {code for code, _name in settings.LANGUAGES}
    asked = request.GET.get("lang", "")
    if asked in spoken:
        return asked
    # Django's parser reads at most 500 characters of the header.
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code.split("-")[0] in spoken:
            return code.split("-")[0]
    return str(settings.LANGUAGE_CODE)


@require_safe
def activity_page(request: HttpRequest, sal_id: uuid.UUID) -> HttpResponse:
    language = page_language(request)
    key = f"public-activity:{sal_id}:{language}:{catalogue_version()}"
    kept = cache.get(key)
    if kept is None:
        with translation.override(gettext_language(language)):
            kept = _activity_render(sal_id, language)
        cache.set(key, kept, PAGE_SECONDS)
    status, html = kept
    response = HttpResponse(html, status=status)
    response["Content-Language"] = language
    response["Cache-Control"] = f"public, max-age={PAGE_SECONDS}"
    # The language comes from `?lang=`, the language cookie or Accept-Language.
    response["Vary"] = "Accept-Language, Cookie"
    # A scanned code must never tell a third party which activity a person looked at.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _activity_render(sal_id: uuid.UUID, language: str) -> tuple[int, str]:
    sal = (
        ServiceAtLocation.objects.filter(id=sal_id)
        .select_related("service__organization", "service__provenance", "location")
        .prefetch_related(*_PARTS)
        .first()
    )
    if sal is None or sal.service.status not in SHOWN_STATUSES:
        context = {
            "language": language,
            "direction": text_direction(language),
            "alternatives": _alternatives(sal, language),
        }
        return 404, render_to_string("public/activity_gone.html", context)
    return 200, render_to_string("public/activity.html", _activity_context(sal, language))


def _activity_context(sal: ServiceAtLocation, language: str) -> dict[str, Any]:
    service, location = sal.service, sal.location
    now = timezone.now()
    address = location.physical_address
    show_place = not location.is_confidential
    position = (
        (location.latitude, location.longitude)
        if show_place and location.latitude is not None and location.longitude is not None
        else None
    )
    contact_name, phone = activity_contact(sal)
    provenance = getattr(service, "provenance", None)
    context: dict[str, Any] = {
        "language": language,
        "direction": text_direction(language),
        "other_language": "en" if language == "fr" else "fr",
        "sal": sal,
        "name": service.text("name", language),
        "description": service.text("description", language),
        "alert": service.text("alert", language),
        "closed": service.status == Service.Status.TEMPORARILY_CLOSED,
        "full": sal.capacity_status == ServiceAtLocation.CapacityStatus.NO_CAPACITY,
        "waitlist": sal.capacity_status == ServiceAtLocation.CapacityStatus.WAITLIST,
        "organization": service.organization.name,
        "how_to_join": service.text("application_process", language),
        "what_to_bring": service.text("what_to_bring", language),
        "eligibility": service.text("eligibility_description", language),
        "sessions": [
            session(s.starts_at, s.ends_at, language)
            for s in service_at_location_sessions(sal, after=now, count=SESSIONS_SHOWN)
        ],
        "confidential": location.is_confidential,
        "place": location.name if show_place else "",
        "address": address.one_line() if show_place and address is not None else "",
        "transportation": location.transportation if show_place else "",
        "map_url": _map_url(*position) if position else "",
        "accessibility": [
            a.description or a.details for a in location.accessibility.all() if show_place
        ],
        "cost": activity_cost(service, (language,)).plain,
        "contact_name": contact_name,
        "phone": phone,
        "phone_link": phone.replace(" ", ""),
        "email": service.email,
        "website": service.url,
        "languages": _language_names(service, language),
        "checked": long_date(service.assured_date, language) if service.assured_date else "",
        # Where the information comes from, when Tisser harvested it from a directory.
        "provenance": provenance,
        "fetched": (
            long_date(timezone.localdate(provenance.fetched_at), language)
            if provenance is not None and provenance.fetched_at
            else ""
        ),
        "rendered_at": now,
    }
    # What the organisation typed, without direction controls that could turn a phone
    # number or an address around (`core.languages.without_bidi_controls`).
    for key in _TYPED:
        context[key] = without_bidi_controls(context[key])
    context["accessibility"] = [without_bidi_controls(a) for a in context["accessibility"]]
    return context


_TYPED = (
    "name",
    "description",
    "alert",
    "organization",
    "how_to_join",
    "what_to_bring",
    "eligibility",
    "place",
    "address",
    "transportation",
    "cost",
    "contact_name",
)


def _map_url(latitude: float, longitude: float) -> str:
    """OpenStreetMap at the place, for directions from the person's own phone."""
    return (
        f"https://www.openstreetmap.org/?mlat={latitude:.5f}&mlon={longitude:.5f}"
        f"#map=17/{latitude:.5f}/{longitude:.5f}"
    )


def _language_names(service: Service, language: str) -> list[str]:
    """The languages the activity runs in, named in the page's language."""
    names = Locale.parse(language).languages
    found = []
    for spoken in service.languages.all():
        name = names.get(spoken.code, spoken.name) if spoken.code else spoken.name
        if name and name not in found:
            found.append(name[:1].upper() + name[1:])
    return found


def _alternatives(sal: ServiceAtLocation | None, language: str) -> list[dict[str, Any]]:
    """For an activity that has stopped: others of the same kind, first at the same
    place or from the same organisation. For an id Tisser never knew, none."""
    if sal is None:
        return []
    service = sal.service
    # The codes it answers to, its own and its directory's terms read through crosswalks.
    codes = service_codes([service.id])[service.id].codes
    if not codes:
        return []
    same_kind = Q()
    for code in codes:
        same_kind |= Q(match_point__codes__contains=f",{code},")
    others = (
        ServiceAtLocation.objects.filter(service__status=Service.Status.ACTIVE)
        .exclude(id=sal.id)
        .filter(same_kind)
        .select_related("service", "location")
        .distinct()
        .order_by("service__name", "id")
    )
    # The same place first, then the same organisation, then the rest.
    ranked: list[ServiceAtLocation] = []
    for nearest in (
        others.filter(location_id=sal.location_id),
        others.filter(service__organization_id=service.organization_id),
        others,
    ):
        for other in nearest[:ALTERNATIVES_SHOWN]:
            if other not in ranked and len(ranked) < ALTERNATIVES_SHOWN:
                ranked.append(other)
    return [
        {
            "id": other.id,
            "name": other.service.text("name", language),
            "place": "" if other.location.is_confidential else other.location.name,
        }
        for other in ranked
    ]
