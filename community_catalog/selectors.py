"""Reads of the catalogue: search, the taxonomy tree, postcodes."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Avg, Prefetch, Q, QuerySet

from community_catalog.models import (
    Contact,
    Location,
    PostalCode,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def bounding_box(
    latitude: float, longitude: float, radius_km: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The latitude and longitude ranges of a box holding the circle of `radius_km`."""
    dlat = radius_km / 111.2
    dlon = radius_km / (111.2 * max(math.cos(math.radians(latitude)), 0.01))
    return (latitude - dlat, latitude + dlat), (longitude - dlon, longitude + dlon)


def taxonomy_terms_by_code(codes: list[str]) -> dict[str, TaxonomyTerm]:
    return {t.code: t for t in TaxonomyTerm.objects.filter(code__in=codes)}


def taxonomy_codes_under(codes: list[str]) -> set[str]:
    """`codes` and every code below them in the tree: a search for physical activity
    finds walking groups."""
    children: dict[str | None, list[str]] = {}
    for code, parent in TaxonomyTerm.objects.values_list("code", "parent__code"):
        children.setdefault(parent, []).append(code)
    found: set[str] = set()
    pending = list(codes)
    while pending:
        code = pending.pop()
        if code not in found:
            found.add(code)
            pending.extend(children.get(code, []))
    return found


def postcode_position(postal_code: str, country_code: str = "FR") -> tuple[float, float] | None:
    """The centre of a postcode (the mean of its places), from the PostalCode table."""
    found = PostalCode.objects.filter(
        country_code=country_code.upper(), postal_code=postal_code.strip().upper()
    ).aggregate(lat=Avg("latitude"), lon=Avg("longitude"))
    if found["lat"] is None:
        return None
    return float(found["lat"]), float(found["lon"])


def service_at_locations_near(
    *, taxonomy_codes: list[str], latitude: float, longitude: float, radius_km: float
) -> QuerySet[ServiceAtLocation]:
    """Active services tagged with one of `taxonomy_codes` whose location lies in the
    bounding box of the circle of `radius_km` around the point.

    The box is a cheap, index-backed prefilter (Location has an index on latitude and
    longitude); callers compute exact distances on the few rows it returns.
    """
    lat_range, lon_range = bounding_box(latitude, longitude, radius_km)
    return (
        ServiceAtLocation.objects.filter(
            service__status=Service.Status.ACTIVE,
            service__taxonomy_terms__code__in=taxonomy_codes,
            location__latitude__range=lat_range,
            location__longitude__range=lon_range,
        )
        .exclude(capacity_status=ServiceAtLocation.CapacityStatus.NO_CAPACITY)
        .select_related("service__organization", "location")
        .prefetch_related(
            "schedules", "service__schedules", "service__taxonomy_terms", "location__addresses"
        )
        .distinct()
    )


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
    q: str = ""
    organization_id: uuid.UUID | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class Found:
    service_at_location: ServiceAtLocation
    distance_km: float | None


def catalog_search(query: CatalogQuery) -> tuple[int, list[Found]]:
    """Active activities matching every filter given; nearest first when a point is
    given, else by name. Returns the total and the requested page.

    1. The database filters on everything it can index: status, taxonomy, the bounding
       box of the radius, language, weekday, cost, text.
    2. Only ids and coordinates of the survivors come back; exact distances are computed
       in Python, sorted and paginated.
    3. The page's rows are then loaded with everything the results show.
    """
    rows = ServiceAtLocation.objects.filter(service__status=Service.Status.ACTIVE)
    if query.needs:
        rows = rows.filter(service__taxonomy_terms__code__in=taxonomy_codes_under(query.needs))
    center = (
        (query.latitude, query.longitude)
        if query.latitude is not None and query.longitude is not None
        else None
    )
    if center:
        lat_range, lon_range = bounding_box(*center, query.radius_km)
        rows = rows.filter(
            location__latitude__range=lat_range, location__longitude__range=lon_range
        )
    if query.language:
        spoken = (
            Q(service__languages__code=query.language)
            | Q(location__languages__code=query.language)
            | ~Q(service__interpretation_services="")
        )
        if query.language == settings.TISSER_CATALOG_LANGUAGE:
            # A service that names no language is run in the catalogue's own.
            spoken |= Q(service__languages__isnull=True)
        rows = rows.filter(spoken)
    if query.weekday:
        rows = rows.filter(
            Q(schedules__weekdays__contains=query.weekday)
            | Q(schedules__isnull=True, service__schedules__weekdays__contains=query.weekday)
        )
    if query.free is not None:
        rows = rows.filter(service__is_free=query.free)
    if query.q:
        rows = rows.filter(
            Q(service__name__icontains=query.q)
            | Q(service__description__icontains=query.q)
            | Q(service__organization__name__icontains=query.q)
        )
    if query.organization_id:
        rows = rows.filter(service__organization_id=query.organization_id)

    survivors = rows.values_list(
        "id", "location__latitude", "location__longitude", "service__name"
    ).distinct()
    ranked: list[tuple[float, str, uuid.UUID, float | None]] = []
    for sal_id, lat, lon, name in survivors:
        km = None
        if center and lat is not None and lon is not None:
            km = distance_km(*center, lat, lon)
            if km > query.radius_km:
                continue
        ranked.append((km if km is not None else 0.0, name.casefold(), sal_id, km))
    ranked.sort(key=lambda r: (r[0], r[1], str(r[2])))
    page = ranked[query.offset : query.offset + query.limit]
    loaded = {
        sal.id: sal
        for sal in search_results_load(
            ServiceAtLocation.objects.filter(id__in=[r[2] for r in page])
        )
    }
    return len(ranked), [Found(loaded[r[2]], r[3]) for r in page if r[2] in loaded]


def search_results_load(queryset: QuerySet[ServiceAtLocation]) -> QuerySet[ServiceAtLocation]:
    return queryset.select_related("service__organization", "location").prefetch_related(
        "schedules",
        "service__schedules",
        "service__taxonomy_terms",
        "service__languages",
        "service__cost_options",
        Prefetch("service__contacts", queryset=Contact.objects.prefetch_related("phones")),
        "service__phones",
        "location__addresses",
        "location__languages",
        "location__accessibility",
    )


def location_visible_to(location: Location, organization_id: uuid.UUID | None) -> bool:
    """A confidential location's whereabouts are shown to its own organisation only."""
    return not location.is_confidential or location.organization_id == organization_id
