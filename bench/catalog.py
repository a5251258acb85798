"""`tisser bench catalog`: HSDS import throughput and search latency on a large catalogue.

It runs in a database of its own (created and dropped like a test database), on the
configured backend. Each figure comes with a floor measured in the same run, on the same
database: inserting bare service rows for the import, and the bounding-box query alone
for search. The last line printed is one JSON object.
"""

from __future__ import annotations

import gc
import random
import statistics
import time as clock
import uuid
from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import (
    Address,
    ForeignTerm,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.selectors import bounding_box
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed
from matching.index import match_points_rebuild, match_points_refresh

# Rhône-Alpes, roughly: 100,000 activities spread as densely as in a large region.
LATITUDES, LONGITUDES = (44.9, 46.3), (4.0, 6.2)
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA")


def _service(
    rng: random.Random, activities: list[TaxonomyTerm], needs: list[TaxonomyTerm]
) -> dict[str, Any]:
    activity, need = rng.choice(activities), rng.choice(needs)
    location_id = str(uuid.uuid4())
    hour = rng.randint(9, 18)
    return {
        "id": str(uuid.uuid4()),
        "name": f"{activity.name} {rng.randint(1, 9999)}",
        "description": f"{activity.name} pour {need.name.lower()}.",
        "status": "active",
        "assured_date": "2026-11-01",
        "cost_options": [
            {"id": str(uuid.uuid4()), "amount": rng.choice([0, 0, 0, 2, 5]), "currency": "EUR"}
        ],
        "contacts": [
            {
                "id": str(uuid.uuid4()),
                "name": "Accueil",
                "phones": [{"id": str(uuid.uuid4()), "number": "04 78 00 00 00"}],
            }
        ],
        "attributes": [
            {
                "id": str(uuid.uuid4()),
                "taxonomy_term": {
                    "id": str(t.id),
                    "code": t.code,
                    "name": t.name,
                    "description": "",
                },
            }
            for t in (activity, need)
        ],
        "service_at_locations": [
            {
                "id": str(uuid.uuid4()),
                "location": {
                    "id": location_id,
                    "location_type": "physical",
                    "name": "Salle",
                    "latitude": round(rng.uniform(*LATITUDES), 5),
                    "longitude": round(rng.uniform(*LONGITUDES), 5),
                    "addresses": [
                        {
                            "id": str(uuid.uuid4()),
                            "address_1": "1 rue de la Paix",
                            "city": "Lyon",
                            "state_province": "",
                            "postal_code": "69001",
                            "country": "FR",
                            "address_type": "physical",
                        }
                    ],
                },
                "schedules": [
                    {
                        "id": str(uuid.uuid4()),
                        "freq": "WEEKLY",
                        "byday": rng.choice(_DAYS),
                        "opens_at": f"{hour:02d}:00",
                        "closes_at": f"{hour + 2:02d}:00",
                    }
                ],
            }
        ],
    }


# What the synthetic catalogue's services look like, as real directories do: how they
# state cost, and how they meet (most every week; some ended, seasonal, monthly, not
# started yet, or without dates).
_COSTS = (("free", 0.5), ("paid", 0.3), ("not-stated", 0.2))
_MEETS = (
    ("weekly", 0.8),
    ("ended", 0.05),
    ("resumes", 0.04),
    ("later", 0.03),
    ("monthly", 0.03),
    ("undated", 0.05),
)
# Services carrying a term of another directory's taxonomy: half of those mapped by a
# crosswalk, half not.
FOREIGN_TAXONOMY = "https://annuaire.example.org/taxonomie"
_FOREIGN_SHARE = 0.1


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _w in weighted], [w for _k, w in weighted])[0]


def _schedule(rng: random.Random, sal: ServiceAtLocation, today: date) -> Schedule | None:
    kind = _pick(rng, _MEETS)
    if kind == "undated":
        return None
    day = rng.choice(_DAYS)
    schedule = Schedule(
        service_at_location=sal,
        freq="WEEKLY",
        byday=day,
        weekdays=day,
        opens_at=time(14),
        closes_at=time(16),
    )
    if kind == "ended":
        schedule.valid_to = today - timedelta(days=rng.randint(1, 200))
    elif kind == "resumes":
        schedule.valid_from = today + timedelta(days=rng.randint(1, 40))
        schedule.dtstart = today - timedelta(days=300)
    elif kind == "later":
        schedule.valid_from = today + timedelta(days=rng.randint(50, 200))
    elif kind == "monthly":
        schedule.freq = "MONTHLY"
        schedule.byday = f"1{day}"
    return schedule


