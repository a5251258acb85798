"""Matching: for one referral, the few activities this person is most likely to attend,
and why, in words they understand.

Plain functions over the catalogue, testable without a broker; the actors only call
`referral_match`, `referral_rematch` and `capacity_changed`.

1. **Hard filters**, in the database (`matching.candidates.match_candidate_rows`):
   a need reaches its activity kinds through the taxonomy (`match_codes`, data an
   operator keeps), and a service's terms of other taxonomies through crosswalks; the
   service is active; a session falls within TISSER_OFFER_HORIZON_DAYS (or it has no
   dates: call for times); the person's age is allowed; the place is within their
   travel distance (index-backed bounding box, exact distance in Python); it runs in
   their language or offers interpretation; it is not known to be paid if they asked
   for free (cost not stated passes); it has places left; it was not offered to this
   referral before.
2. **Soft score**: each survivor gets named parts between 0 and 1 (distance, schedule,
   language, cost, accessibility, freshness, capacity), weighted by
   `TISSER_MATCH_WEIGHTS` (settings, with a rationale per weight). The total is their
   weighted mean.
3. **Choice**: the best N (the referral's `matches_wanted`, else
   `TISSER_MATCHES_PER_REFERRAL`), at most one per organisation unless fewer
   organisations have something to offer. Ties are broken by distance, then the
   service's name, then the id: the same input always gives the same order.

Scoring reads only the matching index (`MatchPoint`): the schedule part uses the weekly
slots of the activity, not its recurrence rules, so ranking never walks a rule. Places
are scored in order of the best total each could reach, and scoring stops once no
unscored place can enter the top N: the result is the same as scoring them all.
"""

from __future__ import annotations

import gettext
import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import pycountry
from django.conf import settings
from django.db.models import Case, ExpressionWrapper, F, FloatField, Q, Value, When
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from community_catalog.crosswalks import code_suggestions
from community_catalog.models import Accessibility, Service, ServiceAtLocation
from community_catalog.selectors import (
    bounding_box,
    distance_km,
    match_codes,
    taxonomy_terms_by_code,
)
from community_catalog.service_codes import service_codes
from community_catalog.taxonomy import taxonomy_current
from community_catalog.travel import travel
from events.models import Event
from events.outbox import event_mark_processed
from matching.candidates import (
    CandidateRow,
    MatchFilters,
    match_candidate_page,
    match_candidate_rows,
)
from matching.models import MatchPoint
from referrals.lifecycle import (
    ProposedMatch,
    capacity_full_reject,
    referral_rematch_record,
    referrals_waiting_near,
    rematch_wanted,
    services_offered,
)
from referrals.models import Placement, Referral
from referrals.services import referral_matches_record, referral_to_match

PARTS = ("distance", "schedule", "language", "cost", "accessibility", "freshness", "capacity")
# A first session within this many days scores best; further away scores less.
SOON_DAYS = 28
# Within the schedule part: fitting the person's week matters more than being soon.
FIT_SHARE = 0.7

CAPACITY_SCORE = {"has-capacity": 1.0, "assessment-required": 0.7, "waitlist": 0.4}
INTERPRETATION_SCORE = 0.6
# Free first, then cost not stated (maybe free: the person asks), then paid.
COST_SCORE = {"free": 1.0, "not-stated": 0.6, "paid": 0.3}
PAID_SCORE = COST_SCORE["paid"]
STALE_SCORE = 0.3
UNKNOWN_SCHEDULE_FIT = 0.5

# Words in a place's accessibility description (HSDS has free text) that show it meets
# each need a referral can state, in French and English.
ACCESSIBILITY_WORDS: dict[str, tuple[str, ...]] = {
    "wheelchair": ("wheelchair", "fauteuil", "pmr"),
    "step-free": (
        "step-free",
        "step free",
        "plain-pied",
        "plain pied",
        "sans marche",
        "ascenseur",
        "lift",
        "elevator",
        "ramp",
        "rampe",
    ),
    "hearing-loop": ("hearing loop", "hearing-loop", "boucle magnétique", "boucle magnetique"),
    "sight-loss": ("braille", "large print", "gros caractères", "malvoyant", "visually impaired"),
    "quiet-space": ("quiet", "calme"),
    "accessible-toilet": (
        "accessible toilet",
        "toilettes accessibles",
        "toilettes adaptées",
        "wc pmr",
        "toilettes pmr",
    ),
}
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


