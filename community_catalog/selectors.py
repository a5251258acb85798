"""Reads of the catalogue: search, the taxonomy tree, postcodes."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache
from django.conf import settings
from django.db.models import Avg, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from community_catalog.models import (
    Accessibility,
    Address,
    Contact,
    CostOption,
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
    """The latitude and longitude ranges of a box holding the circle of `radius_km`:
    widened by 1%, so that it holds the whole circle (a degree is 111.195 km on the
    sphere of `distance_km`, and a great circle bulges towards the pole); the exact
    distance is checked after."""
    km_per_degree = EARTH_RADIUS_KM * math.pi / 180
    reach = radius_km * 1.01
    dlat = reach / km_per_degree
    dlon = reach / (km_per_degree * max(math.cos(math.radians(latitude)), 0.01))
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
    details: ResultDetails
    # The taxonomy codes it answers to, when the search index read them.
    codes: tuple[str, ...] | None = None


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


# Search near a point through an index a layer above keeps (matching's points, which
# follow every catalogue change in its transaction): given a query and the codes that
# answer its needs (None: no need asked), the (distance, name, service at location id,
# taxonomy codes) of every active activity within the radius that passes the filters.
SearchIndex = Callable[
    [CatalogQuery, set[str] | None], list[tuple[float, str, str, tuple[str, ...]]]
]
_search_indexes: list[SearchIndex] = []


def search_index_register(index: SearchIndex) -> None:
    if index not in _search_indexes:
        _search_indexes.append(index)


def catalog_search(query: CatalogQuery) -> tuple[int, list[Found]]:
    """Active activities matching every filter given; nearest first when a point is
    given, else by name. Returns the total and the requested page.

    1. With a point: the registered search index (matching's points: one query on the
       bounding box with every filter), else the locations within the radius
       (index-backed bounding box, exact distances in Python) and step 2.
    2. The service_at_locations at those places that pass every other filter, as
       EXISTS subqueries (no join fan-out, no DISTINCT): status, taxonomy, language,
       weekday, cost, words. Only ids, distances and names come back.
    3. Sorted and paginated in Python; the page's rows are then loaded with everything
       the results show.
    """
    ranked: list[tuple[float, str, uuid.UUID, float | None, tuple[str, ...] | None]]
    if query.latitude is not None and query.longitude is not None and _search_indexes:
        codes = taxonomy_codes_under(query.needs) if query.needs else None
        ranked = [
            (km, name.casefold(), uuid.UUID(key), km, found_codes)
            for km, name, key, found_codes in _search_indexes[0](query, codes)
        ]
    elif query.latitude is not None and query.longitude is not None:
        rows = _search_rows(query)
        distances = locations_within(query.latitude, query.longitude, query.radius_km)
        location_ids = list(distances)
        ranked = []
        for start in range(0, len(location_ids), IDS_PER_QUERY):
            chunk = location_ids[start : start + IDS_PER_QUERY]
            for sal_id, location_id, name in rows.filter(location_id__in=chunk).values_list(
                "id", "location_id", "service__name"
            ):
                km = distances[location_id]
                ranked.append((km, name.casefold(), sal_id, km, None))
    else:
        ranked = [
            (0.0, name.casefold(), sal_id, None, None)
            for sal_id, name in _search_rows(query).values_list("id", "service__name")
        ]
    ranked.sort(key=lambda r: (r[0], r[1], str(r[2])))
    page = ranked[query.offset : query.offset + query.limit]
    loaded = search_results_load([r[2] for r in page])
    return len(ranked), [
        Found(loaded[r[2]].service_at_location, r[3], loaded[r[2]], r[4])
        for r in page
        if r[2] in loaded
    ]


def _search_rows(query: CatalogQuery) -> QuerySet[ServiceAtLocation]:
    """The active service_at_locations passing every filter but the point's, as EXISTS
    subqueries (no join fan-out, no DISTINCT)."""
    rows = ServiceAtLocation.objects.filter(service__status=Service.Status.ACTIVE).order_by()
    if query.needs:
        rows = rows.filter(_answers(taxonomy_codes_under(query.needs)))
    if query.language:
        rows = rows.filter(_speaks(query.language))
    if query.weekday:
        # A day it still meets on: a schedule that has ended does not count.
        today = timezone.localdate()
        meets = Q(weekdays__contains=query.weekday) & ~Q(until__lt=today) & ~Q(valid_to__lt=today)
        own = Schedule.objects.filter(service_at_location=OuterRef("pk"))
        rows = rows.filter(
            Exists(own.filter(meets))
            | (
                ~Exists(own)
                & Exists(Schedule.objects.filter(meets, service_id=OuterRef("service_id")))
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
    return rows


def _answers(codes: set[str]) -> Any:
    """Services that carry one of `codes`, or a term of another taxonomy that reads as
    one: a crosswalk row says so, or, without a row, its code is one of them (whatever
    its case). Subqueries of constant size, however many crosswalks there are."""
    if not codes:
        return Q(pk__in=[])  # a need with no active code answers nothing
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
    return _runs_in(language) | ~Q(service__interpretation_services__regex=r"^\s*$")


def _runs_in(language: str) -> Any:
    """Run in `language`, or spoken at the place. A service that names no language is
    run in the catalogue's own (`TISSER_CATALOG_LANGUAGE`)."""
    # A language given by its name only (no code) says nothing that can be matched.
    service_languages = Language.objects.filter(service_id=OuterRef("service_id")).exclude(code="")
    spoken: Any = Exists(service_languages.filter(code=language)) | Exists(
        Language.objects.filter(location_id=OuterRef("location_id"), code=language)
    )
    if language == settings.TISSER_CATALOG_LANGUAGE:
        spoken |= ~Exists(service_languages)
    return spoken


