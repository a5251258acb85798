"""Slip rendering: a referral and its matches → an A4 PDF, with WeasyPrint.

WeasyPrint is imported only when the first renderer is built, inside the worker process
(never before a fork), and the renderer is kept for the life of the process: one
FontConfiguration, the stylesheet parsed once, fonts loaded once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import fontpkg_atkinson_hyperlegible
import phonenumbers
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation

from community_catalog.models import ServiceAtLocation
from community_catalog.schedules import service_at_location_sessions
from referrals.models import Match, Placement, Referral
from referrals.outbox import event_mark_processed
from referrals.services import referral_slip_attach

logger = logging.getLogger(__name__)

SLIP_ASSETS = Path(settings.BASE_DIR) / "templates" / "slips"
FONT_DIR = Path(fontpkg_atkinson_hyperlegible.ROOT) / "files"
SLIP_LANGUAGES = ("fr", "en")


def slip_language(preferred: str) -> str:
    return preferred if preferred in SLIP_LANGUAGES else "fr"


# --- Context -------------------------------------------------------------------------


@dataclass(frozen=True)
class SlipActivity:
    name: str
    description: str
    organization: str
    place: str
    address: str
    confidential: bool
    transportation: str
    sessions: list[str]
    cost: str
    contact: str
    phone: str
    how_to_join: str
    reasons: list[str]


def _session_text(start: datetime, end: datetime) -> str:
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    day = formats.date_format(local_start, "l j F")
    opens, closes = formats.time_format(local_start, "H:i"), formats.time_format(local_end, "H:i")
    hours = f"{opens}\N{EN DASH}{closes}"
    return f"{day[:1].upper()}{day[1:]}, {hours}"


def _contact(sal: ServiceAtLocation) -> tuple[str, str]:
    """Who to call: the contact for this place, else the service's, with a phone number."""
    contacts = list(sal.contacts.all()) or list(sal.service.contacts.all())
    for contact in contacts:
        phones = [p.number for p in contact.phones.all()]
        if phones:
            return contact.name, _phone_display(phones[0])
    fallback = list(sal.phones.all()) or list(sal.service.phones.all())
    name = contacts[0].name if contacts else ""
    return name, _phone_display(fallback[0].number) if fallback else ""


def _phone_display(number: str) -> str:
    """E.164 as people dial it: national format at home, international otherwise."""
    parsed = phonenumbers.parse(number)
    region = phonenumbers.region_code_for_number(parsed)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if region == settings.TISSER_PHONE_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def _activity(match: Match, language: str, now: datetime) -> SlipActivity:
    sal = match.service_at_location
    service, location = sal.service, sal.location
    found = location.physical_address
    address = found.one_line() if found else ""
    sessions = service_at_location_sessions(sal, after=now, count=3)
    contact_name, phone = _contact(sal)
    if service.is_free:
        cost = translation.gettext("Free")
    else:
        cost = service.text("fees_description", language) or translation.gettext(
            "Ask the organisation"
        )
    return SlipActivity(
        name=service.text("name", language),
        description=service.text("description", language),
        organization=service.organization.name,
        place=location.name,
        address="" if location.is_confidential else address,
        confidential=location.is_confidential,
        transportation="" if location.is_confidential else location.transportation,
        sessions=[_session_text(s.starts_at, s.ends_at) for s in sessions],
        cost=cost,
        contact=contact_name,
        phone=phone,
        how_to_join=service.text("application_process", language),
        # The most telling few. Cost and sessions have their own lines on the slip, and
        # one more line per activity would push a full slip onto a second page.
        reasons=[
            r[language]
            for r in match.reasons
            if r.get(language) and r.get("code") not in ("cost", "schedule")
        ][:3],
    )


def slip_html(referral: Referral, *, now: datetime | None = None) -> str:
    """The slip as HTML, in the person's language. All text is escaped by the template."""
    language = slip_language(referral.preferred_language)
    now = now or timezone.now()
    # What is still on offer: an activity that refused the person, or was withdrawn,
    # is no longer printed.
    matches = (
        referral.matches.exclude(
            placement__status__in=(
                Placement.Status.REJECTED,
                Placement.Status.CANCELLED,
                Placement.Status.FAILED,
            )
        )
        .select_related(
            "service_at_location__service__organization", "service_at_location__location"
        )
        .prefetch_related(
            "service_at_location__schedules",
            "service_at_location__service__schedules",
            "service_at_location__location__addresses",
            "service_at_location__contacts__phones",
            "service_at_location__phones",
            "service_at_location__service__contacts__phones",
            "service_at_location__service__phones",
        )
        .order_by("rank")
    )
    with translation.override(language):
        context: dict[str, Any] = {
            "language": language,
            "referral": referral,
            "center": referral.health_center,
            "activities": [_activity(m, language, now) for m in matches],
            "issued": formats.date_format(timezone.localtime(now), "j F Y"),
        }
        return render_to_string("slips/slip.html", context)


