"""`tisser bench slips`: how long a slip takes to render, beside what WeasyPrint needs at
the least for the same content and beside the way a typical Django view would do it.

The referrals are filed for people across central Lyon against the demo catalogue (real
texts, sessions, contacts, QR codes) and matched, so every slip is a full one: three
activities, one A4 page, in French or English. In one run, on the same slips:

- **tisser**: `SlipRenderer.render`, what the slip actor runs, in this process after the
  renderer warmed up (as a worker does when it boots). The HTML is built beforehand
  (`html_ms` reports that part).
- **naive**: the same HTML with the stylesheet inlined, through
  `weasyprint.HTML(string=..., base_url=...).write_pdf()` with a fresh default
  configuration on each call, as a Django view typically does.
- **batch**: 50 of the slips laid out as one document (`batch_html`), divided by 50: the
  per-slip cost once the per-document costs are shared, WeasyPrint's practical floor.
- **first slip**: a fresh process boots like a worker (Django set up, the renderer built
  and warmed), then renders one slip; the time of that first render.
- **day's batch**: 100 of the rendered slips put together into one PDF with pikepdf
  (`slips_merge`, what `/api/v1/slips.pdf` and `/app/slips/today.pdf` run, median of
  three), beside the same 100 laid out anew by WeasyPrint as one document (once), as the
  batch was made before.

Large-print and French-with-English slips are timed too (20 of each, fewer for a smaller
`--count`), apart: they are longer documents, so they would widen the spread of the main
figures for reasons that have nothing to do with the renderer.

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from io import BytesIO
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.keys import health_center_create
from accounts.models import HealthCenter
from community_catalog.demo_data import demo_catalog_load
from events.models import Event
from referrals.matching_jobs import referral_match
from referrals.models import Referral
from referrals.schemas import ReferralIn
from referrals.services import referral_submit
from slips.batch import slips_merge
from slips.content import batch_html, batch_title, slip_html
from slips.renderer import (
    PDF_VARIANT,
    SLIP_ASSETS,
    slip_renderer,
    stylesheet_text,
    worker_warm_up,
)

BATCH_SIZE = 50
DAY_BATCH_SIZE = 100
VARIANT_COUNT = 20
# Central Lyon, where the demo catalogue's activities are.
_LATITUDES, _LONGITUDES = (45.735, 45.785), (4.820, 4.880)
_NEEDS = [
    "isolation",
    "inactivity",
    "food-insecurity",
    "caring-burden",
    "new-to-area",
    "low-mood",
]
_NAMES = ["Josiane", "Karim", "Emily", "Bernard", "Fatou", "Lucien", "Aïcha", "Marie-Thérèse"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _file(
    center: HealthCenter, count: int, rng: random.Random, *, activities: int = 3, **overrides: Any
) -> list[Referral]:
    """File and match referrals until `count` of them have at least `activities`."""
    full: list[Referral] = []
    attempts = 0
    while len(full) < count and attempts < count * 5:
        attempts += 1
        data = ReferralIn.model_validate(
            {
                "patient_ref": f"bench-{uuid.uuid4().hex[:12]}",
                "first_name": rng.choice(_NAMES),
                "year_of_birth": rng.randint(1940, 2004),
                "preferred_language": "en" if rng.random() < 0.15 else "fr",
                "location": {
                    "latitude": rng.uniform(*_LATITUDES),
                    "longitude": rng.uniform(*_LONGITUDES),
                },
                "needs": rng.sample(_NEEDS, 2),
                "max_distance_km": 8,
                "note_for_patient": rng.choice(
                    ["", "Allez-y une première fois, sans engagement : vous verrez bien."]
                ),
                "consent": {"given": True, "method": "verbal", "at": datetime.now(UTC)},
                **overrides,
            }
        )
        referral = referral_submit(health_center=center, data=data)
        event = Event.objects.get(aggregate_id=referral.id, type="referral.submitted")
        referral_match(referral_id=referral.id, event_id=event.id)
        if referral.matches.count() >= activities:
            full.append(Referral.objects.select_related("health_center").get(id=referral.id))
    return full


def _naive_html(html: str) -> str:
    """The slip as one self-contained page: what a view passes to WeasyPrint."""
    return html.replace("</head>", f"<style>{stylesheet_text()}</style>\n</head>", 1)


def _naive_render(html: str) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=SLIP_ASSETS.as_uri() + "/").write_pdf(
        pdf_variant=PDF_VARIANT
    )
    return pdf


def _timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000, result


def _pages(pdf: bytes) -> int:
    from pikepdf import Pdf

    with Pdf.open(BytesIO(pdf)) as document:
        return len(document.pages)


_CHILD = """
import json, os, sys, time
started = time.perf_counter()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from slips.renderer import slip_renderer, worker_warm_up
worker_warm_up()  # what a worker does when it boots (workers.broker)
renderer = slip_renderer()
booted = time.perf_counter()
html = sys.stdin.read()
renderer.render(html)
done = time.perf_counter()
print(json.dumps({"boot_ms": (booted - started) * 1000, "first_ms": (done - booted) * 1000}))
"""


def _first_slip(html: str) -> dict[str, float]:
    """A fresh process boots like a slip worker, then renders `html`."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _CHILD],
        input=html,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
        timeout=300,
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def _merged(pdfs: list[bytes], day: date) -> bytes:
    from pikepdf import Pdf

    title, language = batch_title(day)
    slips = [Pdf.open(BytesIO(pdf)) for pdf in pdfs]
    try:
        return slips_merge(slips, title=title, author="Tisser", language=language)
    finally:
        for slip in slips:
            slip.close()


