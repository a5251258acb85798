"""Matching's candidate queries: the places that pass every hard filter, read from the
match index (`MatchPoint`) in one query on a bounding box."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import CharField, F, Q
from django.db.models.functions import Cast

from community_catalog.selectors import bounding_box, distance_km
from matching.index import code_bits
from matching.models import MatchPoint


@dataclass(frozen=True)
class MatchFilters:
    """The hard filters of matching (see matching.scoring)."""

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
        rows = rows.filter(point_speaks(filters.language) | Q(interpretation=True))
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


def point_speaks(language: str) -> Q:
    spoken = Q(languages__contains=f",{language},")
    if language == settings.TISSER_CATALOG_LANGUAGE:
        spoken |= Q(languages__contains=",*,")
    return spoken
