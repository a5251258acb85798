"""What a slip says: referrals and their activities → the HTML WeasyPrint lays out.

A slip speaks the person's language when Tisser prints it (`PATIENT_LANGUAGES`: ten,
Arabic right to left). For any other language it is printed in French, the catalogue's
language, with English under each label and sentence, so that the person or someone
near them can read it.

Everything printed is escaped by Django's templates; catalogue text is plain text. The
fixed wording lives in `TEXTS` (translated through `locale/`), dates and times use the
language's formats, money is formatted by Babel.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any

import segno
from cachetools import LRUCache
from django.conf import settings
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from community_catalog.models import ServiceAtLocation
from community_catalog.presentation import (
    COST_TEXTS,
    Say,
    Session,
    activity_contact,
    activity_cost,
    long_date,
    say_from,
    session,
    texts_of,
)
from community_catalog.schedules import service_at_location_sessions
from core.caches import cache_register
from core.languages import (
    FIRST_STRONG_ISOLATE,
    LEFT_TO_RIGHT_ISOLATE,
    POP_ISOLATE,
    slip_languages,
    text_direction,
    without_bidi_controls,
    written_direction,
)
from events.models import Event
from matching.reasons import reason_text
from referrals.models import Match, Placement, Referral

# The languages slips are printed in; for any other, French with English.
SESSIONS_PRINTED = 3
# "What it is in one plain sentence": a longer description is cut at its first sentence.
DESCRIPTION_MAX_CHARS = 220

TEXTS = {
    **COST_TEXTS,
    "title": _("Your referral %(code)s"),
    "batch_title": _("Referral slips, %(date)s"),
    "issued": _("Given on %(date)s"),
    "code": _("Referral code"),
    "code_hint": _("Quote it when you get in touch."),
    "hello": _("Hello %(name)s,"),
    "lead": _(
        "Here are activities near you that could do you good. Choose one and get in "
        "touch to say you are coming: you can come as you are."
    ),
    "lead_none": _(
        "We have not found an activity near you yet. Your health centre will contact "
        "you as soon as one fits."
    ),
    "note": _("A word from your health centre"),
    "who": _("Who"),
    "where": _("Where"),
    "when": _("When"),
    "cost": _("Cost"),
    "contact": _("Contact"),
    "join": _("How to join"),
    "bring": _("What to bring"),
    "why": _("Why"),
    "confidential": _("Call to get the address."),
    "no_sessions": _("Call to ask for the next dates."),
    "ask_cost": _("Ask the organisation."),
    "scan": _("Scan for the details and a map."),
    "qr_label": _("QR code: the page of %(name)s"),
    "personal": _("Your own page"),
    "personal_hint": _(
        "Scan it with your phone: choose a day, say how it went, or ask for something "
        "else. It is for you alone."
    ),
    "personal_label": _("QR code: your own page"),
}


def _say(languages: Sequence[str], key: str, **params: Any) -> Say:
    return say_from(TEXTS, languages, key, **params)


@lru_cache(maxsize=16)
def _labels(languages: tuple[str, ...]) -> dict[str, Say]:
    """The fixed labels of a slip in these languages (translations do not change while
    the process runs)."""
    return {key: _say(languages, key) for key, text in TEXTS.items() if "%(" not in str(text)}


# --- Formatting ------------------------------------------------------------------------


def one_sentence(text: str, limit: int = DESCRIPTION_MAX_CHARS) -> str:
    """The description if short, else its first sentence, else its first words."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    ends = [cut for end in (". ", "! ", "? ") if 0 < (cut := text.find(end)) < limit]
    if ends:
        return text[: min(ends) + 1]
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "\N{HORIZONTAL ELLIPSIS}"


def public_activity_url(service_at_location_id: uuid.UUID, language: str = "") -> str:
    """The activity's public page, which the slip's QR code opens: in the slip's
    language when that is not French (`?lang=`; the page speaks every language a slip
    does), else in the browser's."""
    url = f"{settings.TISSER_PUBLIC_URL}/a/{service_at_location_id}"
    return f"{url}?lang={language}" if language and language != "fr" else url


@lru_cache(maxsize=4096)
def qr_svg(url: str, label: str) -> SafeString:
    """A QR code as inline SVG (vector: sharp at any print size). Error correction M
    survives a crease or a stain. `label` becomes the SVG's title, which the tagged PDF
    carries as the figure's alternate text (segno escapes it)."""
    svg = segno.make(url, error="m", micro=False).svg_inline(
        border=0, omitsize=True, svgclass=None, lineclass=None, title=label
    )
    return mark_safe(svg)  # noqa: S308 - segno's own output; the URL is encoded as modules


# --- Content -------------------------------------------------------------------------


