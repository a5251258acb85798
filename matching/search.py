"""Catalogue search near a point, read from the matching index: the places within reach
that pass a search's filters, in one query without joins (registered with
`community_catalog.selectors.search_index_register` by matching.apps)."""

from __future__ import annotations

from django.db import connection
from django.db.models import CharField, F, Q
from django.db.models.functions import Cast

from community_catalog.models import Service
from community_catalog.selectors import CatalogQuery, bounding_box, distance_km
from matching.candidates import point_speaks
from matching.index import code_bits
from matching.models import MatchPoint


def catalog_points(
    query: CatalogQuery, codes: set[str] | None
) -> list[tuple[float, str, str, tuple[str, ...]]]:
    """(distance, name, service at location id, taxonomy codes) of every active activity within the
    query's radius that passes its filters; `codes`: the taxonomy codes that answer its
    needs (None: no need asked)."""
    if query.latitude is None or query.longitude is None:
        return []
    lat_range, lon_range = bounding_box(query.latitude, query.longitude, query.radius_km)
    rows = MatchPoint.objects.filter(
        latitude__range=lat_range, longitude__range=lon_range, active=True
    )
    if codes is not None:
        if not codes:
            return []
        # The bits find the candidates in the database; the codes are checked below.
        rows = rows.alias(shared=F("code_bits").bitand(code_bits(codes))).exclude(shared=0)
    if query.language:
        rows = rows.filter(point_speaks(query.language) | Q(interpretation=True))
    if query.weekday:
        rows = rows.filter(weekdays__contains=f",{query.weekday},")
    if query.free is True:
        rows = rows.filter(cost=Service.Cost.FREE)
    elif query.free is False:
        rows = rows.exclude(cost=Service.Cost.FREE)
    if query.cost:
        rows = rows.filter(cost__in=query.cost)
    if query.organization_id:
        rows = rows.filter(organization_key=str(query.organization_id))
    if query.q:
        # Words are the one filter the index cannot answer: read on the services.
        rows = rows.filter(
            Q(service_at_location__service__name__icontains=query.q)
            | Q(service_at_location__service__description__icontains=query.q)
            | Q(service_at_location__service__organization__name__icontains=query.q)
        )
    sql, params = (
        rows.order_by()
        .values_list(
            Cast("service_at_location_id", CharField()), "latitude", "longitude", "name", "codes"
        )
        .query.sql_with_params()
    )
    # A plain cursor: the ORM's converters would cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    found = []
    for sal_key, latitude, longitude, name, point_codes in raw:
        own = tuple(point_codes.strip(",").split(",")) if point_codes else ()
        if codes is not None and codes.isdisjoint(own):
            continue
        km = distance_km(query.latitude, query.longitude, latitude, longitude)
        if km <= query.radius_km:
            found.append((km, name, sal_key, own))
    return found
