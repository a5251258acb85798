"""Why an activity was chosen, and why nothing was, in words the person and the clinician
understand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matching.parts import FIT_SHARE

if TYPE_CHECKING:
    from matching.scoring import Candidate, Person

import gettext
from collections.abc import Iterable
from datetime import date, time
from functools import lru_cache
from typing import Any

import pycountry
from django.utils import formats, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from community_catalog.selectors import (
    taxonomy_terms_by_code,
)
from community_catalog.travel import travel
from matching.candidates import (
    CandidateRow,
)

ACCESSIBILITY_REASONS: dict[str, dict[str, str]] = {
    "wheelchair": {"fr": "Accessible en fauteuil roulant", "en": "Wheelchair accessible"},
    "step-free": {"fr": "Accès de plain-pied", "en": "Step-free access"},
    "hearing-loop": {"fr": "Boucle magnétique", "en": "Hearing loop"},
    "sight-loss": {"fr": "Adapté aux personnes malvoyantes", "en": "Adapted for sight loss"},
    "quiet-space": {"fr": "Un espace calme", "en": "A quiet space"},
    "accessible-toilet": {"fr": "Toilettes accessibles", "en": "Accessible toilet"},
}
_DAY_NAMES = {
    "MO": ("lundi", "Monday"),
    "TU": ("mardi", "Tuesday"),
    "WE": ("mercredi", "Wednesday"),
    "TH": ("jeudi", "Thursday"),
    "FR": ("vendredi", "Friday"),
    "SA": ("samedi", "Saturday"),
    "SU": ("dimanche", "Sunday"),
}


# --- Reasons -------------------------------------------------------------------------


def distance_reason(km: float) -> dict[str, str]:
    mode, minutes = travel(km)
    if mode == "walk":
        return {
            "code": "distance",
            "fr": f"À {minutes} min à pied de chez vous",
            "en": f"A {minutes}-minute walk from home",
        }
    return {
        "code": "distance",
        "fr": f"Environ {minutes} min en transports en commun",
        "en": f"About {minutes} minutes by public transport",
    }


def schedule_reason(candidate: Candidate, person: Person) -> dict[str, str] | None:
    if candidate.fit_slot is None:
        return None
    day, opens, monthly = candidate.fit_slot
    fr_day, en_day = _DAY_NAMES[day]
    fr_part, en_part = (
        ("matin", "morning")
        if opens < time(12)
        else ("après-midi", "afternoon")
        if opens < time(18)
        else ("soir", "evening")
    )
    if monthly:
        fr, en = f"Un {fr_day} {fr_part} par mois", f"One {en_day} {en_part} a month"
    else:
        fr, en = f"Le {fr_day} {fr_part}", f"{en_day} {en_part}s"
    if person.availability and candidate.parts["schedule"] >= FIT_SHARE:
        fr, en = f"{fr}, quand vous êtes libre", f"{en}, when you are free"
    return {"code": "schedule", "fr": fr, "en": en}


def language_reason(candidate: Candidate, person: Person) -> dict[str, str]:
    if candidate.row.runs_in_language:
        fr_name, en_name = language_names(person.language)
        return {"code": "language", "fr": f"En {fr_name}", "en": f"In {en_name}"}
    return {"code": "language", "fr": "Interprétariat possible", "en": "Interpreting available"}


@lru_cache(maxsize=256)
def language_names(code: str) -> tuple[str, str]:
    """The language's name in French (lower case, as French writes it) and English."""
    language = pycountry.languages.get(alpha_2=code)
    english = language.name if language else code
    try:
        french = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["fr"]).gettext(
            english
        )
    except OSError:
        french = english
    return french.lower(), english


REASON_LANGUAGES = ("fr", "en")


Message = str | Promise


def bilingual(code: str, message: Message, **params: Any) -> dict[str, str]:
    """A reason or an explanation in French and English, through gettext: `{"code":
    ..., "fr": ..., "en": ...}`. A date parameter is written as each language writes it
    ("2 mars", "2 March"); a callable one is called with the language. A message from
    `ngettext_lazy(..., "count")` takes its plural form from the `count` parameter."""
    said = {"code": code}
    for language in REASON_LANGUAGES:
        with translation.override(language):
            values = {
                name: formats.date_format(value, "j F")
                if isinstance(value, date)
                else value(language)
                if callable(value)
                else value
                for name, value in params.items()
            }
            said[language] = str(message % values) if params else str(message)
    return said


def cost_reason(cost: str) -> dict[str, str] | None:
    """What the person is told of the cost: free, or to ask (never "free" unless
    matching counted it free: both read the same state)."""
    if cost == "free":
        return bilingual("cost", _("Free"))
    if cost == "not-stated":
        return bilingual("cost", _("Cost not stated: ask when you get in touch"))
    return None


def season_reason(row: CandidateRow, today: date) -> dict[str, str] | None:
    """A seasonal activity back soon, or a new one about to start."""
    if row.resumes_on and row.resumes_on > today:
        return bilingual("resumes", _("Resumes on %(date)s"), date=row.resumes_on)
    if row.starts_on and row.starts_on > today:
        return bilingual("resumes", _("Starts on %(date)s"), date=row.starts_on)
    return None


def reasons_for(candidate: Candidate, person: Person) -> list[dict[str, str]]:
    """Short reasons a person can read, in French and English, most telling first."""
    reasons = [distance_reason(candidate.row.distance_km)]
    season = season_reason(candidate.row, person.today)
    if season:
        reasons.append(season)
    schedule = schedule_reason(candidate, person)
    if schedule:
        reasons.append(schedule)
    cost = cost_reason(candidate.row.cost)
    if cost:
        reasons.append(cost)
    reasons.append(language_reason(candidate, person))
    reasons += [
        {"code": "accessibility", **ACCESSIBILITY_REASONS[need]}
        for need in candidate.accessibility_met
        if need in ACCESSIBILITY_REASONS
    ]
    if candidate.row.capacity_status == "waitlist":
        reasons.append(
            {
                "code": "capacity",
                "fr": "Liste d'attente : appelez d'abord",
                "en": "Waiting list: call first",
            }
        )
    return reasons


def need_reason(service_codes: Iterable[str], person: Person) -> dict[str, str] | None:
    """Which of the person's needs, or which activity kind, this answers."""
    terms = taxonomy_terms_by_code([code for code in service_codes if code in person.codes])
    if not terms:
        return None
    # A need named by the person first, then an activity kind that answers it.
    term = terms[min(terms, key=lambda code: (code not in person.needs, code))]
    return {
        "code": "need",
        "fr": f"Répond à : {term.name.lower()}",
        "en": f"Answers: {term.name_en.lower()}",
    }