# --- The person ----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    weekday: str
    start: time
    end: time


@dataclass(frozen=True)
class Person:
    """What matching needs to know about the referral, read once."""

    latitude: float
    longitude: float
    max_distance_km: float
    language: str
    needs: list[str]
    age_range: tuple[int, int]
    availability: list[Window]
    accessibility_needs: list[str]
    free_only: bool
    count: int
    codes: set[str]
    today: date

    @classmethod
    def of(cls, referral: Referral, *, today: date | None = None) -> Person:
        if (
            referral.year_of_birth is None
            or referral.latitude is None
            or referral.longitude is None
        ):
            # Only a closed referral is erased, and a closed one is never matched.
            raise ValueError(f"Referral {referral.id}'s personal data was erased.")
        today = today or timezone.localdate()
        age = today.year - referral.year_of_birth
        needs = sorted(t.code for t in referral.needs.all())
        return cls(
            latitude=referral.latitude,
            longitude=referral.longitude,
            max_distance_km=referral.max_distance_km,
            language=referral.preferred_language,
            needs=needs,
            # Without a birthday, the age is one of two.
            age_range=(max(0, age - 1), age),
            availability=[
                Window(w["weekday"], time.fromisoformat(w["start"]), time.fromisoformat(w["end"]))
                for w in referral.availability
            ],
            accessibility_needs=list(referral.accessibility_needs),
            free_only=referral.free_only,
            count=referral.matches_wanted or settings.TISSER_MATCHES_PER_REFERRAL,
            codes=match_codes(needs),
            today=today,
        )

    def filters(self, exclude_services: Iterable[uuid.UUID] = ()) -> MatchFilters:
        return MatchFilters(
            codes=self.codes,
            latitude=self.latitude,
            longitude=self.longitude,
            radius_km=self.max_distance_km,
            language=self.language,
            age_range=self.age_range,
            today=self.today,
            horizon_days=settings.TISSER_OFFER_HORIZON_DAYS,
            free_only=self.free_only,
            exclude_services=frozenset(exclude_services),
        )


# --- Scoring -------------------------------------------------------------------------


@dataclass(eq=False)
class Candidate:
    """One activity at one place, with its score parts; `total` follows `parts` (see
    `rescore`)."""

    row: CandidateRow
    parts: dict[str, float]
    fit_slot: tuple[str, time, bool] | None  # (weekday, opens, monthly) that suits best
    accessibility_met: list[str]
    reasons: list[dict[str, str]] = field(default_factory=list)
    total: float = 0.0
    _key: tuple[float, float, str, str] | None = None

    def rescore(self) -> None:
        self.total = weighted(self.parts)
        self._key = None

    def key(self) -> tuple[float, float, str, str]:
        """Best first; ties: nearer, then the service's name, then the id."""
        if self._key is None:
            self._key = (
                -round(self.total, 6),
                round(self.row.distance_km, 6),
                self.row.service_name.casefold(),
                self.row.id,
            )
        return self._key


def weighted(parts: dict[str, float]) -> float:
    weights = settings.TISSER_MATCH_WEIGHTS
    total_weight = sum(weights[name] for name in parts) or 1.0
    return sum(weights[name] * score for name, score in parts.items()) / total_weight


def distance_part(km: float, max_km: float) -> float:
    """1 at the door, 0 at the edge of the travel distance."""
    return max(0.0, 1.0 - km / max_km) if max_km > 0 else 0.0


_WEEKDAY_INDEX = {day: i for i, day in enumerate(("MO", "TU", "WE", "TH", "FR", "SA", "SU"))}


