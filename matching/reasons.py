"""Why an activity was chosen, and why nothing was, in words the person and the clinician
understand.

What is stored (`Match.reasons`, `Referral.unmatched_explanation`) is a code and its
parameters only, never text: `{"code": "distance", "params": {"mode": "walk", "minutes":
13}}`. Parameters are JSON values: numbers, codes (a weekday, a language, an access need,
taxonomy terms), ISO dates and times. The words are written when they are read, through
gettext, in any language Tisser has translations for (`reason_text`,
`explanation_text`): a new translation in `locale/` reaches every reason ever stored.

Rows written before (`{"code": ..., "fr": ..., "en": ...}`, no `params`) are shown as
they were written: in the language asked when they have it, else in French.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

from community_catalog.presentation import day_month
from community_catalog.selectors import taxonomy_terms_by_code
from community_catalog.travel import travel
from core.languages import PATIENT_LANGUAGES, gettext_language
from matching.candidates import CandidateRow
from matching.parts import FIT_SHARE

if TYPE_CHECKING:
    from matching.scoring import Candidate, Person

logger = logging.getLogger(__name__)

# A reason or an explanation as stored: {"code": ..., "params": {...}} (an explanation
# also has "alternatives").
Reason = dict[str, Any]
Message = str | Promise

# A reason drawn from an access need the activity meets.
ACCESSIBILITY_REASONS: dict[str, Message] = {
    "wheelchair": pgettext_lazy("matching reason", "Wheelchair accessible"),
    "step-free": pgettext_lazy("matching reason", "Step-free access"),
    "hearing-loop": pgettext_lazy("matching reason", "Hearing loop"),
    "sight-loss": pgettext_lazy("matching reason", "Adapted for sight loss"),
    "quiet-space": pgettext_lazy("matching reason", "A quiet space"),
    "accessible-toilet": pgettext_lazy("matching reason", "Accessible toilet"),
}
# Within a sentence ("Tuesday afternoons"): French writes them in lower case.
_DAY_NAMES: dict[str, Message] = {
    "MO": pgettext_lazy("weekday within a sentence", "Monday"),
    "TU": pgettext_lazy("weekday within a sentence", "Tuesday"),
    "WE": pgettext_lazy("weekday within a sentence", "Wednesday"),
    "TH": pgettext_lazy("weekday within a sentence", "Thursday"),
    "FR": pgettext_lazy("weekday within a sentence", "Friday"),
    "SA": pgettext_lazy("weekday within a sentence", "Saturday"),
    "SU": pgettext_lazy("weekday within a sentence", "Sunday"),
}
# (weekly, monthly) for a session in the morning, the afternoon, the evening.
_SCHEDULE_MESSAGES: dict[str, tuple[Message, Message]] = {
    "morning": (_("%(day)s mornings"), _("One %(day)s morning a month")),
    "afternoon": (_("%(day)s afternoons"), _("One %(day)s afternoon a month")),
    "evening": (_("%(day)s evenings"), _("One %(day)s evening a month")),
}


# --- Reasons: what is stored ---------------------------------------------------------


def _reason(code: str, **params: Any) -> Reason:
    return {"code": code, "params": params}


def distance_reason(km: float) -> Reason:
    """How long it takes from home: the estimate's mode and minutes, not the distance."""
    mode, minutes = travel(km)
    return _reason("distance", mode=mode, minutes=minutes)


def schedule_reason(candidate: Candidate, person: Person) -> Reason | None:
    if candidate.fit_slot is None:
        return None
    day, opens, monthly = candidate.fit_slot
    return _reason(
        "schedule",
        day=day,
        opens=opens.strftime("%H:%M"),
        monthly=monthly,
        when_free=bool(person.availability and candidate.parts["schedule"] >= FIT_SHARE),
    )


def language_reason(candidate: Candidate, person: Person) -> Reason:
    """In the person's language, or interpreting (no parameter)."""
    if candidate.row.runs_in_language:
        return _reason("language", language=person.language)
    return _reason("language")


def cost_reason(cost: str) -> Reason | None:
    """What the person is told of the cost: free, or to ask (never "free" unless
    matching counted it free: both read the same state)."""
    if cost in ("free", "not-stated"):
        return _reason("cost", cost=cost)
    return None


def season_reason(row: CandidateRow, today: date) -> Reason | None:
    """A seasonal activity back soon, or a new one about to start."""
    if row.resumes_on and row.resumes_on > today:
        return _reason("resumes", resumes_on=row.resumes_on.isoformat())
    if row.starts_on and row.starts_on > today:
        return _reason("resumes", starts_on=row.starts_on.isoformat())
    return None


