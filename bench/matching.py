"""`tisser bench matching`: per-referral latency of the matcher on a large catalogue, beside
a naive scorer measured in the same run.

The catalogue is synthetic: `services` activities spread over a region the size of
Rhône-Alpes (as `tisser bench catalog`), run by 500 organisations, each tagged with two
taxonomy codes, one weekly session, 60% free, a few with a waiting list, an age limit or
interpretation. Referrals are spread over the same region with one or two needs, a
travel distance of 2 to 10 km and, for most, availability windows.

- **matcher**: `proposals_for(referral)`, what the matching job runs: the indexed
  prefilter, scoring of the survivors, sessions of the finalists, the chosen rows loaded.
- **naive**: load every active service at every place, with its schedules, and score
  each in Python with the same parts (the obvious first implementation).

The last line printed is one JSON object.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import HealthCenter
from bench.catalog import LATITUDES, LONGITUDES, catalog_fill, crosswalks_fill
from community_catalog.models import (
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.schedules import offer_run
from community_catalog.selectors import distance_km, match_codes
from community_catalog.taxonomy import taxonomy_current
from community_catalog.taxonomy_services import taxonomy_seed
from matching.candidates import CandidateRow
from matching.index import match_points_rebuild, slots_text
from matching.scoring import Candidate, Person, candidate_score, choose, finish, match
from referrals.matching_jobs import proposals_for
from referrals.models import Referral

_ORGANIZATIONS = 500


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _catalogue(services: int, rng: random.Random) -> None:
    taxonomy_seed()
    terms = list(TaxonomyTerm.objects.exclude(parent=None))
    organizations = Organization.objects.bulk_create(
        Organization(name=f"Association {i}") for i in range(_ORGANIZATIONS)
    )
    per_org, extra = divmod(services, _ORGANIZATIONS)
    for i, organization in enumerate(organizations):
        catalog_fill(organization, per_org + (1 if i < extra else 0), rng, terms)
    # Some variety in what scoring and the hard filters look at.
    ids = list(ServiceAtLocation.objects.values_list("id", flat=True))
    ServiceAtLocation.objects.filter(id__in=rng.sample(ids, len(ids) // 20)).update(
        capacity_status="waitlist"
    )
    service_ids = list(Service.objects.values_list("id", flat=True))
    Service.objects.filter(id__in=rng.sample(service_ids, len(service_ids) // 10)).update(
        minimum_age=60
    )
    Service.objects.filter(id__in=rng.sample(service_ids, len(service_ids) // 10)).update(
        interpretation_services="Interprète sur demande"
    )
    Service.objects.filter(id__in=rng.sample(service_ids, len(service_ids) // 2)).update(
        assured_date=timezone.localdate() - timedelta(days=30)
    )
    crosswalks_fill()
    # Written around the catalogue services (which keep the index current): rebuild it.
    match_points_rebuild()


def _referrals(count: int, rng: random.Random) -> list[Referral]:
    center = HealthCenter.objects.create(name="Bench centre")
    needs = {
        t.code: t
        for t in TaxonomyTerm.objects.filter(kind=TaxonomyTerm.Kind.NEED, parent__isnull=False)
    }
    referrals = Referral.objects.bulk_create(
        Referral(
            code=f"B{i:06d}",
            health_center=center,
            patient_ref=f"bench-{i}",
            first_name="Camille",
            year_of_birth=rng.randint(1940, 2005),
            preferred_language="fr" if rng.random() < 0.95 else "en",
            latitude=rng.uniform(*LATITUDES),
            longitude=rng.uniform(*LONGITUDES),
            max_distance_km=rng.choice([2, 3, 5, 5, 5, 10]),
            availability=[
                {"weekday": day, "start": "13:00:00", "end": "18:00:00"}
                for day in rng.sample(["MO", "TU", "WE", "TH", "FR", "SA"], rng.randint(0, 3))
            ],
            accessibility_needs=["step-free"] if rng.random() < 0.1 else [],
            free_only=rng.random() < 0.2,
            consent_given=True,
            consent_method="verbal",
            consent_at=datetime.now(UTC),
        )
        for i in range(count)
    )
    through = Referral.needs.through
    through.objects.bulk_create(
        through(referral_id=r.id, taxonomyterm_id=needs[code].id)
        for r in referrals
        for code in rng.sample(sorted(needs), rng.randint(1, 2))
    )
    return referrals


def naive_match(referral: Referral, now: datetime) -> list[Candidate]:
    """Every active service at every place, loaded and scored in Python, with the same
    rules as the matcher but none of its index: codes read through the taxonomy's
    crosswalks, sessions from the schedules' rules, cost from the service."""
    today = timezone.localdate(now)
    horizon = settings.TISSER_OFFER_HORIZON_DAYS
    person = Person.of(referral, today=today)
    taxonomy = taxonomy_current()
    codes = match_codes(person.needs)
    youngest, oldest = person.age_range
    schedules: dict[uuid.UUID, list[Schedule]] = {}
    for schedule in Schedule.objects.all():
        owner = schedule.service_at_location_id or schedule.service_id
        if owner is not None:
            schedules.setdefault(owner, []).append(schedule)
    terms: dict[uuid.UUID, set[str]] = {}
    for service_id, code in Service.taxonomy_terms.through.objects.values_list(
        "service_id", "taxonomyterm__code"
    ):
        terms.setdefault(service_id, set()).add(code)
    for service_id, term_taxonomy, code in Service.foreign_terms.through.objects.values_list(
        "service_id", "foreignterm__taxonomy", "foreignterm__code"
    ):
        mapped = taxonomy.mapping(term_taxonomy, code)
        if mapped is not None:
            terms.setdefault(service_id, set()).update(mapped[0])
    candidates = []
    for sal in ServiceAtLocation.objects.select_related("service", "location").filter(
        service__status=Service.Status.ACTIVE
    ):
        service, location = sal.service, sal.location
        if location.latitude is None or location.longitude is None:
            continue
        km = distance_km(person.latitude, person.longitude, location.latitude, location.longitude)
        interpretation = bool(service.interpretation_services.strip())
        own = schedules.get(sal.id) or schedules.get(service.id) or []
        if (
            km > person.max_distance_km
            or not terms.get(service.id, set()) & codes
            or sal.capacity_status == "no-capacity"
            or (service.minimum_age is not None and service.minimum_age > oldest)
            or (service.maximum_age is not None and service.maximum_age < youngest)
            or (person.free_only and service.cost == Service.Cost.PAID)
            or (person.language != "fr" and not interpretation)
        ):
            continue
        run = offer_run(own, today=today, horizon_days=horizon)
        if not run.offered_on(today, horizon):
            continue
        row = CandidateRow(
            id=str(sal.id),
            service_id=str(service.id),
            organization_id=str(service.organization_id),
            location_id=str(location.id),
            service_name=service.name,
            distance_km=km,
            capacity_status=sal.capacity_status,
            cost=service.cost,
            assured_date=service.assured_date,
            runs_in_language=person.language == "fr",
            interpretation=interpretation,
            slots=slots_text(own),
            run_from=run.run_from,
            undated=run.undated,
            resumes_on=run.resumes_on,
            starts_on=run.starts_on,
        )
        candidates.append(candidate_score(row, [], person, now))
    chosen = choose(candidates, person.count)
    for candidate in chosen:
        finish(candidate, person)
    return chosen