@lru_cache(maxsize=4096)
def _slots(text: str) -> tuple[tuple[str, time, time, bool], ...]:
    """'TU 14:00 16:30 W;FR 09:00 11:00 M' (see `slots_text`) → (day, opens, closes,
    monthly) tuples."""
    slots = []
    for item in text.split(";") if text else []:
        parts = item.split(" ")
        if len(parts) != 4 or parts[0] not in _WEEKDAY_INDEX:
            continue  # never fail a referral on one odd slot
        day, opens, closes, kind = parts
        try:
            slots.append((day, time.fromisoformat(opens), time.fromisoformat(closes), kind == "M"))
        except ValueError:
            continue
    return tuple(slots)


def schedule_fit(
    slots_text: str, availability: list[Window]
) -> tuple[float, tuple[str, time, bool] | None]:
    """How well the activity's days and hours suit the person's week: 1 when a session
    falls inside one of their windows, 0.5 when it overlaps one, 0 when none does. The
    person needs only one session that suits them. No windows given: any time suits.
    Without a usable schedule, the fit is unknown (0.5)."""
    slots = _slots(slots_text)
    if not slots:
        return UNKNOWN_SCHEDULE_FIT, None
    best, best_slot = -1.0, None
    for day, opens, closes, monthly in sorted(slots, key=lambda s: (s[1], s[0])):
        if not availability:
            fit = 1.0
        else:
            fit = 0.0
            for window in availability:
                if window.weekday != day:
                    continue
                if window.start <= opens and closes <= window.end:
                    fit = 1.0
                elif opens < window.end and window.start < closes:
                    fit = max(fit, 0.5)
        if fit > best:
            best, best_slot = fit, (day, opens, monthly)
    return best, best_slot


# A monthly session is, on average, two weeks away.
MONTHLY_DAYS_AWAY = 14


@lru_cache(maxsize=8192)
def schedule_part(
    slots_text: str,
    availability: tuple[Window, ...],
    weekday: int,
    clock: time,
    days_to_start: int = 0,
) -> tuple[float, tuple[str, time, bool] | None]:
    """The schedule part (fit and soonness) and the slot that fits best, for a person's
    week and the local day and time. `days_to_start`: days until the current run of
    sessions begins (a seasonal activity not yet back). Cached: many places share their
    slots."""
    fit, slot = schedule_fit(slots_text, list(availability))
    soon = _soon(_slots(slots_text), weekday, clock)
    if days_to_start > 0:
        soon = min(soon, max(0.0, 1.0 - days_to_start / SOON_DAYS))
    return FIT_SHARE * fit + (1 - FIT_SHARE) * soon, slot


def days_to_start(row: CandidateRow, today: date) -> int:
    """Days until the place's current run of sessions begins; 0 when it has begun."""
    return max(0, (row.run_from - today).days) if row.run_from else 0


def _soon(slots: tuple[tuple[str, time, time, bool], ...], today: int, clock: time) -> float:
    """1 for a session later today, falling to 0 at SOON_DAYS away (or none known).

    Read from the weekly slots, not the full rules, so that ranking never walks a
    recurrence rule: exact for weekly sessions, an average for monthly ones; a rule that
    skips weeks counts as weekly. The slip prints the exact dates.
    """
    if not slots:
        return 0.0
    soonest = float(SOON_DAYS)
    for day, opens, _closes, monthly in slots:
        if monthly:
            days = MONTHLY_DAYS_AWAY
        else:
            days = (_WEEKDAY_INDEX[day] - today) % 7
            if days == 0 and opens <= clock:
                days = 7
        soonest = min(soonest, days)
    return 1.0 - soonest / SOON_DAYS


_CLAUSE = re.compile(r"[.;,\n(){}\[\]]+")
_NEGATION = re.compile(r"\b(pas|sans|non|aucun|aucune|ni|no|not|without)\b|\bn['\u2019]")