# --- Renderer ------------------------------------------------------------------------


class SlipRenderer:
    """A long-lived WeasyPrint renderer. One per process; renders one slip at a time
    (WeasyPrint's font machinery is not meant to be shared across threads)."""

    def __init__(self) -> None:
        from weasyprint import CSS, HTML
        from weasyprint.text.fonts import FontConfiguration

        self._html_class = HTML
        self._lock = threading.Lock()
        self.fetcher = asset_fetcher((SLIP_ASSETS, FONT_DIR))
        self.font_config = FontConfiguration()
        self.stylesheets = [
            CSS(string=_font_faces(), font_config=self.font_config, url_fetcher=self.fetcher),
            CSS(
                filename=str(SLIP_ASSETS / "slip.css"),
                font_config=self.font_config,
                url_fetcher=self.fetcher,
            ),
        ]
        started = time.perf_counter()
        self.render("<html lang='fr'><body><p>Tisser</p></body></html>")
        logger.info("slip renderer ready in %.0f ms", (time.perf_counter() - started) * 1000)

    def render(self, html: str) -> bytes:
        with self._lock:
            document = self._html_class(
                string=html, base_url=SLIP_ASSETS.as_uri() + "/", url_fetcher=self.fetcher
            )
            pdf: bytes = document.write_pdf(
                stylesheets=self.stylesheets, font_config=self.font_config
            )
        return pdf


def _font_faces() -> str:
    faces = []
    for weight, style, name in (
        ("normal", "normal", "Regular"),
        ("bold", "normal", "Bold"),
        ("normal", "italic", "Italic"),
        ("bold", "italic", "BoldItalic"),
    ):
        url = (FONT_DIR / f"AtkinsonHyperlegible-{name}.ttf").as_uri()
        faces.append(
            f"@font-face {{ font-family: 'Atkinson Hyperlegible'; font-weight: {weight};"
            f" font-style: {style}; src: url('{url}'); }}"
        )
    return "\n".join(faces)


def asset_fetcher(roots: tuple[Path, ...]) -> Any:
    """A WeasyPrint URL fetcher that serves files from the project's own asset folders and
    refuses every other URL: no network, no file elsewhere, no data: URL, whatever a
    catalogue entry contains. Built on demand so WeasyPrint is imported late."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    allowed = tuple(r.resolve() for r in roots)

    class AssetFetcher(URLFetcher):
        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                raise ValueError(f"slip assets only; refused a {parts.scheme or 'relative'} URL")
            path = Path(unquote(parts.path)).resolve()
            if not any(path.is_relative_to(root) for root in allowed) or not path.is_file():
                raise ValueError("slip assets only; refused a file outside the asset folders")
            return URLFetcherResponse(path.as_uri(), _asset_bytes(path))

    return AssetFetcher(allowed_protocols=("file",), allow_redirects=False)


@lru_cache(maxsize=64)
def _asset_bytes(path: Path) -> bytes:
    return path.read_bytes()


_renderer: SlipRenderer | None = None
_renderer_lock = threading.Lock()


def slip_renderer() -> SlipRenderer:
    """This process's renderer, built (and warmed) on first use."""
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = SlipRenderer()
            # Drop it before interpreter shutdown: WeasyPrint's font objects cannot be
            # finalised once the modules they use have been torn down.
            atexit.register(_renderer_drop)
        return _renderer


def _renderer_drop() -> None:
    global _renderer
    _renderer = None


# --- The job -------------------------------------------------------------------------


def referral_render_slip(*, referral_id: uuid.UUID, event_id: int) -> None:
    """Render the slip of a matched referral and attach it. Safe to run twice: a slip
    already rendered for this event (or a later one) is left as it is."""
    referral = (
        Referral.objects.select_related("health_center", "slip").filter(id=referral_id).first()
    )
    if (
        referral is None
        or referral.status == Referral.Status.REVOKED  # cancelled: nothing to print
        or (hasattr(referral, "slip") and (referral.slip.event_id or 0) >= event_id)
        or referral.stage
        not in (
            Referral.Stage.MATCHED,
            Referral.Stage.UNMATCHED,
        )
    ):
        event_mark_processed(event_id)
        return
    started = time.perf_counter()
    pdf = slip_renderer().render(slip_html(referral))
    render_ms = (time.perf_counter() - started) * 1000
    referral_slip_attach(
        referral_id=referral_id,
        event_id=event_id,
        pdf=pdf,
        language=slip_language(referral.preferred_language),
        render_ms=render_ms,
    )
