"""`tisser bench intake`: how many referrals a second the production HTTP server takes,
beside the floor the framework allows, in the same run.

One `tisser serve` (gunicorn, one worker process per core) on a throw-away PostgreSQL
database and a Redis namespace of its own serves both:

- **intake**: `POST /api/v1/referrals`, everything a referral goes through: the key, the
  rate limiter (counted in Redis, never reached), validation, the needs' taxonomy codes,
  the postcode's position, the referral, its needs and its event in one transaction,
  the event handed to Redis after commit, the request id, metrics and access log.
- **floor**: `POST /api/v1/bench/floor` (bench/floor.py), the same body through
  the same middleware and the same schema, then one INSERT.

The load comes from another process (bench/load_client.py): a fixed number of
connections, each sending the next body as soon as the last answer came. The bodies are
varied referrals (needs, postcode or position, availability, languages, notes). The two
endpoints take turns, twice each, after a warm-up, so that a drift of the machine or the
database weighs on both alike. No matching worker runs: the events wait in Redis.

The last line printed is one JSON object.
"""

from __future__ import annotations

import os
import random
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from accounts.keys import health_center_create
from bench.floor import TABLE_SQL
from bench.processes import Processes, load, percentile, production_topology_required
from community_catalog.demo_data import demo_catalog_load
from community_catalog.models import PostalCode
from referrals.models import Referral

NEEDS = (
    "isolation",
    "food-insecurity",
    "low-mood",
    "inactivity",
    "caring-burden",
    "new-to-area",
    "digital-exclusion",
    "walking-group",
    "cooking-workshop",
    "talk-group",
)
FIRST_NAMES = ("Josiane", "Karim", "Emily", "Bernard", "Fatou", "Lucas", "Mei", "Yusuf")
NOTES = (
    "",
    "Allez-y une première fois, sans engagement.",
    "Vous m'avez dit aimer marcher : ce groupe part tout près de chez vous, le mardi.",
)


def referral_bodies(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Varied, valid referrals for people around Lyon."""
    postcodes = list(PostalCode.objects.values_list("postal_code", flat=True)[:40])
    bodies = []
    for i in range(count):
        body: dict[str, Any] = {
            "patient_ref": f"bench-{i:05d}",
            "first_name": rng.choice(FIRST_NAMES),
            "year_of_birth": rng.randint(1935, 2005),
            "preferred_language": rng.choice(("fr", "fr", "fr", "en", "ar")),
            "needs": rng.sample(NEEDS, rng.randint(1, 3)),
            "max_distance_km": rng.choice((2, 4, 5, 10)),
            "note_for_patient": rng.choice(NOTES),
            "clinician_name": "Dr Camille Durand",
            "consent": {
                "given": True,
                "method": "verbal",
                "at": (datetime.now(UTC) - timedelta(minutes=i)).isoformat(),
            },
        }
        if rng.random() < 0.5 and postcodes:
            body["postcode"] = rng.choice(postcodes)
        else:
            body["location"] = {
                "latitude": round(45.75 + rng.uniform(-0.03, 0.03), 5),
                "longitude": round(4.84 + rng.uniform(-0.04, 0.04), 5),
            }
        if rng.random() < 0.4:
            body["availability"] = [
                {"weekday": day, "start": "14:00", "end": "18:00"}
                for day in rng.sample(("MO", "TU", "WE", "TH", "FR"), 2)
            ]
        if rng.random() < 0.2:
            body["accessibility_needs"] = ["step-free"]
        bodies.append(body)
    return bodies


def _summary(phases: list[dict[str, Any]]) -> dict[str, float | int]:
    latencies = [ms for phase in phases for ms in phase["latencies_ms"]]
    seconds = sum(phase["seconds"] for phase in phases)
    return {
        "requests": sum(phase["requests"] for phase in phases),
        "errors": sum(sum(phase["errors"].values()) for phase in phases),
        "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
    }


def bench_intake(
    *, seconds: float, concurrency: int | None, log: Callable[[str], None]
) -> dict[str, Any]:
    production_topology_required()
    cores = os.cpu_count() or 1
    concurrency = concurrency or 4 * cores
    rng = random.Random(9)  # noqa: S311 - made-up people, not secrets
    log("Loading the demo catalogue, its taxonomy and postcodes…")
    demo_catalog_load()
    _center, key = health_center_create(name="Centre de santé (bench)")
    with connection.cursor() as cursor:
        cursor.execute(TABLE_SQL)
    bodies = referral_bodies(500, rng)

    with Processes(TISSER_BENCH_FLOOR="1") as processes:
        base = processes.serve(workers=cores)
        log(f"Server up at {base} ({cores} worker processes); {concurrency} connections.")
        half = max(0.5, seconds / 2)
        plan = {
            "base_url": base,
            "headers": {"Authorization": f"Bearer {key}"},
            "concurrency": concurrency,
            "bodies": bodies,
            "phases": [
                {"name": "warm-intake", "path": "/api/v1/referrals", "seconds": min(2, half)},
                {"name": "warm-floor", "path": "/api/v1/bench/floor", "seconds": min(2, half)},
                {"name": "intake", "path": "/api/v1/referrals", "seconds": half},
                {"name": "floor", "path": "/api/v1/bench/floor", "seconds": half},
                {"name": "intake", "path": "/api/v1/referrals", "seconds": half},
                {"name": "floor", "path": "/api/v1/bench/floor", "seconds": half},
            ],
        }
        log(f"Driving it for {2 * seconds + 2 * min(2, half):.0f} s…")
        phases = load(plan, processes.dir)

    intake = _summary([p for p in phases if p["name"] == "intake"])
    floor = _summary([p for p in phases if p["name"] == "floor"])
    filed = Referral.objects.count()
    answered = sum(
        len(p["latencies_ms"]) - sum(v for k, v in p["errors"].items() if k.isdigit())
        for p in phases
        if p["name"].endswith("intake")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_floor")
        (floor_rows,) = cursor.fetchone()
    return {
        "benchmark": "intake",
        "database": "postgresql",
        "cores": cores,
        "web_workers": cores,
        "concurrency": concurrency,
        "seconds_each": round(2 * half, 1),
        **intake,
        **{f"floor_{k}": v for k, v in floor.items()},
        "referrals_answered_202": answered,
        "referrals_stored": filed,
        "floor_rows_stored": floor_rows,
        "rps_over_floor": round(intake["rps"] / floor["rps"], 3) if floor["rps"] else 0.0,
        "p99_over_floor": round(intake["p99_ms"] / floor["p99_ms"], 3) if floor["p99_ms"] else 0.0,
    }