def accessibility_met(texts: list[str], needs: list[str]) -> list[str]:
    """The needs a place's accessibility description says it meets. Whole words only,
    and a clause with a negation ("pas d'ascenseur", "not wheelchair accessible") never
    counts: better to say nothing than to promise access that is not there."""
    if not texts or not needs:
        return []
    clauses = [
        clause
        for clause in _CLAUSE.split(" ".join(texts).casefold())
        if clause.strip() and not _NEGATION.search(clause)
    ]
    return [need for need in needs if any(_need_pattern(need).search(clause) for clause in clauses)]


@lru_cache(maxsize=64)
def _need_pattern(need: str) -> re.Pattern[str]:
    words = (need, *ACCESSIBILITY_WORDS.get(need, ()))
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")


def freshness_part(assured: date | None, today: date) -> float:
    """Confirmed within TISSER_STALE_AFTER_DAYS: 1; never confirmed or stale: lower."""
    if assured is None:
        return STALE_SCORE
    age = (today - assured).days
    return 1.0 if age <= settings.TISSER_STALE_AFTER_DAYS else STALE_SCORE


def candidate_score(
    row: CandidateRow, accessibility_texts: list[str], person: Person, now: datetime
) -> Candidate:
    """Every part of the score, from the matching index alone."""
    local = timezone.localtime(now)
    today = local.date()
    schedule, slot = schedule_part(
        row.slots,
        tuple(person.availability),
        local.weekday(),
        _minute(local.time()),
        days_to_start(row, today),
    )
    met = accessibility_met(accessibility_texts, person.accessibility_needs)
    parts = {
        "distance": distance_part(row.distance_km, person.max_distance_km),
        "schedule": schedule,
        "language": 1.0 if row.runs_in_language else INTERPRETATION_SCORE,
        "cost": COST_SCORE.get(row.cost, PAID_SCORE),
        "accessibility": (
            len(met) / len(person.accessibility_needs) if person.accessibility_needs else 1.0
        ),
        "freshness": freshness_part(row.assured_date, today),
        "capacity": CAPACITY_SCORE.get(row.capacity_status, 1.0),
    }
    candidate = Candidate(row, parts, slot, met)
    candidate.rescore()
    return candidate


def finish(candidate: Candidate, person: Person) -> None:
    """Write the reasons of a chosen candidate."""
    candidate.reasons = reasons_for(candidate, person)


# --- Choice --------------------------------------------------------------------------


def choose(candidates: list[Candidate], count: int) -> list[Candidate]:
    """The best `count`, at most one per organisation; when fewer organisations have
    something to offer, the best of the rest fill the list. Never the same service
    twice (a service met at two places is one offer)."""
    ordered = sorted(candidates, key=Candidate.key)
    chosen: list[Candidate] = []
    organizations: set[str] = set()
    services: set[str] = set()
    for candidate in ordered:
        if len(chosen) < count and candidate.row.organization_id not in organizations:
            chosen.append(candidate)
            organizations.add(candidate.row.organization_id)
            services.add(candidate.row.service_id)
    for candidate in ordered:
        if len(chosen) >= count:
            break
        if candidate.row.service_id not in services:
            chosen.append(candidate)
            services.add(candidate.row.service_id)
    return sorted(chosen, key=Candidate.key)


