"""`tisser bench public`: how fast the activity pages a slip's QR code opens answer.

On the demo catalogue, in-process through Django's test client (the whole middleware
stack, no network): every page asked twice, once with the page cache empty (rendered:
the activity, its sessions, contacts, cost and languages read and laid out) and once
kept. The floor, in the same run, is `/healthz` through the same stack: the framework
alone. The last line printed is one JSON object.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.test import Client

from bench.processes import percentile
from community_catalog.demo_data import demo_catalog_load
from community_catalog.models import ServiceAtLocation


def bench_public(*, rounds: int, log: Callable[[str], None]) -> dict[str, Any]:
    log("Loading the demo catalogue…")
    demo_catalog_load()
    ids = list(ServiceAtLocation.objects.values_list("id", flat=True))
    client = Client()

    def timed(path: str, status: int) -> float:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != status:
            raise AssertionError(f"{path}: {response.status_code}")
        return elapsed

    for sal_id in ids:  # warm-up: imports, templates, translations
        timed(f"/a/{sal_id}", 200)
    log(f"{len(ids)} pages, {rounds} rounds…")
    rendered: list[float] = []
    kept: list[float] = []
    floor: list[float] = []
    for _ in range(rounds):
        cache.clear()
        for sal_id in ids:
            rendered.append(timed(f"/a/{sal_id}", 200))
            kept.append(timed(f"/a/{sal_id}", 200))
            floor.append(timed("/healthz", 200))
    kept_p50 = statistics.median(kept)
    floor_p50 = statistics.median(floor)
    return {
        "benchmark": "public",
        "pages": len(ids),
        "requests": len(rendered) + len(kept),
        "rendered_p50_ms": round(statistics.median(rendered), 2),
        "rendered_p95_ms": round(percentile(rendered, 95), 2),
        "kept_p50_ms": round(kept_p50, 2),
        "kept_p95_ms": round(percentile(kept, 95), 2),
        "floor_p50_ms": round(floor_p50, 2),
        "kept_over_floor": round(kept_p50 / floor_p50, 2) if floor_p50 else 0.0,
        "rendered_over_kept": round(statistics.median(rendered) / kept_p50, 1),
    }