def catalog_fill(
    organization: Organization, count: int, rng: random.Random, terms: list[TaxonomyTerm]
) -> None:
    """The rest of the catalogue, written directly: only the import is being timed."""
    through = Service.taxonomy_terms.through
    foreign_through = Service.foreign_terms.through
    foreign = [
        ForeignTerm.objects.get_or_create(
            taxonomy=FOREIGN_TAXONOMY, code=code, defaults={"label": code}
        )[0]
        for code in ("binomes", "cafe-rencontre", "jardinage-partage", "atelier-inconnu")
    ]
    today = timezone.localdate()
    for start in range(0, count, 5000):
        size = min(5000, count - start)
        locations = [
            Location(
                organization=organization,
                name="Salle",
                latitude=rng.uniform(*LATITUDES),
                longitude=rng.uniform(*LONGITUDES),
            )
            for _ in range(size)
        ]
        services = [
            Service(
                organization=organization,
                name=f"Activité {start + i}",
                cost=_pick(rng, _COSTS),
                assured_date=None,
            )
            for i in range(size)
        ]
        Location.objects.bulk_create(locations)
        Service.objects.bulk_create(services)
        Address.objects.bulk_create(
            Address(location=loc, address_1="1 rue", city="Lyon", postal_code="69001", country="FR")
            for loc in locations
        )
        sals = ServiceAtLocation.objects.bulk_create(
            ServiceAtLocation(service=s, location=loc)
            for s, loc in zip(services, locations, strict=True)
        )
        Schedule.objects.bulk_create(
            schedule for sal in sals if (schedule := _schedule(rng, sal, today)) is not None
        )
        through.objects.bulk_create(
            through(service_id=s.id, taxonomyterm_id=t.id)
            for s in services
            for t in rng.sample(terms, 2)
        )
        foreign_through.objects.bulk_create(
            foreign_through(service_id=s.id, foreignterm_id=rng.choice(foreign).id)
            for s in services
            if rng.random() < _FOREIGN_SHARE
        )


def crosswalks_fill() -> None:
    """Map half of the synthetic directory's terms, as an operator would have."""
    from community_catalog.crosswalks import CrosswalkIn, crosswalk_set

    crosswalk_set(CrosswalkIn(FOREIGN_TAXONOMY, "binomes", ("peer-support",)))
    crosswalk_set(CrosswalkIn(FOREIGN_TAXONOMY, "jardinage-partage", ("gardening", "isolation")))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_catalog(
    *,
    services: int,
    imported: int,
    searches: int,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - made-up data, not secrets
    taxonomy_seed()
    terms = list(TaxonomyTerm.objects.exclude(parent=None))
    activities = [t for t in terms if t.kind == "activity"]
    needs = [t for t in terms if t.kind == "need"]
    organization, key = organization_create(name="Bench")
    imported = min(imported, services)

    # 1. Import through the HSDS path, in files of 1,000 services.
    documents = [_service(rng, activities, needs) for _ in range(imported)]
    log(f"importing {imported} services through the HSDS importer…")
    start = clock.perf_counter()
    for first in range(0, imported, 1000):
        report = hsds_import(hsds_read(documents[first : first + 1000]), organization=organization)
        assert report.created == len(documents[first : first + 1000]), report.errors[:3]
    import_s = clock.perf_counter() - start

    # Floor: the same number of bare service rows, inserted in bulk.
    floor_org = Organization.objects.create(name="Floor")
    start = clock.perf_counter()
    Service.objects.bulk_create(
        Service(organization=floor_org, name=f"x{i}") for i in range(imported)
    )
    floor_insert_s = clock.perf_counter() - start
    floor_org.delete()

    log(f"filling the catalogue up to {services} services…")
    catalog_fill(organization, services - imported, rng, terms)
    # Written around the catalogue's services, which keep the matching index current.
    match_points_rebuild()
    # Search runs as in a serving process: without the import's data on the heap, which
    # would otherwise make each full garbage collection scan it (a 3x slower tail), and
    # with fresh planner statistics and its tables vacuumed, as a database that has been
    # running would have (autovacuum).
    del documents
    gc.collect()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

    # What every catalogue change does in its transaction: refresh its service's points.
    refresh_ms = []
    with transaction.atomic():
        for service_id in Service.objects.order_by("?").values_list("id", flat=True)[:50]:
            started = clock.perf_counter()
            match_points_refresh([service_id])
            refresh_ms.append((clock.perf_counter() - started) * 1000)
        transaction.set_rollback(True)

    # 2. Search through the HTTP API, in this process (no network), with varied filters.
    client = Client(headers={"Authorization": f"Bearer {key}"})
    latencies, floor_latencies, totals = [], [], []
    for i in range(searches):
        lat, lon = rng.uniform(*LATITUDES), rng.uniform(*LONGITUDES)
        query = f"lat={lat:.5f}&lon={lon:.5f}&radius_km=10&need={rng.choice(terms).code}"
        if i % 3 == 0:
            query += f"&weekday={rng.choice(_DAYS)}"
        if i % 4 == 0:
            query += "&free=true"
        started = clock.perf_counter()
        response = client.get(f"/api/v1/catalog/services?{query}")
        latencies.append((clock.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"search failed: {response.status_code} {response.content[:300]!r}")
        totals.append(response.json()["total"])
        lat_range, lon_range = bounding_box(lat, lon, 10)
        box = Location.objects.filter(latitude__range=lat_range, longitude__range=lon_range)
        started = clock.perf_counter()
        list(box.values_list("id", flat=True))
        floor_latencies.append((clock.perf_counter() - started) * 1000)
    return {
        "benchmark": "catalog",
        "database": connection.vendor,
        "services": Service.objects.count(),
        "imported_services": imported,
        "import_seconds": round(import_s, 2),
        "import_services_per_s": round(imported / import_s, 1),
        "floor_insert_services_per_s": round(imported / floor_insert_s, 1),
        "searches": searches,
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p95_ms": round(_percentile(latencies, 0.95), 2),
        "floor_search_p50_ms": round(statistics.median(floor_latencies), 2),
        "floor_search_p95_ms": round(_percentile(floor_latencies, 0.95), 2),
        "results_per_search_median": statistics.median(totals) if totals else 0,
        "refresh_one_service_p50_ms": round(statistics.median(refresh_ms), 2),
        "refresh_one_service_p95_ms": round(_percentile(refresh_ms, 0.95), 2),
    }