def match(
    referral: Referral,
    *,
    exclude_services: Iterable[uuid.UUID] = (),
    count: int | None = None,
    now: datetime | None = None,
    person: Person | None = None,
) -> list[Candidate]:
    """The ranked candidates for `referral`: the matching module's one entry point.

    Every place that passes the hard filters gets a cheap bound first: its distance,
    language, cost, capacity and freshness parts, with full marks for schedule and
    accessibility. Places are then scored in full in order of that bound, a batch at a
    time, until no unscored place could enter the choice. The result is the same as
    scoring every place.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    person = person or Person.of(referral, today=today)
    count = person.count if count is None else count
    filters = person.filters(exclude_services)
    # The likeliest places first, ordered by the database on a bound of their total;
    # the rest only if one of them could still enter the choice.
    page = match_candidate_page(filters, order=_sql_bound(person, today), limit=_PAGE)
    chosen = _best(page.rows, person, now, count)
    if not page.complete and not (
        _settled(chosen, count) and page.floor < min(c.total for c in chosen) - 1e-6
    ):
        chosen = _best(match_candidate_rows(filters), person, now, count)
    for candidate in chosen:
        finish(candidate, person)
    return chosen


def _settled(chosen: list[Candidate], count: int) -> bool:
    """A full choice, all from different organisations: nothing scoring lower can enter
    it. (A choice filled from one organisation could still be displaced by a lower
    score from another.)"""
    return len(chosen) == count and len({c.row.organization_id for c in chosen}) == count


def _best(rows: list[CandidateRow], person: Person, now: datetime, count: int) -> list[Candidate]:
    """`choose` over `rows`, scoring them in order of their bound, a batch at a time,
    until nothing unscored can enter the choice."""
    if not rows:
        return []
    bounds = sorted(_bounds(rows, person, now), key=lambda b: (-b[0], b[1]))
    texts = _accessibility_of(rows) if person.accessibility_needs else {}
    candidates: list[Candidate] = []
    chosen: list[Candidate] = []
    for start in range(0, len(bounds), _BATCH):
        if _settled(chosen, count) and bounds[start][0] < min(c.total for c in chosen) - 1e-6:
            break
        for _bound, i in bounds[start : start + _BATCH]:
            row = rows[i]
            candidates.append(candidate_score(row, texts.get(row.location_id, []), person, now))
        chosen = choose(candidates, count)
    return chosen


# Rows read first, best bound first; enough for the choice nearly always.
_PAGE = 150


def _sql_bound(person: Person, today: date) -> Any:
    """An upper bound of each place's total, computed by the database: the parts it can
    see exactly (language, cost, capacity, freshness), full marks for schedule and
    accessibility, and for distance 1 - (d/max)², which is never below 1 - d/max. The
    distance is the flat-earth one, shortened by 1% so it never exceeds the true one."""
    w = settings.TISSER_MATCH_WEIGHTS
    total_weight = sum(w[p] for p in PARTS) or 1.0
    km_per_degree = 111.19
    lat_scale = km_per_degree * 0.995
    lon_scale = km_per_degree * 0.995 * math.cos(math.radians(person.latitude))
    north = (F("latitude") - person.latitude) * lat_scale
    east = (F("longitude") - person.longitude) * lon_scale
    distance = Value(1.0) - (north * north + east * east) / (person.max_distance_km**2)
    number = FloatField()
    speaks = Q(languages__contains=f",{person.language},")
    if person.language == settings.TISSER_CATALOG_LANGUAGE:
        speaks |= Q(languages__contains=",*,")
    language = Case(When(speaks, then=Value(1.0)), default=Value(INTERPRETATION_SCORE))
    cost = Case(
        *(When(cost=state, then=Value(score)) for state, score in COST_SCORE.items()),
        default=Value(PAID_SCORE),
    )
    capacity = Case(
        *(When(capacity_status=k, then=Value(v)) for k, v in CAPACITY_SCORE.items()),
        default=Value(1.0),
    )
    fresh_since = today - timedelta(days=settings.TISSER_STALE_AFTER_DAYS)
    freshness = Case(
        When(assured_date__gte=fresh_since, then=Value(1.0)), default=Value(STALE_SCORE)
    )
    return ExpressionWrapper(
        (
            w["distance"] * distance
            + Value(w["schedule"] + w["accessibility"])
            + w["language"] * language
            + w["cost"] * cost
            + w["capacity"] * capacity
            + w["freshness"] * freshness
        )
        / total_weight,
        output_field=number,
    )


# Places scored in full at a time, in order of their bound.
_BATCH = 24


def _minute(clock: time) -> time:
    return clock.replace(second=0, microsecond=0)


def _bounds(rows: list[CandidateRow], person: Person, now: datetime) -> list[tuple[float, int]]:
    """For each row, the best total it can reach: every part but accessibility as it
    is, accessibility at full marks. Written out flat: it runs for every candidate."""
    w = settings.TISSER_MATCH_WEIGHTS
    total_weight = sum(w[p] for p in PARTS) or 1.0
    sure = w["accessibility"]
    w_schedule = w["schedule"]
    local = timezone.localtime(now)
    today, weekday, clock = local.date(), local.weekday(), _minute(local.time())
    week = tuple(person.availability)
    w_distance, w_language, w_cost = w["distance"], w["language"], w["cost"]
    w_capacity, w_freshness = w["capacity"], w["freshness"]
    max_km = person.max_distance_km
    bounds = []
    for i, row in enumerate(rows):
        score = (
            sure
            + w_distance * distance_part(row.distance_km, max_km)
            + w_language * (1.0 if row.runs_in_language else INTERPRETATION_SCORE)
            + w_cost * COST_SCORE.get(row.cost, PAID_SCORE)
            + w_capacity * CAPACITY_SCORE.get(row.capacity_status, 1.0)
            + w_freshness * freshness_part(row.assured_date, today)
            + w_schedule
            * schedule_part(row.slots, week, weekday, clock, days_to_start(row, today))[0]
        )
        bounds.append((score / total_weight, i))
    return bounds


def _accessibility_of(rows: list[CandidateRow]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for location_id, description, details in Accessibility.objects.filter(
        location_id__in={uuid.UUID(r.location_id) for r in rows}
    ).values_list("location_id", "description", "details"):
        found.setdefault(str(location_id), []).append(f"{description} {details}")
    return found


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


# --- Proposals and the unmatched explanation -----------------------------------------


def proposals_for(
    referral: Referral, *, exclude_services: set[uuid.UUID] | None = None, count: int | None = None
) -> list[ProposedMatch]:
    """The ranked proposals, ready to store, reasons complete. Everything recording them
    needs comes with the matching index's rows: nothing more is read."""
    person = Person.of(referral)
    chosen = match(referral, exclude_services=exclude_services or (), count=count, person=person)
    proposals = []
    for candidate in chosen:
        reasons = list(candidate.reasons)
        need = need_reason(candidate.row.codes, person)
        if need:
            reasons.insert(0, need)
        proposals.append(
            ProposedMatch(
                service_at_location_id=uuid.UUID(candidate.row.id),
                service_id=uuid.UUID(candidate.row.service_id),
                organization_id=uuid.UUID(candidate.row.organization_id),
                score=round(candidate.total, 4),
                distance_km=candidate.row.distance_km,
                reasons=reasons,
                parts={name: round(score, 4) for name, score in candidate.parts.items()},
            )
        )
    return proposals


