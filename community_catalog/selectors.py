"""Reads of the catalogue."""

from __future__ import annotations

import math

from django.db.models import QuerySet

from community_catalog.models import Service, ServiceAtLocation, TaxonomyTerm

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def taxonomy_terms_by_code(codes: list[str]) -> dict[str, TaxonomyTerm]:
    return {t.code: t for t in TaxonomyTerm.objects.filter(code__in=codes)}


def service_at_locations_near(
    *, taxonomy_codes: list[str], latitude: float, longitude: float, radius_km: float
) -> QuerySet[ServiceAtLocation]:
    """Active services tagged with one of `taxonomy_codes` whose location lies in the
    bounding box of the circle of `radius_km` around the point.

    The box is a cheap, index-backed prefilter (Location has an index on latitude and
    longitude); callers compute exact distances on the few rows it returns.
    """
    dlat = radius_km / 111.2
    dlon = radius_km / (111.2 * max(math.cos(math.radians(latitude)), 0.01))
    return (
        ServiceAtLocation.objects.filter(
            service__status=Service.Status.ACTIVE,
            service__taxonomy_terms__code__in=taxonomy_codes,
            location__latitude__range=(latitude - dlat, latitude + dlat),
            location__longitude__range=(longitude - dlon, longitude + dlon),
        )
        .select_related("service__organization", "location")
        .prefetch_related("schedules", "service__taxonomy_terms")
        .distinct()
    )