def reasons_for(candidate: Candidate, person: Person) -> list[Reason]:
    """Short reasons a person can read, most telling first."""
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
        _reason("accessibility", need=need)
        for need in candidate.accessibility_met
        if need in ACCESSIBILITY_REASONS
    ]
    if candidate.row.capacity_status == "waitlist":
        reasons.append(_reason("capacity"))
    return reasons


def need_reason(service_codes: Iterable[str], person: Person) -> Reason | None:
    """Which of the person's needs, or which activity kind, this answers."""
    terms = taxonomy_terms_by_code([code for code in service_codes if code in person.codes])
    if not terms:
        return None
    # A need named by the person first, then an activity kind that answers it.
    term = min(terms, key=lambda code: (code not in person.needs, code))
    return _reason("need", term=term)


# --- Reading them: text in the reader's language -------------------------------------


def reason_text(reason: object, language: str) -> str:
    """A stored reason in words, in `language` (French when Tisser does not speak it)."""
    return _text(reason, language, _REASON_TEXTS)


def explanation_text(explanation: object, language: str) -> str:
    """A stored unmatched explanation in words, in `language` (French when Tisser does
    not speak it). Empty for no explanation."""
    return _text(explanation, language, _EXPLANATION_TEXTS) if explanation else ""


def spoken(language: str) -> str:
    """The language text is written in: `language` when Tisser has translations for
    it (under the name Django's translations give it: `zh-hans`), else the default
    (French), as gettext itself falls back."""
    code = (language or "").lower().replace("_", "-")
    supported = {code for code, _name in settings.LANGUAGES} | set(PATIENT_LANGUAGES)
    for candidate in (code, code.split("-")[0]):
        if candidate in supported:
            return gettext_language(candidate)
    return str(settings.LANGUAGE_CODE)


@lru_cache(maxsize=512)
def language_name(code: str, language: str) -> str:
    """A language's name in `language`, from Babel's CLDR data (French names are in
    lower case, as French writes them: "français"). The code itself when CLDR has none."""
    try:
        names = Locale.parse(spoken(language), sep="-").languages
    except (UnknownLocaleError, ValueError):
        return code
    return str(names.get(code) or names.get(code.replace("-", "_")) or code)


Renderer = Callable[[Mapping[str, Any], str], Message]


def _text(said: object, language: str, renderers: Mapping[str, Renderer]) -> str:
    """Never raises: a row Tisser did not write this way (an older version's, one edited
    by hand) says nothing rather than breaking the page, the slip or the API."""
    if not isinstance(said, Mapping):
        logger.warning("a stored reason is not a mapping: %r", type(said).__name__)
        return ""
    params = said.get("params")
    if not isinstance(params, Mapping):
        # Written before reasons were stored as codes: the text as it was written.
        text = said.get(language) or said.get("fr") or ""
        return text if isinstance(text, str) else ""
    render = renderers.get(str(said.get("code")))
    if render is None:
        logger.warning("no words for the reason %r", said.get("code"))
        return ""
    language = spoken(language)
    try:
        with translation.override(language):
            return str(render(params, language))
    except Exception:  # any value a stored row may hold: logged, never a 500
        logger.exception("a stored reason could not be read: %r", said.get("code"))
        return ""


def _date(value: str) -> str:
    """An ISO date as the active language writes it in a sentence ("2 mars", "2 March",
    "2 марта")."""
    return day_month(date.fromisoformat(value), translation.get_language() or "fr")


def _number(value: float) -> str:
    return f"{value:g}"


def _distance(params: Mapping[str, Any], language: str) -> Message:
    if params["mode"] == "walk":
        return _("A %(minutes)s-minute walk from home") % {"minutes": params["minutes"]}
    return _("About %(minutes)s minutes by public transport") % {"minutes": params["minutes"]}


def _schedule(params: Mapping[str, Any], language: str) -> Message:
    opens = time.fromisoformat(params["opens"])
    part = "morning" if opens < time(12) else "afternoon" if opens < time(18) else "evening"
    weekly, monthly = _SCHEDULE_MESSAGES[part]
    said = (monthly if params.get("monthly") else weekly) % {"day": _DAY_NAMES[params["day"]]}
    if params.get("when_free"):
        said = _("%(when)s, when you are free") % {"when": said}
    return said