def _day_batch(
    referrals: list[Referral], pdfs: list[bytes], *, now: datetime, log: Callable[[str], None]
) -> dict[str, Any]:
    """A day's batch: the stored slips put together, beside the same slips laid out anew
    as one document (the way the batch was made before)."""
    size, day = min(DAY_BATCH_SIZE, len(pdfs)), timezone.localdate(now)
    log(f"putting {size} of the slips together as a day's batch, three times…")
    merges = [_timed(_merged, pdfs[:size], day) for _ in range(3)]
    log(f"laying the same {size} out anew as one document, as the batch was made before…")
    render_ms, _ = _timed(slip_renderer().render, batch_html(referrals[:size], day=day, now=now))
    merge_ms = statistics.median(ms for ms, _ in merges)
    return {
        "day_batch_slips": size,
        "day_batch_merge_ms": round(merge_ms, 1),
        "day_batch_render_ms": round(render_ms, 1),
        "day_batch_render_over_merge": round(render_ms / merge_ms, 2),
        "day_batch_pages": _pages(merges[0][1]),
        "day_batch_bytes": len(merges[0][1]),
    }


def bench_slips(*, count: int, seed: int = 1, log: Callable[[str], None] = print) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - made-up people, not secrets
    log("loading the demo catalogue…")
    demo_catalog_load()
    center, _ = health_center_create(name="Maison de santé du banc d'essai")
    log(f"filing and matching {count} referrals…")
    referrals = _file(center, count, rng)
    if len(referrals) < count:
        raise RuntimeError(f"only {len(referrals)} referrals found three activities")
    # As many variants as slips, up to VARIANT_COUNT: a smoke run (a few slips) stays short.
    variants_count = min(VARIANT_COUNT, count)
    large = _file(center, variants_count, rng, large_print=True)
    # Fewer activities run with interpretation: any slip with one or more will do.
    bilingual = _file(center, variants_count, rng, activities=1, preferred_language="de")
    now = timezone.now()

    log("building the HTML…")
    html_times, pages = [], []
    for referral in referrals:
        ms, html = _timed(partial(slip_html, now=now), referral)
        html_times.append(ms)
        pages.append(html)

    log("warming the renderer, as a worker does at boot…")
    worker_warm_up()
    renderer = slip_renderer()

    log(f"rendering {count} slips with Tisser's renderer…")
    tisser, pdfs = [], []
    for html in pages:
        ms, pdf = _timed(renderer.render, html)
        tisser.append(ms)
        pdfs.append(pdf)
    # Read back afterwards, so that nothing but rendering happens between two renders.
    sizes, page_counts = [len(pdf) for pdf in pdfs], [_pages(pdf) for pdf in pdfs]

    log(f"rendering the same {count} slips the naive way…")
    naive = [_timed(_naive_render, _naive_html(html))[0] for html in pages]

    log(f"rendering {BATCH_SIZE} of them as one document, three times…")
    batch_size = min(BATCH_SIZE, count)
    document = batch_html(referrals[:batch_size], day=timezone.localdate(now), now=now)
    batch_runs = [_timed(renderer.render, document) for _ in range(3)]
    batch_ms = statistics.median(ms for ms, _ in batch_runs)
    batch_pages = _pages(batch_runs[0][1])

    day_batch = _day_batch(referrals, pdfs, now=now, log=log)

    log("timing large-print and French-with-English slips…")
    variants = {}
    for name, group in (("large_print", large), ("bilingual", bilingual)):
        rendered = [_timed(renderer.render, slip_html(r, now=now)) for r in group]
        variants[name] = {
            "ms_median": round(statistics.median(ms for ms, _ in rendered), 1),
            "pages_median": statistics.median(_pages(pdf) for _, pdf in rendered),
            "activities_median": statistics.median(r.matches.count() for r in group),
            "bytes_max": max(len(pdf) for _, pdf in rendered),
        }

    log("starting a fresh worker process for its first slip…")
    first = _first_slip(pages[0])

    median, p95 = statistics.median(tisser), _percentile(tisser, 0.95)
    naive_median = statistics.median(naive)
    per_slip = batch_ms / batch_size
    return {
        "benchmark": "slips",
        "slips": count,
        "pages_per_slip_max": max(page_counts),
        "html_ms_median": round(statistics.median(html_times), 1),
        "tisser_ms_median": round(median, 1),
        "tisser_ms_p95": round(p95, 1),
        "naive_ms_median": round(naive_median, 1),
        "naive_ms_p95": round(_percentile(naive, 0.95), 1),
        "batch_size": batch_size,
        "batch_pages": batch_pages,
        "batch_ms_per_slip": round(per_slip, 1),
        "first_slip_ms": round(first["first_ms"], 1),
        "worker_boot_ms": round(first["boot_ms"], 1),
        "pdf_bytes_max": max(sizes),
        "median_over_batch_per_slip": round(median / per_slip, 2),
        "p95_over_median": round(p95 / median, 2),
        "first_over_median": round(first["first_ms"] / median, 2),
        "naive_over_tisser": round(naive_median / median, 2),
        **day_batch,
        "large_print": variants["large_print"],
        "bilingual": variants["bilingual"],
        "harfbuzz_subset": _harfbuzz_subset(),
    }


def _harfbuzz_subset() -> bool:
    from slips.renderer import harfbuzz_subset_missing

    return not harfbuzz_subset_missing()
