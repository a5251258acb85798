"""The matching index: one `MatchPoint` per service at a place, derived from the catalogue.

`match_points_refresh(service_ids)` recomputes the points of some services; the outbox
calls it in the transaction of every catalogue change it announces (each change to a
service, its places, capacity, schedules or status writes a `service.*` or
`capacity.changed` event), so matching never reads stale points.
`match_points_rebuild()` recomputes everything (a migration, `tisser
rebuild-match-index`, or after writing the catalogue outside the services).

A point holds what the hard filters need: the service's codes (its own Tisser codes and
what its other taxonomies' terms map to, read from the crosswalks in the database, not
from a process's copy), its cost state, and when it meets (`OfferRun`: filtering on the
offer horizon needs no rule walked). Time passes without any change being announced: a
run of sessions that ended is followed by the next one the day it ends
(`match_points_daily`, run by the relay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from community_catalog.changes import WrittenRows, row_completed, rows_written_now
from community_catalog.service_codes import ServiceCodes, codes_mapped, service_codes

if TYPE_CHECKING:
    from events.models import Event

import itertools
import operator
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from community_catalog.models import (
    ForeignTerm,
    Language,
    Location,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.schedules import WEEKDAY_CODES, OfferRun, offer_run
from community_catalog.selectors import IDS_PER_QUERY, public_position
from core.bulk import values_insert
from core.lookups import any_of
from matching.models import MatchPoint

_CHUNK = 2000
# What a point is made of: the rest of the rows is not read.
_READ = (
    "id",
    "service_id",
    "location_id",
    "capacity_status",
    "capacity_available",
    "service__organization_id",
    "service__status",
    "service__cost",
    "service__assured_date",
    "service__minimum_age",
    "service__maximum_age",
    "service__interpretation_services",
    "service__name",
    "location__latitude",
    "location__longitude",
    "location__is_confidential",
)


def match_points_refresh(service_ids: Iterable[uuid.UUID], *, today: date | None = None) -> int:
    """Recompute the points of these services (deleted ones lose theirs), as of `today`
    (the local date unless given). Returns how many points were written."""
    ids = list(dict.fromkeys(service_ids))
    today = today or timezone.localdate()
    written = 0
    chunk = min(_CHUNK, IDS_PER_QUERY)
    for start in range(0, len(ids), chunk):
        written += _refresh(ids[start : start + chunk], today)
    return written


def match_points_rebuild() -> int:
    MatchPoint.objects.all().delete()
    return match_points_refresh(Service.objects.values_list("id", flat=True).order_by("id"))


@dataclass
class _Source:
    """What the points of some services are made of."""

    # Each service at a place, with the attributes named in `_READ`.
    sals: list[Any] = field(default_factory=list)
    service_languages: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    location_languages: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    # By service_at_location id, or by service id for a service's own schedules.
    schedules: dict[uuid.UUID, list[Any]] = field(default_factory=dict)
    codes: dict[uuid.UUID, ServiceCodes] = field(default_factory=dict)

    def add(self, other: _Source) -> None:
        self.sals.extend(other.sals)
        for mine, theirs in (
            (self.service_languages, other.service_languages),
            (self.location_languages, other.location_languages),
        ):
            for key, codes in theirs.items():
                mine.setdefault(key, set()).update(codes)
        self.schedules.update(other.schedules)
        self.codes.update(other.codes)


def _refresh(service_ids: list[uuid.UUID], today: date) -> int:
    MatchPoint.objects.filter(any_of("service_key", [str(i) for i in service_ids])).delete()
    # Services an import has just created come from the rows it wrote; others are read.
    source, built = _Source(), _from_rows(rows_written_now(), service_ids)
    if built is not None:
        source, done = built
        service_ids = [i for i in service_ids if i not in done]
    if service_ids:
        source.add(_read(service_ids))
    return _points_write(source, today)


def _read(service_ids: list[uuid.UUID]) -> _Source:
    # Rows, not model instances: a point needs a few columns of three tables.
    sals = list(
        ServiceAtLocation.objects.filter(any_of("service_id", service_ids))
        .order_by()
        .values_list(*_READ, named=True)
    )
    if not sals:
        return _Source()
    source = _Source(sals=sals, codes=service_codes(service_ids))
    wanted = set(service_ids)
    location_ids = {sal.location_id for sal in sals}
    for service_id, location_id, code in Language.objects.filter(
        any_of("service_id", service_ids) | any_of("location_id", location_ids)
    ).values_list("service_id", "location_id", "code"):
        if not code:
            continue
        if service_id in wanted:
            source.service_languages.setdefault(service_id, set()).add(code)
        if location_id in location_ids:
            source.location_languages.setdefault(location_id, set()).add(code)
    # Two queries, each on its own index: one OR across the join made SQLite read every
    # schedule of the catalogue, for every change of every service.
    sal_ids = [sal.id for sal in sals]
    at_places = (
        Schedule.objects.filter(
            any_of("service_at_location_id", sal_ids[start : start + IDS_PER_QUERY])
        ).order_by()
        for start in range(0, len(sal_ids), IDS_PER_QUERY)
    )
    # By service_id alone: with `service_at_location IS NULL` in the query, SQLite
    # answers by that index and reads every schedule without a place.
    of_services = (
        s
        for s in Schedule.objects.filter(any_of("service_id", service_ids)).order_by()
        if s.service_at_location_id is None
    )
    for schedule in itertools.chain(*at_places, of_services):
        owner = schedule.service_at_location_id or schedule.service_id
        if owner is not None:
            source.schedules.setdefault(owner, []).append(schedule)
    return source


@dataclass
class _Written:
    """An import's written rows grouped by the service they belong to, once per import
    (the index is refreshed in chunks of ids: scanning every row for each would grow
    with the square of the file)."""

    services: dict[uuid.UUID, Mapping[str, Any]] = field(default_factory=dict)
    sals: dict[uuid.UUID, list[Mapping[str, Any]]] = field(default_factory=dict)
    locations: dict[uuid.UUID, Mapping[str, Any]] = field(default_factory=dict)
    service_languages: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    location_languages: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    # By service_at_location id, and by service id for a service's own schedules.
    schedules: dict[uuid.UUID, list[Mapping[str, Any]]] = field(default_factory=dict)
    terms: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    foreign_terms: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)

    @classmethod
    def grouped(cls, written: WrittenRows) -> _Written:
        found = written.derived.get("matching")
        if found is None:
            found = written.derived["matching"] = cls._group(written.rows)
        return cast(_Written, found)

    @classmethod
    def _group(cls, rows: Mapping[type[Model], Sequence[Mapping[str, Any]]]) -> _Written:
        made = cls(services={row["id"]: row for row in rows.get(Service, ())})
        made.locations = {row["id"]: row for row in rows.get(Location, ())}
        sal_ids = set()
        for row in rows.get(ServiceAtLocation, ()):
            if row["service_id"] in made.services:
                made.sals.setdefault(row["service_id"], []).append(row)
                sal_ids.add(row["id"])
        for row in rows.get(Language, ()):
            if not row.get("code"):
                continue
            if row.get("service_id") in made.services:
                made.service_languages.setdefault(row["service_id"], set()).add(row["code"])
            if row.get("location_id") in made.locations:
                made.location_languages.setdefault(row["location_id"], set()).add(row["code"])
        for row in rows.get(Schedule, ()):
            at: Any = row.get("service_at_location_id")
            of: Any = row.get("service_id")
            if at in sal_ids:
                made.schedules.setdefault(at, []).append(row)
            elif at is None and of in made.services:
                made.schedules.setdefault(of, []).append(row)
        for row in rows.get(Service.taxonomy_terms.through, ()):
            if row["service_id"] in made.services:
                made.terms.setdefault(row["service_id"], []).append(row["taxonomyterm_id"])
        for row in rows.get(Service.foreign_terms.through, ()):
            if row["service_id"] in made.services:
                made.foreign_terms.setdefault(row["service_id"], []).append(row["foreignterm_id"])
        return made


def _from_rows(
    written: WrittenRows | None, service_ids: list[uuid.UUID]
) -> tuple[_Source, set[uuid.UUID]] | None:
    """The source of the services among `service_ids` an import created, from the rows
    it wrote (`community_catalog.changes.rows_written`), and their ids; None when there
    are none. Places the import did not write (they were there before) are read."""
    if not written:
        return None
    rows = _Written.grouped(written)
    services = {i: rows.services[i] for i in service_ids if i in rows.services}
    if not services:
        return None
    sal_rows = [sal for service_id in services for sal in rows.sals.get(service_id, ())]
    places: dict[uuid.UUID, tuple[Any, ...]] = {}
    earlier = []
    for location_id in {r["location_id"] for r in sal_rows}:
        place = rows.locations.get(location_id)
        if place is None:
            earlier.append(location_id)  # there before the import: read below
        else:
            places[location_id] = (
                place.get("latitude"),
                place.get("longitude"),
                place.get("is_confidential", False),
            )
    source = _Source()
    for start in range(0, len(earlier), IDS_PER_QUERY):
        chunk = earlier[start : start + IDS_PER_QUERY]
        for location_id, *place_row in Location.objects.filter(any_of("id", chunk)).values_list(
            "id", "latitude", "longitude", "is_confidential"
        ):
            places[location_id] = tuple(place_row)
        for location_id, code in Language.objects.filter(any_of("location_id", chunk)).values_list(
            "location_id", "code"
        ):
            if code:
                source.location_languages.setdefault(location_id, set()).add(code)
    service_row, sal_row = row_completed(Service), row_completed(ServiceAtLocation)
    schedule_row = row_completed(Schedule)
    for row in sal_rows:
        sal = sal_row(row)
        service = service_row(services[sal.service_id])
        latitude, longitude, confidential = places[sal.location_id]
        source.sals.append(
            SimpleNamespace(
                id=sal.id,
                service_id=sal.service_id,
                location_id=sal.location_id,
                capacity_status=sal.capacity_status,
                capacity_available=sal.capacity_available,
                service__organization_id=service.organization_id,
                service__status=service.status,
                service__cost=service.cost,
                service__assured_date=service.assured_date,
                service__minimum_age=service.minimum_age,
                service__maximum_age=service.maximum_age,
                service__interpretation_services=service.interpretation_services,
                service__name=service.name,
                location__latitude=latitude,
                location__longitude=longitude,
                location__is_confidential=confidential,
            )
        )
        if sal.location_id in rows.locations:
            codes = rows.location_languages.get(sal.location_id, ())
            source.location_languages.setdefault(sal.location_id, set()).update(codes)
        at_place = rows.schedules.get(sal.id)
        if at_place:
            source.schedules[sal.id] = [schedule_row(r) for r in at_place]
    for service_id in services:
        languages = rows.service_languages.get(service_id)
        if languages:
            source.service_languages[service_id] = set(languages)
        of_service = rows.schedules.get(service_id)
        if of_service:
            source.schedules[service_id] = [schedule_row(r) for r in of_service]
    source.codes = _codes_from_rows(rows, list(services))
    return source, set(services)


def _codes_from_rows(rows: _Written, service_ids: list[uuid.UUID]) -> dict[uuid.UUID, ServiceCodes]:
    term_ids = {t for i in service_ids for t in rows.terms.get(i, ())}
    foreign_ids = {t for i in service_ids for t in rows.foreign_terms.get(i, ())}
    term_codes = (
        dict(TaxonomyTerm.objects.filter(any_of("id", term_ids)).values_list("id", "code"))
        if term_ids
        else {}
    )
    foreign = (
        {
            term_id: (taxonomy, code)
            for term_id, taxonomy, code in ForeignTerm.objects.filter(
                any_of("id", foreign_ids)
            ).values_list("id", "taxonomy", "code")
        }
        if foreign_ids
        else {}
    )
    own = {i: {term_codes[t] for t in rows.terms[i]} for i in service_ids if i in rows.terms}
    carried = {
        i: [foreign[t] for t in rows.foreign_terms[i]]
        for i in service_ids
        if i in rows.foreign_terms
    }
    return codes_mapped(service_ids, own, carried)


def _points_write(source: _Source, today: date) -> int:
    sals, codes, schedules = source.sals, source.codes, source.schedules
    service_languages, location_languages = source.service_languages, source.location_languages
    horizon = settings.TISSER_OFFER_HORIZON_DAYS
    runs: dict[tuple[tuple[Any, ...], ...], _Sessions] = {}
    points = []
    for sal in sals:
        service_id, location_id = sal.service_id, sal.location_id
        if sal.location__latitude is None or sal.location__longitude is None:
            continue  # nowhere on the map: cannot be matched by distance
        latitude, longitude = public_position(
            sal.location__latitude, sal.location__longitude, sal.location__is_confidential
        )
        languages = service_languages.get(service_id, set()) | location_languages.get(
            location_id, set()
        )
        if not service_languages.get(service_id):
            # A service that names no language is run in the catalogue's own
            # (TISSER_CATALOG_LANGUAGE, read when matching): marked "*".
            languages.add("*")
        # In the order of their ids, whichever way they were found.
        own = sorted(schedules.get(sal.id) or schedules.get(service_id) or [], key=_by_id)
        # What the sessions come to depends on the rules alone: the service's schedules
        # serve each of its places, and most activities of a directory meet at a few
        # usual times ("Tuesdays 14:00 to 16:00"). One walk for each set of rules.
        run_key = tuple(map(_rules, own))
        sessions = runs.get(run_key)
        if sessions is None:
            sessions = runs[run_key] = _Sessions(
                offer_run(own, today=today, horizon_days=horizon),
                slots_text(own, today=today),
                weekdays_text(own, today=today),
                refresh_day(own, today=today),
            )
        run = sessions.run
        service_codes_ = codes.get(service_id, ServiceCodes((), False))
        points.append(
            dict(
                service_at_location_id=sal.id,
                service_key=str(service_id),
                organization_key=str(sal.service__organization_id),
                location_key=str(location_id),
                latitude=latitude,
                longitude=longitude,
                active=sal.service__status == Service.Status.ACTIVE,
                open=sal.capacity_status != ServiceAtLocation.CapacityStatus.NO_CAPACITY
                and sal.capacity_available != 0,
                capacity_status=sal.capacity_status,
                cost=sal.service__cost,
                assured_date=sal.service__assured_date,
                minimum_age=sal.service__minimum_age,
                maximum_age=sal.service__maximum_age,
                codes=_listed(service_codes_.codes),
                code_bits=code_bits(service_codes_.codes),
                languages=_listed(sorted(languages)),
                interpretation=bool(sal.service__interpretation_services.strip()),
                slots=sessions.slots,
                weekdays=sessions.weekdays,
                refresh_on=sessions.refresh_on,
                run_from=run.run_from,
                run_until=run.run_until,
                undated=run.undated,
                resumes_on=run.resumes_on,
                starts_on=run.starts_on,
                unmapped=service_codes_.unmapped,
                name=sal.service__name[:200],
            )
        )
    values_insert(MatchPoint, points)
    return len(points)


def _by_id(schedule: Any) -> uuid.UUID:
    return schedule.id


class _Sessions(NamedTuple):
    """What a set of schedules gives a match point."""

    run: OfferRun
    slots: str
    weekdays: str
    refresh_on: date | None


# A schedule's every column but its ids and owners: what its sessions are made of.
_RULES = tuple(
    f.attname
    for f in Schedule._meta.concrete_fields
    if f.attname not in {"id", "hsds_id", "service_id", "location_id", "service_at_location_id"}
)
_rules = operator.attrgetter(*_RULES)


def match_points_daily(*, today: date | None = None, limit: int = 2000) -> int:
    """Follow the passing of days: the points whose run of sessions ended before today
    are rebuilt, to find their next run (or none), and those one of whose schedules
    ended (their weekdays and slots change). Safe with several relays at once:
    each takes the points no other holds. Returns how many services were refreshed."""
    today = today or timezone.localdate()
    with transaction.atomic():
        keys = list(
            MatchPoint.objects.select_for_update(skip_locked=True)
            .filter(Q(run_until__lt=today) | Q(refresh_on__lte=today))
            .values_list("service_key", flat=True)[:limit]
        )
        service_ids = sorted({uuid.UUID(k) for k in keys})
        if service_ids:
            match_points_refresh(service_ids, today=today)
    return len(service_ids)


def code_bit(code: str) -> int:
    """A bit for a taxonomy code, the same on every machine. Two codes may share one:
    the bits only prefilter, the codes themselves are checked after."""
    return 1 << (zlib.crc32(code.encode()) % 62)


def code_bits(codes: Iterable[str]) -> int:
    bits = 0
    for code in codes:
        bits |= code_bit(code)
    return bits


def _listed(values: Iterable[str]) -> str:
    joined = ",".join(values)
    return f",{joined}," if joined else ""


def slots_text(schedules: list[Schedule], *, today: date | None = None) -> str:
    """The weekly slots of live schedules: 'TU 14:00 16:30 W;FR 09:00 11:00 M' (W: weekly
    or less often, M: monthly). What the schedule fit needs, without the rules."""
    today = today or timezone.localdate()
    slots = []
    for schedule in schedules:
        if not schedule.freq or schedule.opens_at is None:
            continue
        if any(end and end < today for end in (schedule.until, schedule.valid_to)):
            continue
        closes = schedule.closes_at or schedule.opens_at
        kind = "M" if schedule.freq == Schedule.Freq.MONTHLY else "W"
        for day in schedule.weekdays.split(",") if schedule.weekdays else []:
            slots.append(f"{day} {schedule.opens_at:%H:%M} {closes:%H:%M} {kind}")
    # Whole slots only, within the column: 35 of 16 characters fit (every day, five
    # times a day); the rest adds nothing to how well a week fits.
    text = ""
    for slot in dict.fromkeys(slots):
        if len(text) + len(slot) + 1 > 500:
            break
        text = f"{text};{slot}" if text else slot
    return text


def weekdays_text(schedules: list[Schedule], *, today: date) -> str:
    """The days of the week the schedules that have not ended meet on, times known or
    not: ',TU,TH,' (what catalogue search filters on)."""
    days = {
        day
        for schedule in schedules
        if not any(end and end < today for end in (schedule.until, schedule.valid_to))
        for day in (schedule.weekdays.split(",") if schedule.weekdays else ())
    }
    return _listed(code for code in WEEKDAY_CODES if code in days)


def refresh_day(schedules: list[Schedule], *, today: date) -> date | None:
    """The day after the first of these schedules that has not ended yet ends: its
    weekdays and slots change then."""
    ends = [
        end
        for schedule in schedules
        for end in (schedule.until, schedule.valid_to)
        if end is not None and end >= today
    ]
    return min(ends) + timedelta(days=1) if ends else None


def match_index_follow(events: list[Event]) -> None:
    """A catalogue change refreshes matching's index of the service, in its transaction:
    every change to a service, its places, schedules or capacity announces itself with
    a `service`-aggregate event, so the outbox is the one place that sees them all
    (registered with `events.outbox.events_recorded_register` by matching.apps)."""
    service_ids = [e.aggregate_id for e in events if e.aggregate_type == "service"]
    if service_ids:
        match_points_refresh(service_ids)