def bench_matching(
    *,
    services: int,
    referrals: int,
    naive_referrals: int,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - made-up data, not secrets
    log(f"building a catalogue of {services} services…")
    _catalogue(services, rng)
    filed = _referrals(referrals, rng)
    gc.collect()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    log(f"matching {referrals} referrals…")
    latencies, found = [], []
    for referral in filed:
        started = time.perf_counter()
        proposals = proposals_for(referral)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(len(proposals))

    log(f"naive scorer on {naive_referrals} of them…")
    now = timezone.now()
    naive, agree = [], 0
    for referral in filed[:naive_referrals]:
        started = time.perf_counter()
        expected = naive_match(referral, now)
        naive.append((time.perf_counter() - started) * 1000)
        # The matcher's early stop must not change the result.
        if [c.row.id for c in match(referral, now=now)] == [c.row.id for c in expected]:
            agree += 1

    p95 = _percentile(latencies, 0.95)
    naive_p95 = _percentile(naive, 0.95) if naive else 0.0
    return {
        "benchmark": "matching",
        "database": connection.vendor,
        "services": Service.objects.count(),
        "referrals": referrals,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(p95, 2),
        "naive_referrals": len(naive),
        "naive_p50_ms": round(statistics.median(naive), 1) if naive else None,
        "naive_p95_ms": round(naive_p95, 1) if naive else None,
        "naive_over_matcher_p95": round(naive_p95 / p95, 1) if naive and p95 else None,
        "naive_same_choice": f"{agree}/{len(naive)}",
        "matched_share": round(sum(1 for n in found if n) / len(found), 3) if found else 0,
        "proposals_median": statistics.median(found) if found else 0,
    }