def unmatched_explanation(referral: Referral) -> dict[str, Any]:
    """Why nothing was found, in words a clinician can act on: the first hard filter
    that leaves nothing, and what relaxing it would find. Counts are of activities the
    person could attend but for that one filter. In order: distance (or, with nothing
    of the kind near, activities whose other directory's terms are not mapped yet), no
    session soon, language, age, cost, places left, already offered."""
    person = Person.of(referral)
    base = person.filters(services_offered(referral))
    km, wider = person.max_distance_km, max(person.max_distance_km * 2, 10.0)
    taxonomy = taxonomy_current()
    retired = [need for need in person.needs if not taxonomy.active(need)]
    if retired and not person.codes:
        names = {lang: [taxonomy.terms[n].label(lang) for n in retired] for lang in ("fr", "en")}
        return _explained(
            "needs",
            0,
            _("These needs are no longer in use: %(needs)s. File the referral with others."),
            needs=lambda lang: ", ".join(names[lang]),
        )
    said = {"km": f"{km:g}", "wider": f"{wider:g}"}
    # Everything of the kind wanted nearby, whatever the other filters say.
    anything = replace(
        base,
        check_language=False,
        check_age=False,
        check_capacity=False,
        check_time=False,
        free_only=False,
        exclude_services=frozenset(),
    )

    def count(filters: MatchFilters) -> int:
        return len(match_candidate_rows(filters))

    if not count(anything):
        farther = count(replace(base, radius_km=wider))
        if farther:
            return _explained(
                "distance",
                farther,
                _("Nothing within %(km)s km; %(count)s within %(wider)s km."),
                count=farther,
                **said,
            )
        unmapped = _unmapped_near(person)
        if unmapped:
            return _explained(
                "unmapped",
                unmapped,
                ngettext_lazy(
                    "Nothing nearby is known to answer these needs, but %(count)s activity "
                    "within %(km)s km may: it is classed in a directory's terms that are not "
                    "mapped yet, and the territory's coordinator can map them.",
                    "Nothing nearby is known to answer these needs, but %(count)s activities "
                    "within %(km)s km may: they are classed in a directory's terms that are "
                    "not mapped yet, and the territory's coordinator can map them.",
                    "count",
                ),
                count=unmapped,
                **said,
            )
        return _explained(
            "distance", 0, _("Nothing within %(wider)s km either: try other needs."), **said
        )
    timed = replace(anything, check_time=True)
    if not count(timed):
        rows = match_candidate_rows(anything)
        later = sorted(r.run_from for r in rows if r.run_from is not None)
        weeks = f"{settings.TISSER_OFFER_HORIZON_DAYS / 7:g}"
        if later:
            return _explained(
                "schedule",
                len(later),
                _(
                    "Nothing within %(km)s km meets in the next %(weeks)s weeks; "
                    "%(count)s start again later, the first on %(date)s."
                ),
                count=len(later),
                weeks=weeks,
                date=later[0],
                **said,
            )
        return _explained(
            "schedule",
            0,
            _(
                "Nothing within %(km)s km meets in the next %(weeks)s weeks: the "
                "%(count)s activities found have ended."
            ),
            count=len(rows),
            weeks=weeks,
            **said,
        )
    spoken = replace(timed, check_language=True)
    if not count(spoken):
        others = count(timed)
        return _explained(
            "language",
            others,
            _("Nothing in %(language)s within %(km)s km; %(count)s in other languages."),
            count=others,
            language=lambda lang: language_names(person.language)[0 if lang == "fr" else 1],
            **said,
        )
    allowed = replace(spoken, check_age=True)
    if not count(allowed):
        others = count(spoken)
        return _explained(
            "age",
            others,
            _("Nothing open to this age within %(km)s km; %(count)s for other ages."),
            count=others,
            **said,
        )
    if person.free_only and not count(replace(allowed, free_only=True)):
        paid = count(allowed)
        return _explained(
            "cost",
            paid,
            _("Nothing free within %(km)s km; %(count)s with a fee."),
            count=paid,
            **said,
        )
    affordable = replace(allowed, free_only=person.free_only)
    if not count(replace(affordable, check_capacity=True)):
        full = count(affordable)
        return _explained(
            "capacity",
            full,
            _("The %(count)s suitable activities within %(km)s km are full."),
            count=full,
            **said,
        )
    return _explained(
        "offered", 0, _("Everything suitable within %(km)s km has already been offered."), **said
    )


