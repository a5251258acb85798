"""Reads of the catalogue: search, the taxonomy tree, postcodes."""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cachetools import TTLCache
from django.conf import settings
from django.db import connection
from django.db.models import Avg, CharField, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Cast

from community_catalog.models import (
    Contact,
    Crosswalk,
    ForeignTerm,
    Language,
    Location,
    PostalCode,
    Schedule,
    Service,
    ServiceAtLocation,
)
from community_catalog.taxonomy import TermInfo, taxonomy_current
from core.caches import cache_register
from matching.models import MatchPoint

EARTH_RADIUS_KM = 6371.0088
# Confidential places are located for distances at the centre of a 0.01° grid cell.
CONFIDENTIAL_GRID_KM = 1.2
# Ids per query when filtering on a list of locations (SQLite and PostgreSQL both cap the
# number of parameters in one statement).
IDS_PER_QUERY = 10_000


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def public_position(latitude: float, longitude: float, confidential: bool) -> tuple[float, float]:
    """Where a place is, for distances: a confidential one (a shelter, a home) at the
    centre of its 0.01° grid cell (about 1 km), so that no sequence of searches or
    referrals can pin it down more closely than that."""
    if confidential:
        return round(latitude, 2), round(longitude, 2)
    return latitude, longitude


def bounding_box(
    latitude: float, longitude: float, radius_km: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The latitude and longitude ranges of a box holding the circle of `radius_km`."""
    dlat = radius_km / 111.2
    dlon = radius_km / (111.2 * max(math.cos(math.radians(latitude)), 0.01))
    return (latitude - dlat, latitude + dlat), (longitude - dlon, longitude + dlon)


def taxonomy_terms_by_code(codes: list[str]) -> dict[str, TermInfo]:
    """The terms of these codes, active or not, from this process's copy of the
    taxonomy (`community_catalog.taxonomy`)."""
    terms = taxonomy_current().terms
    return {code: terms[code] for code in codes if code in terms}


def taxonomy_codes_under(codes: list[str]) -> set[str]:
    """`codes` and every active code below them in the tree: a search for physical
    activity finds walking groups."""
    return taxonomy_current().codes_under(codes)


def match_codes(needs: list[str]) -> set[str]:
    """The taxonomy codes that answer `needs` (see `Taxonomy.match_codes`)."""
    return taxonomy_current().match_codes(needs)


# Postcodes found, for an hour per process: a referral by postcode asks for one, and the
# table changes only when an operator loads a new file (`tisser load-postcodes`, which
# clears this process's copy).
postcode_positions: TTLCache[tuple[str, str], tuple[float, float]] = TTLCache(
    maxsize=50_000, ttl=3600
)
_postcode_lock = threading.Lock()


@cache_register
def postcode_positions_forget() -> None:
    with _postcode_lock:
        postcode_positions.clear()


def postcode_position(postal_code: str, country_code: str = "FR") -> tuple[float, float] | None:
    """The centre of a postcode (the mean of its places), from the PostalCode table."""
    key = (country_code.upper(), postal_code.strip().upper())
    with _postcode_lock:
        position = postcode_positions.get(key)
    if position is not None:
        return position
    found = PostalCode.objects.filter(country_code=key[0], postal_code=key[1]).aggregate(
        lat=Avg("latitude"), lon=Avg("longitude")
    )
    if found["lat"] is None:
        return None  # not kept: a postcode loaded later is found at once
    position = (float(found["lat"]), float(found["lon"]))
    with _postcode_lock:
        postcode_positions[key] = position
    return position


# --- Search --------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogQuery:
    needs: list[str] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float = 10.0
    language: str | None = None
    weekday: str | None = None
    free: bool | None = None
    cost: tuple[str, ...] = ()
    q: str = ""
    organization_id: uuid.UUID | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class Found:
    service_at_location: ServiceAtLocation
    distance_km: float | None


def locations_within(latitude: float, longitude: float, radius_km: float) -> dict[uuid.UUID, float]:
    """Locations within `radius_km` of a point, with their distance.

    One query on the (latitude, longitude) index for the bounding box, then exact
    distances in Python. Search and matching start here, so the database never has to
    guess which of their filters is the selective one.
    """
    # The box is widened by a grid cell, where confidential places are put (see below).
    lat_range, lon_range = bounding_box(latitude, longitude, radius_km + CONFIDENTIAL_GRID_KM)
    found: dict[uuid.UUID, float] = {}
    for location_id, lat, lon, confidential in Location.objects.filter(
        latitude__range=lat_range, longitude__range=lon_range
    ).values_list("id", "latitude", "longitude", "is_confidential"):
        if lat is None or lon is None:  # excluded by the range; this tells mypy
            continue
        km = distance_km(latitude, longitude, *public_position(lat, lon, confidential))
        if km <= radius_km:
            found[location_id] = km
    return found


def catalog_search(query: CatalogQuery) -> tuple[int, list[Found]]:
    """Active activities matching every filter given; nearest first when a point is
    given, else by name. Returns the total and the requested page.

    1. With a point: the locations within the radius (index-backed bounding box, exact
       distances in Python).
    2. The service_at_locations at those places that pass every other filter, as
       EXISTS subqueries (no join fan-out, no DISTINCT): status, taxonomy, language,
       weekday, cost, words. Only ids, distances and names come back.
    3. Sorted and paginated in Python; the page's rows are then loaded with everything
       the results show.
    """
    rows = ServiceAtLocation.objects.filter(service__status=Service.Status.ACTIVE).order_by()
    if query.needs:
        rows = rows.filter(_answers(taxonomy_codes_under(query.needs)))
    if query.language:
        rows = rows.filter(_speaks(query.language))
    if query.weekday:
        own = Schedule.objects.filter(service_at_location=OuterRef("pk"))
        rows = rows.filter(
            Exists(own.filter(weekdays__contains=query.weekday))
            | (
                ~Exists(own)
                & Exists(
                    Schedule.objects.filter(
                        service_id=OuterRef("service_id"), weekdays__contains=query.weekday
                    )
                )
            )
        )
    if query.free is True:
        rows = rows.filter(service__cost=Service.Cost.FREE)
    elif query.free is False:
        rows = rows.exclude(service__cost=Service.Cost.FREE)
    if query.cost:
        rows = rows.filter(service__cost__in=query.cost)
    if query.q:
        rows = rows.filter(
            Q(service__name__icontains=query.q)
            | Q(service__description__icontains=query.q)
            | Q(service__organization__name__icontains=query.q)
        )
    if query.organization_id:
        rows = rows.filter(service__organization_id=query.organization_id)

    ranked: list[tuple[float, str, uuid.UUID, float | None]] = []
    if query.latitude is not None and query.longitude is not None:
        distances = locations_within(query.latitude, query.longitude, query.radius_km)
        location_ids = list(distances)
        for start in range(0, len(location_ids), IDS_PER_QUERY):
            chunk = location_ids[start : start + IDS_PER_QUERY]
            for sal_id, location_id, name in rows.filter(location_id__in=chunk).values_list(
                "id", "location_id", "service__name"
            ):
                km = distances[location_id]
                ranked.append((km, name.casefold(), sal_id, km))
    else:
        ranked = [
            (0.0, name.casefold(), sal_id, None)
            for sal_id, name in rows.values_list("id", "service__name")
        ]
    ranked.sort(key=lambda r: (r[0], r[1], str(r[2])))
    page = ranked[query.offset : query.offset + query.limit]
    loaded = {
        sal.id: sal
        for sal in search_results_load(
            ServiceAtLocation.objects.filter(id__in=[r[2] for r in page])
        )
    }
    return len(ranked), [Found(loaded[r[2]], r[3]) for r in page if r[2] in loaded]


def _answers(codes: set[str]) -> Any:
    """Services that carry one of `codes`, or a term of another taxonomy that reads as
    one: a crosswalk row says so, or, without a row, its code is one of them (whatever
    its case). Subqueries of constant size, however many crosswalks there are."""
    own = Exists(
        Service.taxonomy_terms.through.objects.filter(
            service_id=OuterRef("service_id"), taxonomyterm__code__in=codes
        )
    )
    same_term = Crosswalk.objects.filter(taxonomy=OuterRef("taxonomy"), code=OuterRef("code"))
    same_code = Q()
    for code in codes:
        same_code |= Q(code__iexact=code)
    reads_as = ForeignTerm.objects.filter(
        Exists(same_term.filter(terms__code__in=codes)) | (same_code & ~Exists(same_term))
    ).values("id")
    foreign = Exists(
        Service.foreign_terms.through.objects.filter(
            service_id=OuterRef("service_id"), foreignterm_id__in=reads_as
        )
    )
    return own | foreign


def _speaks(language: str) -> Any:
    """Run in `language`, spoken at the place, or with interpretation."""
    return _runs_in(language) | ~Q(service__interpretation_services="")


def _runs_in(language: str) -> Any:
    """Run in `language`, or spoken at the place. A service that names no language is
    run in the catalogue's own (`TISSER_CATALOG_LANGUAGE`)."""
    service_languages = Language.objects.filter(service_id=OuterRef("service_id"))
    spoken: Any = Exists(service_languages.filter(code=language)) | Exists(
        Language.objects.filter(location_id=OuterRef("location_id"), code=language)
    )
    if language == settings.TISSER_CATALOG_LANGUAGE:
        spoken |= ~Exists(service_languages)
    return spoken


@dataclass(frozen=True)
class MatchFilters:
    """The hard filters of matching (see matching.engine)."""

    codes: set[str]
    latitude: float
    longitude: float
    radius_km: float
    language: str
    age_range: tuple[int, int]
    # The day matching runs: an activity is offered when a session falls within
    # `horizon_days` of it (see `community_catalog.schedules.OfferRun`).
    today: date
    horizon_days: int
    free_only: bool = False
    exclude_services: frozenset[uuid.UUID] = frozenset()
    # Turned off only to explain why nothing was found.
    check_language: bool = True
    check_age: bool = True
    check_capacity: bool = True
    check_time: bool = True


def offered_on(today: date, horizon_days: int) -> Q:
    """Points with a session within the horizon, or without dates (call for times): the
    database's side of `OfferRun.offered_on`."""
    soon = Q(run_from__lte=today + timedelta(days=horizon_days)) & (
        Q(run_until__isnull=True) | Q(run_until__gte=today)
    )
    return Q(undated=True) | soon


@dataclass(slots=True)
class CandidateRow:
    """What scoring needs of one activity at one place, read from the matching index.
    Ids stay text until a candidate is chosen."""

    id: str
    service_id: str
    organization_id: str
    location_id: str
    service_name: str
    distance_km: float
    capacity_status: str
    cost: str
    assured_date: date | None
    runs_in_language: bool
    interpretation: bool
    slots: str
    # The service's taxonomy codes: its own and what its other terms map to.
    codes: tuple[str, ...] = ()
    # When it meets (see `MatchPoint`): the current run's first day, and whether it
    # resumes or starts then; `undated`: no dates, call for times.
    run_from: date | None = None
    undated: bool = False
    resumes_on: date | None = None
    starts_on: date | None = None


def match_candidate_rows(filters: MatchFilters) -> list[CandidateRow]:
    """Every activity that passes matching's hard filters, with what scoring needs.

    One query on the matching index (`MatchPoint`, kept current by the outbox): the
    (latitude, longitude) index finds the points in the bounding box, and the same query
    keeps those whose service is active, tagged with one of `codes`, meeting within the
    offer horizon (or without dates), open to the person's age, run in their language or
    with interpretation, not known to be paid when free is asked, with places left, and
    not already offered. Exact distances are computed in Python.
    """
    return match_candidate_page(filters).rows


@dataclass
class CandidatePage:
    rows: list[CandidateRow]
    # Whether every row passing the filters is here; if not, `floor` is the lowest
    # `order` value of the rows read (every row left out has at most that).
    complete: bool
    floor: float


def match_candidate_page(
    filters: MatchFilters,
    *,
    order: Any = None,
    limit: int | None = None,
) -> CandidatePage:
    """`match_candidate_rows`, best first by the expression `order` (evaluated in the
    database), and at most `limit` of them: matching reads the likeliest rows first and
    the rest only when they could still matter."""
    lat_range, lon_range = bounding_box(filters.latitude, filters.longitude, filters.radius_km)
    if not filters.codes:
        return CandidatePage([], True, 0.0)
    from matching.index import code_bits

    # The bits find the candidates in the database; the codes are checked below.
    rows = (
        MatchPoint.objects.filter(
            latitude__range=lat_range, longitude__range=lon_range, active=True
        )
        .alias(shared=F("code_bits").bitand(code_bits(filters.codes)))
        .exclude(shared=0)
    )
    if filters.check_capacity:
        rows = rows.filter(open=True)
    if filters.check_age:
        youngest, oldest = filters.age_range
        rows = rows.filter(Q(minimum_age__isnull=True) | Q(minimum_age__lte=oldest)).filter(
            Q(maximum_age__isnull=True) | Q(maximum_age__gte=youngest)
        )
    if filters.check_language:
        rows = rows.filter(_point_speaks(filters.language) | Q(interpretation=True))
    if filters.check_time:
        rows = rows.filter(offered_on(filters.today, filters.horizon_days))
    if filters.free_only:
        # Known to be paid is out; "not stated" stays, scored below free.
        rows = rows.exclude(cost="paid")
    if filters.exclude_services:
        rows = rows.exclude(service_key__in=[str(s) for s in filters.exclude_services])
    fields: list[Any] = [
        Cast("service_at_location_id", CharField()),
        "service_key",
        "organization_key",
        "location_key",
        "latitude",
        "longitude",
        "capacity_status",
        "cost",
        "assured_date",
        "languages",
        "interpretation",
        "slots",
        "name",
        "codes",
        "run_from",
        "undated",
        "resumes_on",
        "starts_on",
    ]
    if order is not None:
        rows = rows.annotate(rank_bound=order).order_by("-rank_bound", "service_at_location_id")
        fields.append("rank_bound")
    else:
        rows = rows.order_by()
    query = rows.values_list(*fields)
    if limit is not None:
        query = query[:limit]
    # Read with a plain cursor: a thousand rows per referral through the ORM's value
    # converters cost more than the query.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    complete = limit is None or len(raw) < limit
    floor = float(raw[-1][-1]) if raw and order is not None else 0.0
    found: list[CandidateRow] = []
    own = f",{filters.language},"
    default = filters.language == settings.TISSER_CATALOG_LANGUAGE
    wanted = filters.codes
    for record in raw:
        (
            sal_key,
            service_key,
            organization_key,
            location_key,
            latitude,
            longitude,
            capacity_status,
            cost,
            assured_date,
            languages,
            interpretation,
            slots,
            name,
            codes,
            run_from,
            undated,
            resumes_on,
            starts_on,
        ) = record[:18]
        own_codes = tuple(codes.strip(",").split(","))
        if wanted.isdisjoint(own_codes):
            continue
        km = distance_km(filters.latitude, filters.longitude, latitude, longitude)
        if km > filters.radius_km:
            continue
        if len(sal_key) == 32:  # SQLite keeps UUIDs as bare hex: the usual form, as elsewhere
            sal_key = "-".join(
                (sal_key[:8], sal_key[8:12], sal_key[12:16], sal_key[16:20], sal_key[20:])
            )
        found.append(
            CandidateRow(
                id=sal_key,
                service_id=service_key,
                organization_id=organization_key,
                location_id=location_key,
                service_name=name,
                distance_km=km,
                capacity_status=capacity_status,
                cost=cost,
                assured_date=_date(assured_date),
                runs_in_language=own in languages or (default and ",*," in languages),
                interpretation=bool(interpretation),
                slots=slots,
                codes=own_codes,
                run_from=_date(run_from),
                undated=bool(undated),
                resumes_on=_date(resumes_on),
                starts_on=_date(starts_on),
            )
        )
    return CandidatePage(found, complete, floor)


def _date(value: Any) -> date | None:
    """A date column read with a plain cursor: SQLite gives text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _point_speaks(language: str) -> Q:
    spoken = Q(languages__contains=f",{language},")
    if language == settings.TISSER_CATALOG_LANGUAGE:
        spoken |= Q(languages__contains=",*,")
    return spoken


def search_results_load(queryset: QuerySet[ServiceAtLocation]) -> QuerySet[ServiceAtLocation]:
    return queryset.select_related("service__organization", "location").prefetch_related(
        "schedules",
        "service__schedules",
        "service__taxonomy_terms",
        "service__languages",
        "service__cost_options",
        Prefetch("service__contacts", queryset=Contact.objects.prefetch_related("phones")),
        "location__addresses",
        "location__accessibility",
    )


def location_visible_to(location: Location, organization_id: uuid.UUID | None) -> bool:
    """A confidential location's whereabouts are shown to its own organisation only."""
    return not location.is_confidential or location.organization_id == organization_id


def service_owners(service_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """The organisation that runs each service: a catalogue event's audience (registered
    with `events.outbox.audience_register` by community_catalog.apps)."""
    owners: dict[uuid.UUID, uuid.UUID] = {}
    unique = list(dict.fromkeys(service_ids))
    for start in range(0, len(unique), IDS_PER_QUERY):
        chunk = unique[start : start + IDS_PER_QUERY]
        owners.update(Service.objects.filter(id__in=chunk).values_list("id", "organization_id"))
    return owners