@dataclass(frozen=True)
class SlipActivity:
    name: Say
    description: Say
    organization: str
    place: str
    address: str
    confidential: bool
    transportation: str
    sessions: list[Session]
    cost: Say
    contact: str
    phone: str
    how_to_join: Say
    what_to_bring: Say
    reasons: Say
    url: str
    qr: SafeString
    qr_label: str
    # A seasonal activity back soon, or a new one: "Resumes on 2 March".
    season: Say = field(default_factory=lambda: Say(""))

    @cached_property
    def dirs(self) -> dict[str, str]:
        """The direction each block of the organisation's own words is written in (a
        French description on an Arabic slip reads left to right, its full stop last)."""
        return {
            "description": written_direction(self.description.text),
            "organization": written_direction(self.organization),
            "place": written_direction(self.place or self.address),
            "transportation": written_direction(self.transportation),
            "how_to_join": written_direction(self.how_to_join.text),
            "what_to_bring": written_direction(self.what_to_bring.text),
        }


@dataclass(frozen=True)
class SlipContent:
    code: str
    language: str
    languages: tuple[str, ...]
    large_print: bool
    center: str
    issued: str
    greeting: Say
    lead: Say
    note: str
    activities: list[SlipActivity]
    t: dict[str, Say] = field(repr=False)
    # The person's own page (outreach), when they agreed to it: its QR code and link.
    personal_url: str = ""
    personal_qr: SafeString | None = None

    @property
    def direction(self) -> str:
        return text_direction(self.language)

    @property
    def note_direction(self) -> str:
        return written_direction(self.note)

    # The isolates a right-to-left slip puts around text whose direction is its own
    # (`core.languages`); empty on any other.
    @property
    def fsi(self) -> str:
        return FIRST_STRONG_ISOLATE if self.direction == "rtl" else ""

    @property
    def lri(self) -> str:
        return LEFT_TO_RIGHT_ISOLATE if self.direction == "rtl" else ""

    @property
    def pdi(self) -> str:
        return POP_ISOLATE if self.direction == "rtl" else ""


def _reasons(match: Match, languages: Sequence[str]) -> Say:
    # The most telling few. Cost, sessions and a season have their own lines.
    said = [r for r in match.reasons if isinstance(r, dict)]
    kept = [r for r in said if r.get("code") not in _OWN_LINES][:3]
    texts = [
        " · ".join(text for text in (reason_text(r, lang) for r in kept) if text)
        for lang in languages[:2]
    ]
    return Say(texts[0], texts[1] if len(texts) > 1 else "")


_OWN_LINES = ("cost", "schedule", "resumes")


def _season(match: Match, languages: Sequence[str]) -> Say:
    """ "Resumes on 2 March", the day matching found when it chose the activity."""
    said = next(
        (r for r in match.reasons if isinstance(r, dict) and r.get("code") == "resumes"), None
    )
    if said is None:
        return Say("")
    texts = [reason_text(said, lang) for lang in languages[:2]]
    return Say(texts[0], texts[1] if len(texts) > 1 else "")


def _activity(match: Match, languages: Sequence[str], now: datetime) -> SlipActivity:
    """What the slip prints of one matched activity: what the catalogue says of it (kept
    with the catalogue row, see `_about`), its next sessions and why it was chosen."""
    sal = match.service_at_location
    return dataclasses.replace(
        _about(sal, tuple(languages)),
        sessions=[
            session(s.starts_at, s.ends_at, languages[0])
            for s in service_at_location_sessions(sal, after=now, count=SESSIONS_PRINTED)
        ],
        reasons=_reasons(match, languages),
        season=_season(match, languages),
    )


def _about(sal: ServiceAtLocation, languages: tuple[str, ...]) -> SlipActivity:
    """What the catalogue says of an activity at a place, in these languages, without its
    sessions and reasons. Kept on the row itself: the rows a slip worker prints are kept
    until the catalogue changes (`catalogue_rows`), and this goes with them."""
    kept: dict[tuple[str, ...], SlipActivity] = sal.__dict__.setdefault("_slip_about", {})
    about = kept.get(languages)
    if about is None:
        about = kept[languages] = _about_build(sal, languages)
    return about