def _unmapped_near(person: Person) -> int:
    """Active places within the person's distance whose service carries a term of
    another taxonomy that no crosswalk maps yet, and that may be what they need: one of
    the codes suggested from the term's label answers their needs."""
    lat_range, lon_range = bounding_box(person.latitude, person.longitude, person.max_distance_km)
    services = {
        service_key
        for service_key, latitude, longitude in MatchPoint.objects.filter(
            latitude__range=lat_range, longitude__range=lon_range, active=True, unmapped=True
        ).values_list("service_key", "latitude", "longitude")
        if distance_km(person.latitude, person.longitude, latitude, longitude)
        <= person.max_distance_km
    }
    if not services:
        return 0
    taxonomy = taxonomy_current()
    relevant: dict[tuple[str, str], bool] = {}
    found = set()
    for service_id, term_taxonomy, code, label in Service.foreign_terms.through.objects.filter(
        service_id__in=[uuid.UUID(s) for s in services]
    ).values_list("service_id", "foreignterm__taxonomy", "foreignterm__code", "foreignterm__label"):
        key = (term_taxonomy, code)
        if taxonomy.mapping(*key) is not None:
            continue
        if key not in relevant:
            suggested = set(code_suggestions(label, code))
            relevant[key] = bool(taxonomy.codes_under(suggested) & person.codes)
        if relevant[key]:
            found.add(service_id)
    return len(found)


