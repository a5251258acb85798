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

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Case, ExpressionWrapper, F, FloatField, Q, Value, When
from django.utils import timezone

from community_catalog.models import Accessibility
from community_catalog.selectors import (
    match_codes,
)
from matching.candidates import (
    CandidateRow,
    MatchFilters,
    match_candidate_page,
    match_candidate_rows,
)
from matching.parts import (
    ACCESSIBILITY_WORDS,
    CAPACITY_SCORE,
    COST_SCORE,
    FIT_SHARE,
    INTERPRETATION_SCORE,
    PAID_SCORE,
    PARTS,
    SOON_DAYS,
    STALE_SCORE,
    UNKNOWN_SCHEDULE_FIT,
)
from matching.reasons import Reason, reasons_for

if TYPE_CHECKING:
    # Only read: matching takes the referral's fields (`Person.of`), never its model.
    from referrals.models import Referral


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
    reasons: list[Reason] = field(default_factory=list)
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