def _about_build(sal: ServiceAtLocation, languages: tuple[str, ...]) -> SlipActivity:
    service, location = sal.service, sal.location
    found = location.physical_address
    url = public_activity_url(sal.id, languages[0] if len(languages) == 1 else "")
    name = texts_of(service, "name", languages)
    description = texts_of(service, "description", languages)
    contact_name, phone = activity_contact(sal)
    qr_label = _say(languages, "qr_label", name=name.text).plain
    activity = SlipActivity(
        name=name,
        description=Say(one_sentence(description.text), one_sentence(description.also)),
        organization=service.organization.name,
        # A confidential place (a shelter, someone's home) is never printed: the person
        # calls and is told where to go.
        place="" if location.is_confidential else location.name,
        address="" if location.is_confidential or found is None else found.one_line(),
        confidential=location.is_confidential,
        transportation="" if location.is_confidential else location.transportation,
        sessions=[],
        cost=activity_cost(service, languages),
        contact=contact_name,
        phone=phone,
        how_to_join=texts_of(service, "application_process", languages),
        what_to_bring=texts_of(service, "what_to_bring", languages),
        reasons=Say(""),
        url=url,
        qr=qr_svg(url, without_bidi_controls(qr_label)),
        qr_label=qr_label,
    )
    return _typed_text_cleaned(activity)


# What the organisation wrote, printed on the slip.
_TYPED = (
    "name",
    "description",
    "organization",
    "place",
    "address",
    "transportation",
    "cost",
    "contact",
    "how_to_join",
    "what_to_bring",
    "qr_label",
)


def _typed_text_cleaned(activity: SlipActivity) -> SlipActivity:
    """The activity without the direction controls its texts may hold
    (`core.languages.without_bidi_controls`)."""
    changes: dict[str, Any] = {}
    for name in _TYPED:
        value = getattr(activity, name)
        if isinstance(value, Say):
            cleaned: Any = Say(without_bidi_controls(value.text), without_bidi_controls(value.also))
        else:
            cleaned = without_bidi_controls(value)
        if cleaned != value:
            changes[name] = cleaned
    return dataclasses.replace(activity, **changes) if changes else activity


# What is no longer on offer is not printed: an activity that refused the person, or was
# withdrawn.
_ENDED = (Placement.Status.REJECTED, Placement.Status.CANCELLED, Placement.Status.FAILED)


# The catalogue rows a slip prints, per service_at_location, kept per process while the
# catalogue is unchanged: every change to a service, its places, schedules, contacts or
# capacity writes a `service` event (`community_catalog.services`, the importer), so the
# newest such event says whether what is kept is current; and at most CATALOGUE_TTL
# seconds in any case (an edit in the admin writes no event). A slip worker prints the
# same few dozen activities again and again: one small query instead of nine.
CATALOGUE_TTL_SECONDS = 60.0
_SAL_PARTS = (
    "schedules",
    "service__schedules",
    "service__cost_options",
    "location__addresses",
    "contacts__phones",
    "phones",
    "service__contacts__phones",
    "service__phones",
)
_catalogue_lock = threading.Lock()
# The most recently printed activities only: a territory's whole catalogue could be large.
_catalogue: LRUCache[uuid.UUID, ServiceAtLocation] = LRUCache(maxsize=2000)
_catalogue_state: tuple[int, float] = (-1, -1e9)  # (newest service event, loaded at)


def catalogue_rows(sal_ids: set[uuid.UUID]) -> dict[uuid.UUID, ServiceAtLocation]:
    """These service_at_locations with everything a slip prints about them."""
    global _catalogue_state
    version = Event.objects.filter(aggregate_type="service").aggregate(v=Max("id"))["v"] or 0
    with _catalogue_lock:
        kept_version, loaded_at = _catalogue_state
        if version != kept_version or time.monotonic() - loaded_at > CATALOGUE_TTL_SECONDS:
            _catalogue.clear()
            _catalogue_state = (version, time.monotonic())
        found = {i: kept for i in sal_ids if (kept := _catalogue.get(i)) is not None}
    missing = sal_ids - found.keys()
    if missing:
        loaded = {
            sal.id: sal
            for sal in ServiceAtLocation.objects.filter(id__in=missing)
            .select_related("service__organization", "location")
            .prefetch_related(*_SAL_PARTS)
        }
        found.update(loaded)
        with _catalogue_lock:
            if _catalogue_state[0] == version:
                _catalogue.update(loaded)
    return found


@cache_register
def catalogue_forget() -> None:
    global _catalogue_state
    with _catalogue_lock:
        _catalogue.clear()
        _catalogue_state = (-1, -1e9)


def _matches_by_referral(referral_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Match]]:
    found: dict[uuid.UUID, list[Match]] = defaultdict(list)
    matches = list(
        Match.objects.filter(referral_id__in=list(referral_ids))
        .exclude(placement__status__in=_ENDED)
        .order_by("referral_id", "rank")
    )
    rows = catalogue_rows({m.service_at_location_id for m in matches})
    for match in matches:
        match.service_at_location = rows[match.service_at_location_id]
        found[match.referral_id].append(match)
    return found