def _language(params: Mapping[str, Any], language: str) -> Message:
    if params.get("language"):
        return _("In %(language)s") % {"language": language_name(params["language"], language)}
    return _("Interpreting available")


def _cost(params: Mapping[str, Any], language: str) -> Message:
    if params["cost"] == "free":
        return _("Free")
    return _("Cost not stated: ask when you get in touch")


def _season(params: Mapping[str, Any], language: str) -> Message:
    if params.get("resumes_on"):
        return _("Resumes on %(date)s") % {"date": _date(params["resumes_on"])}
    return _("Starts on %(date)s") % {"date": _date(params["starts_on"])}


def _need(params: Mapping[str, Any], language: str) -> Message:
    term = taxonomy_terms_by_code([params["term"]]).get(params["term"])
    name = term.label(language).lower() if term else params["term"]
    return _("Answers: %(need)s") % {"need": name}


_REASON_TEXTS: dict[str, Renderer] = {
    "distance": _distance,
    "schedule": _schedule,
    "language": _language,
    "cost": _cost,
    "resumes": _season,
    "need": _need,
    "accessibility": lambda params, language: ACCESSIBILITY_REASONS[params["need"]],
    "capacity": lambda params, language: _("Waiting list: call first"),
}


# --- Why nothing was found -----------------------------------------------------------


def explanation(code: str, alternatives: int, **params: Any) -> Reason:
    """An unmatched explanation as stored: the first filter that left nothing, what
    relaxing it would find, and the message's parameters (see `_EXPLANATION_TEXTS`)."""
    return {"code": code, "alternatives": alternatives, "params": params}


def _needs_unused(params: Mapping[str, Any], language: str) -> Message:
    terms = taxonomy_terms_by_code(list(params["needs"]))
    names = ", ".join(terms[n].label(language) if n in terms else n for n in params["needs"])
    return _("These needs are no longer in use: %(needs)s. File the referral with others.") % {
        "needs": names
    }


def _said(params: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The parameters as a message writes them: kilometres and weeks without a useless
    ".0", a date as the language writes it, a language by its name."""
    said: dict[str, Any] = dict(params)
    for name in ("km", "wider", "weeks"):
        if name in said:
            said[name] = _number(said[name])
    if "date" in said:
        said["date"] = _date(said["date"])
    if "language" in said:
        said["language"] = language_name(said["language"], language)
    return said


def _distance_unmatched(params: Mapping[str, Any], language: str) -> Message:
    # With a count, what a wider radius finds; without, nothing farther either.
    if "count" in params:
        return _("Nothing within %(km)s km; %(count)s within %(wider)s km.") % _said(
            params, language
        )
    return _("Nothing within %(wider)s km either: try other needs.") % _said(params, language)


_UNMAPPED = ngettext_lazy(
    "Nothing nearby is known to answer these needs, but %(count)s activity "
    "within %(km)s km may: it is classed in a directory's terms that are not "
    "mapped yet, and the territory's coordinator can map them.",
    "Nothing nearby is known to answer these needs, but %(count)s activities "
    "within %(km)s km may: they are classed in a directory's terms that are "
    "not mapped yet, and the territory's coordinator can map them.",
    "count",
)


def _schedule_unmatched(params: Mapping[str, Any], language: str) -> Message:
    # With a date, the first session after the horizon; without, everything has ended.
    if "date" in params:
        message = _(
            "Nothing within %(km)s km meets in the next %(weeks)s weeks; "
            "%(count)s start again later, the first on %(date)s."
        )
    else:
        message = _(
            "Nothing within %(km)s km meets in the next %(weeks)s weeks: the "
            "%(count)s activities found have ended."
        )
    return message % _said(params, language)


def _message(message: Message) -> Renderer:
    return lambda params, language: message % _said(params, language)


_EXPLANATION_TEXTS: dict[str, Renderer] = {
    "needs": _needs_unused,
    "distance": _distance_unmatched,
    "unmapped": _message(_UNMAPPED),
    "schedule": _schedule_unmatched,
    "language": _message(
        _("Nothing in %(language)s within %(km)s km; %(count)s in other languages.")
    ),
    "age": _message(_("Nothing open to this age within %(km)s km; %(count)s for other ages.")),
    "cost": _message(_("Nothing free within %(km)s km; %(count)s with a fee.")),
    "capacity": _message(_("The %(count)s suitable activities within %(km)s km are full.")),
    "offered": _message(_("Everything suitable within %(km)s km has already been offered.")),
}