def _explained(code: str, alternatives: int, message: Message, **params: Any) -> dict[str, Any]:
    return {"alternatives": alternatives, **bilingual(code, message, **params)}


# --- Jobs ----------------------------------------------------------------------------


def referral_match(*, referral_id: uuid.UUID, event_id: int) -> None:
    """Match a submitted referral and record the result. Safe to run twice.

    Matching reads the referral without a lock and records what it found in one
    transaction: whatever happened meanwhile (a cancellation, a consent withdrawal,
    another run of the job) is checked there, under the referral's lock."""
    referral = referral_to_match(referral_id=referral_id, event_id=event_id)
    if referral is None:
        return
    proposals = proposals_for(referral)
    explanation = {} if proposals else unmatched_explanation(referral)
    referral_matches_record(
        referral=referral, event_id=event_id, proposals=proposals, explanation=explanation
    )


def referral_rematch(*, referral_id: uuid.UUID, event_id: int | None) -> None:
    """Offer the next best activities after a placement was rejected or expired, never a
    service already offered to this referral. Safe to run twice: under the referral's
    lock, only as many are offered as are still wanted."""
    referral = Referral.objects.filter(id=referral_id).first()
    if referral is None:
        if event_id is not None:
            event_mark_processed(event_id)
        return
    wanted = rematch_wanted(referral)
    proposals = (
        proposals_for(referral, exclude_services=services_offered(referral), count=wanted)
        if wanted
        else []
    )
    explanation = unmatched_explanation(referral) if wanted and not proposals else None
    referral_rematch_record(
        referral_id=referral_id, event_id=event_id, proposals=proposals, explanation=explanation
    )


def placement_rematch(*, placement_id: uuid.UUID, event_id: int) -> None:
    referral_id = (
        Placement.objects.filter(id=placement_id).values_list("referral_id", flat=True).first()
    )
    if referral_id is None:
        event_mark_processed(event_id)
        return
    referral_rematch(referral_id=referral_id, event_id=event_id)


def capacity_changed(*, event_id: int) -> None:
    """A place filled up: its waiting placements are rejected (`no-capacity`), and each
    rejection re-matches its referral. A place opened up: referrals near it that have
    nothing on offer and need what it offers are matched again."""
    event = Event.objects.filter(id=event_id).first()
    if event is None:
        return
    # One place (the capacity endpoint), or every place of the service (an import).
    sal_id = (event.payload or {}).get("service_at_location_id")
    sals = ServiceAtLocation.objects.select_related("location").filter(
        **({"id": sal_id} if sal_id else {"service_id": event.aggregate_id})
    )
    for sal in sals:
        if sal.capacity_status == ServiceAtLocation.CapacityStatus.NO_CAPACITY:
            capacity_full_reject(service_at_location_id=sal.id)
        elif (
            sal.capacity_status == ServiceAtLocation.CapacityStatus.HAS_CAPACITY
            and sal.location.latitude is not None
            and sal.location.longitude is not None
        ):
            codes = list(service_codes([sal.service_id])[sal.service_id].codes)
            for referral_id in referrals_waiting_near(
                latitude=sal.location.latitude,
                longitude=sal.location.longitude,
                taxonomy_codes=codes,
            ):
                referral_rematch(referral_id=referral_id, event_id=None)
    event_mark_processed(event_id)