def slip_contents(
    referrals: Sequence[Referral], *, now: datetime | None = None
) -> list[SlipContent]:
    """What each referral's slip says, in the order given. Select `health_center`."""
    now = now or timezone.now()
    matches = _matches_by_referral(r.id for r in referrals)
    contents = []
    for referral in referrals:
        languages = slip_languages(referral.preferred_language)
        activities = [_activity(m, languages, now) for m in matches.get(referral.id, [])]
        contents.append(
            SlipContent(
                code=referral.code,
                language=languages[0],
                languages=languages,
                large_print=referral.large_print,
                center=without_bidi_controls(referral.health_center.name),
                issued=_say(
                    languages[:1],
                    "issued",
                    date=long_date(timezone.localdate(now), languages[0]),
                ).plain,
                greeting=_say(languages, "hello", name=without_bidi_controls(referral.first_name)),
                lead=_say(languages, "lead" if activities else "lead_none"),
                note=without_bidi_controls(referral.note_for_patient),
                activities=activities,
                t=_labels(languages),
                **_personal(referral, languages, now),
            )
        )
    return contents


def _personal(referral: Referral, languages: Sequence[str], now: datetime) -> dict[str, Any]:
    """The second QR code, to the person's own page, when they agreed to it (and it is
    open). Select `contact`. Nothing for a slip with nothing on it to choose."""
    contact = getattr(referral, "contact", None)
    if contact is None or not contact.page_is_open(now):
        return {}
    url = f"{settings.TISSER_PUBLIC_URL}{reverse('personal-page', args=[contact.page_token])}"
    label = _say(languages[:1], "personal_label").plain
    # Not kept in the QR cache: the token must not outlive an erasure in memory.
    return {"personal_url": url, "personal_qr": qr_svg.__wrapped__(url, label)}


def slips_html(slips: Sequence[SlipContent], *, title: str, language: str) -> str:
    """One HTML document with each slip starting on a new page: a single slip, or a
    health centre's batch, laid out as one document."""
    return render_to_string(
        "slips/document.html",
        {
            "slips": slips,
            "title": title,
            "language": language,
            "direction": text_direction(language),
            "batch": len(slips) != 1,
        },
    )


def slip_html(referral: Referral, *, now: datetime | None = None) -> str:
    """A referral's slip as HTML, in the person's language."""
    (content,) = slip_contents([referral], now=now)
    title = _say(content.languages, "title", code=content.code).plain
    return slips_html([content], title=title, language=content.language)


def batch_title(day: date) -> tuple[str, str]:
    """The title of a health centre's batch of `day`, and its language (the
    catalogue's, the language the centre works in)."""
    language = settings.TISSER_CATALOG_LANGUAGE
    return _say((language,), "batch_title", date=long_date(day, language)).plain, language


def batch_html(referrals: Sequence[Referral], *, day: date, now: datetime | None = None) -> str:
    """A health centre's slips of `day` laid out anew as one document, in the order
    given: the benchmark's floor for WeasyPrint (the batch itself is put together from
    the stored slips, `slips.batch`)."""
    title, language = batch_title(day)
    return slips_html(slip_contents(referrals, now=now), title=title, language=language)


def sample_slips_html() -> list[str]:
    """Slips about no one, in every language, size and face a slip uses: what a renderer
    draws once before real work (no database needed)."""
    sample_url = public_activity_url(uuid.UUID(int=0))
    html = []
    # French; a language printed as French with English (its italic face), in large
    # print; Arabic (right to left, its own face).
    for preferred, large in (("fr", False), ("de", True), ("ar", False)):
        languages = slip_languages(preferred)
        words = Say("Atelier « Tisser » 0123456789 €", "Workshop" if len(languages) > 1 else "")
        activity = SlipActivity(
            name=words,
            description=words,
            organization="Tisser",
            place="Tisser",
            address="1 rue de l'Exemple, 69000 Lyon",
            confidential=False,
            transportation="Métro A",
            sessions=[Session("Lundi 1 janvier", "09:00\N{EN DASH}10:00")],
            cost=_say(languages, "free"),
            contact="Tisser",
            phone="04 00 00 00 00",
            how_to_join=words,
            what_to_bring=words,
            reasons=words,
            url=sample_url,
            qr=qr_svg(sample_url, "Tisser"),
            qr_label="Tisser",
        )
        content = SlipContent(
            code="AAA-AAA",
            language=languages[0],
            languages=languages,
            large_print=large,
            center="Tisser",
            issued="1 janvier 2026",
            greeting=_say(languages, "hello", name="Tisser"),
            lead=_say(languages, "lead"),
            note="Tisser",
            activities=[activity],
            t=_labels(languages),
        )
        html.append(slips_html([content], title="Tisser", language=languages[0]))
    return html