@dataclass(frozen=True)
class ResultDetails:
    """What a search result shows of one activity at one place besides its rows."""

    service_at_location: ServiceAtLocation  # with its service, organisation and place
    languages: tuple[str, ...]
    cost_options: tuple[CostOption, ...]
    contacts: tuple[tuple[Contact, tuple[str, ...]], ...]  # and their phone numbers
    address: Address | None  # the place's physical address, else its first
    accessibility: tuple[str, ...]
    schedules: tuple[Schedule, ...]  # its own, else its service's


def search_results_load(sal_ids: list[uuid.UUID]) -> dict[uuid.UUID, ResultDetails]:
    """A page of results with everything they show: one query per kind of row for the
    whole page. (Django's prefetching builds a queryset per row and relation, which
    cost four times the queries on a page of twenty.)"""
    if not sal_ids:
        return {}
    # Unordered: the page's order is the search's, and ordering by a joined name costs
    # PostgreSQL more to plan than the query takes to run.
    sals = list(
        ServiceAtLocation.objects.filter(id__in=sal_ids)
        .select_related("service__organization", "location")
        .order_by()
    )
    service_ids = {sal.service_id for sal in sals}
    location_ids = {sal.location_id for sal in sals}
    languages: dict[uuid.UUID, set[str]] = {}
    for service_id, code in Language.objects.filter(service_id__in=service_ids).values_list(
        "service_id", "code"
    ):
        if code and service_id is not None:
            languages.setdefault(service_id, set()).add(code)
    costs: dict[uuid.UUID, list[CostOption]] = {}
    for cost in CostOption.objects.filter(service_id__in=service_ids):
        costs.setdefault(cost.service_id, []).append(cost)
    # Contacts with their phones, one row per phone (or one without any).
    contacts: dict[uuid.UUID, dict[uuid.UUID, tuple[Contact, list[str]]]] = {}
    for contact_id, service_id, name, email, number in (
        Contact.objects.filter(service_id__in=service_ids)
        .order_by("hsds_id", "phones__hsds_id")
        .values_list("id", "service_id", "name", "email", "phones__number")
    ):
        listed = contacts.setdefault(service_id, {})
        if contact_id not in listed:
            listed[contact_id] = (Contact(id=contact_id, name=name, email=email), [])
        if number is not None:
            listed[contact_id][1].append(number)
    addresses: dict[uuid.UUID, list[Address]] = {}
    for address in Address.objects.filter(location_id__in=location_ids).order_by(
        "address_type", "hsds_id"
    ):
        addresses.setdefault(address.location_id, []).append(address)
    accessibility: dict[uuid.UUID, list[str]] = {}
    for location_id, description in Accessibility.objects.filter(
        location_id__in=location_ids
    ).values_list("location_id", "description"):
        accessibility.setdefault(location_id, []).append(description)
    own: dict[uuid.UUID, list[Schedule]] = {}
    inherited: dict[uuid.UUID, list[Schedule]] = {}
    for schedule in Schedule.objects.filter(
        Q(service_at_location_id__in=sal_ids)
        | Q(service_id__in=service_ids, service_at_location__isnull=True)
    ):
        if schedule.service_at_location_id is not None:
            own.setdefault(schedule.service_at_location_id, []).append(schedule)
        elif schedule.service_id is not None:
            inherited.setdefault(schedule.service_id, []).append(schedule)
    found = {}
    for sal in sals:
        places = addresses.get(sal.location_id, [])
        physical = [a for a in places if a.address_type == Address.AddressType.PHYSICAL]
        found[sal.id] = ResultDetails(
            service_at_location=sal,
            languages=tuple(sorted(languages.get(sal.service_id, ()))),
            cost_options=tuple(costs.get(sal.service_id, ())),
            contacts=tuple(
                (contact, tuple(numbers))
                for contact, numbers in contacts.get(sal.service_id, {}).values()
            ),
            address=physical[0] if physical else (places[0] if places else None),
            accessibility=tuple(accessibility.get(sal.location_id, ())),
            schedules=tuple(own.get(sal.id) or inherited.get(sal.service_id) or ()),
        )
    return found


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
