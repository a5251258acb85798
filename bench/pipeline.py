"""`tisser bench pipeline`: referrals in, slips out, as fast as the renderer allows?

On a throw-away PostgreSQL database and a Redis namespace of their own, the production
topology runs as deployed: `tisser serve`, one matching worker process, K slip worker
processes and the relay. A slip worker has two threads and renders in a child process
(slips.render_process): one thread stores a slip and reads the next while the child
renders the other's. Once the slip workers have warmed their renderers, N varied
referrals are filed through `POST /api/v1/referrals` from another process
(bench/load_client.py), and the run waits until every one is `slip_ready`.

- **throughput**: N / (last slip stored - first referral stored), both from the database.
- **latency**: per referral, its slip's time minus its own, from the database.
- **lost**: referrals that never reached `slip_ready` within the deadline.

Then, in the same run, **the renderer alone**: the same referrals' slips, their HTML
built beforehand, rendered by K fresh processes (forked, renderer warmed as a worker
does) that do nothing else: WeasyPrint's rate on this machine, the ceiling the pipeline
is measured against.

The last line printed is one JSON object.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Max, Min

from accounts.keys import health_center_create
from bench.intake import referral_bodies
from bench.processes import Processes, load, percentile, production_topology_required
from community_catalog.demo_data import demo_catalog_load
from referrals.models import Referral
from slips.content import slip_html
from slips.models import Slip

_htmls: list[str] = []  # what the forked renderers read (set before they fork)


def _render_share(start: int, step: int, ready: Any, go: Any, done: Any) -> None:
    """A renderer process: warm up as a worker does, wait for the start, render every
    `step`-th slip from `start`, report when done."""
    from slips.renderer import slip_renderer, worker_warm_up

    connections.close_all()  # the parent's connections are not this process's to use
    worker_warm_up()
    renderer = slip_renderer()
    ready.put(os.getpid())
    go.wait()
    count = 0
    for html in _htmls[start::step]:
        renderer.render(html)
        count += 1
    done.put(count)


def renderer_alone(htmls: list[str], processes: int) -> float:
    """Slips per second from `processes` renderers doing nothing else."""
    global _htmls
    _htmls = htmls
    context = multiprocessing.get_context("fork")
    ready, done = context.Queue(), context.Queue()
    go = context.Event()
    connections.close_all()
    children = [
        context.Process(target=_render_share, args=(i, processes, ready, go, done))
        for i in range(processes)
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=120)
    started = time.perf_counter()
    go.set()
    rendered = sum(done.get(timeout=3600) for _ in children)
    seconds = time.perf_counter() - started
    for child in children:
        child.join()
    _htmls = []
    return rendered / seconds


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    spent = {role: after.get(role, 0.0) - before.get(role, 0.0) for role in sorted(after)}
    roles = sum(seconds for role, seconds in spent.items() if role != "machine")
    spent["other"] = max(0.0, spent.get("machine", 0.0) - roles)
    return {role: round(seconds, 1) for role, seconds in spent.items()}


def bench_pipeline(
    *, referrals: int, workers: int | None, log: Callable[[str], None]
) -> dict[str, Any]:
    production_topology_required()
    workers = workers or os.cpu_count() or 1
    rng = random.Random(11)  # noqa: S311 - made-up people, not secrets
    log("Loading the demo catalogue, its taxonomy and postcodes…")
    demo_catalog_load()
    _center, key = health_center_create(name="Centre de santé (bench)")
    bodies = referral_bodies(referrals, rng)
    for body in bodies:
        body["max_distance_km"] = 10  # people the demo catalogue can serve

    with Processes() as processes:
        base = processes.serve(workers=1)
        processes.start("worker", "--processes", "1", "--threads", "2", "-Q", "matching")
        processes.start(
            "worker",
            *("--processes", str(workers), "--threads", "2", "-Q", "slips"),
            TISSER_SLIP_RENDER_PROCESS="true",  # as `tisser worker` does, whatever the shell says
        )
        processes.start("relay")
        processes.wait(
            lambda: processes.logs("worker").count("slip renderer ready") >= workers,
            f"{workers} slip workers to warm up",
            timeout=120,
        )
        log(f"Filing {referrals} referrals; {workers} slip workers…")
        cpu_before = processes.cpu_snapshot()
        submitted_at = time.perf_counter()
        [phase] = load(
            {
                "base_url": base,
                "headers": {"Authorization": f"Bearer {key}"},
                "concurrency": 8,
                "bodies": bodies,
                "phases": [{"name": "submit", "path": "/api/v1/referrals", "count": referrals}],
            },
            processes.dir,
        )
        submit_seconds = time.perf_counter() - submitted_at
        deadline = time.monotonic() + max(120.0, referrals * 0.5)
        ready = 0
        while time.monotonic() < deadline:
            ready = Referral.objects.filter(stage=Referral.Stage.SLIP_READY).count()
            if ready >= referrals:
                break
            time.sleep(0.25)
        log(f"{ready} of {referrals} slips ready.")
        cpu_after = processes.cpu_snapshot()

    filed = Referral.objects.count()
    span = Referral.objects.aggregate(first=Min("created_at"))
    last = Slip.objects.aggregate(last=Max("created_at"))
    seconds = (last["last"] - span["first"]).total_seconds() if last["last"] else 0.0
    latencies = [
        (slip_at - filed_at).total_seconds() * 1000
        for filed_at, slip_at in Referral.objects.filter(slip__isnull=False).values_list(
            "created_at", "slip__created_at"
        )
    ]
    render_ms = list(Slip.objects.values_list("render_ms", flat=True))

    log("The same slips through the renderer alone…")
    slipped = list(
        Referral.objects.filter(slip__isnull=False).select_related("health_center").order_by("id")
    )
    html_started = time.perf_counter()
    htmls = [slip_html(referral) for referral in slipped]
    html_ms = (time.perf_counter() - html_started) * 1000 / max(1, len(htmls))
    alone = renderer_alone(htmls, workers) if htmls else 0.0

    slips_per_s = len(latencies) / seconds if seconds else 0.0
    return {
        "benchmark": "pipeline",
        "database": "postgresql",
        "cores": os.cpu_count(),
        "workers": workers,
        "referrals": referrals,
        "submit_errors": sum(phase["errors"].values()),
        "submit_seconds": round(submit_seconds, 2),
        "filed": filed,
        "slips": len(latencies),
        "lost": referrals - ready,
        "seconds": round(seconds, 2),
        "slips_per_s": round(slips_per_s, 2),
        "latency_p50_ms": round(percentile(latencies, 50)),
        "latency_p95_ms": round(percentile(latencies, 95)),
        "render_ms_median": round(statistics.median(render_ms), 1) if render_ms else 0.0,
        "html_ms_mean": round(html_ms, 1),
        "renderer_alone_slips_per_s": round(alone, 2),
        # Where the machine's CPU went while the pipeline ran: seconds per process role
        # (`postgres` and `redis` count every such process on the machine), `machine` the
        # busy seconds of all cores, `other` what no role accounts for.
        "cpu_seconds": cpu_spent(cpu_before, cpu_after),
        "pipeline_over_renderer": round(slips_per_s / alone, 3) if alone else 0.0,
    }
