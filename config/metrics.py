"""Prometheus metrics, served at `/metrics`.

Two kinds:

- **Measured in the processes** — how long each actor's messages take, how long a slip
  takes to render, how long each API route takes to answer. Web and worker processes
  each write theirs to files in TISSER_METRICS_DIR (prometheus_client's multiprocess
  mode); `/metrics` adds up the files of every process that shares the directory. The
  files are named by host and process id, so processes of several containers can share
  one volume.
- **Read from the database at scrape time** — referrals by stage and status, placements
  by status, the outbox's lag and backlog, webhook dead letters. They describe the
  system, not a process, so any web process answers them the same.

No metric carries anything about a person: labels are stages, statuses, actors, routes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dramatiq
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from dramatiq.middleware import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

_HOST = socket.gethostname()


def _process_id() -> str:
    return f"{_HOST}-{os.getpid()}"


# Files named by host and process: pids of two containers sharing the volume may match.
values.ValueClass = values.MultiProcessValue(process_identifier=_process_id)

ACTOR_SECONDS = Histogram(
    "tisser_actor_duration_seconds",
    "Time spent processing one message, by actor and outcome.",
    ["actor", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
SLIP_RENDER_SECONDS = Histogram(
    "tisser_slip_render_seconds",
    "Time WeasyPrint takes to render one slip.",
    buckets=(0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2, 5),
)
HTTP_SECONDS = Histogram(
    "tisser_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class ActorMetrics(Middleware):
    """Times every message an actor processes (dramatiq middleware)."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started = self._started.pop(message.message_id, None)
        if started is not None:
            outcome = "ok" if exception is None else "error"
            ACTOR_SECONDS.labels(message.actor_name, outcome).observe(time.perf_counter() - started)

    after_skip_message = after_process_message


class HttpMetrics:
    """Times every request (Django middleware). The route is the URL pattern, never the
    path itself, so ids do not become labels."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        route = match.route if match is not None else "unmatched"
        HTTP_SECONDS.labels(request.method or "", route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


class DatabaseCollector(Collector):
    """What the database says at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from config.health import outbox_lag_seconds
        from referrals.models import Event, Placement, Referral, WebhookDelivery

        up = GaugeMetricFamily("tisser_database_up", "1 when the database answers the scrape.")
        try:
            referrals = GaugeMetricFamily(
                "tisser_referrals", "Referrals by stage and status.", labels=["stage", "status"]
            )
            rows = Referral.objects.values_list("stage", "status").annotate(n=Count("id"))
            for stage, status, n in rows:
                referrals.add_metric([stage, status], n)
            placements = GaugeMetricFamily(
                "tisser_placements", "Placements by status.", labels=["status"]
            )
            for status, n in Placement.objects.values_list("status").annotate(n=Count("id")):
                placements.add_metric([status], n)
            pending = Event.objects.filter(processed_at__isnull=True, failed_at__isnull=True)
            outbox = [
                GaugeMetricFamily(
                    "tisser_outbox_lag_seconds",
                    "Age of the oldest event whose work is not done (0: none).",
                    value=outbox_lag_seconds(),
                ),
                GaugeMetricFamily(
                    "tisser_outbox_pending_events",
                    "Events whose work is not done yet.",
                    value=pending.count(),
                ),
                GaugeMetricFamily(
                    "tisser_outbox_failed_events",
                    "Events set aside after TISSER_OUTBOX_MAX_PUBLISHES publishes.",
                    value=Event.objects.filter(failed_at__isnull=False).count(),
                ),
                GaugeMetricFamily(
                    "tisser_webhook_dead_letters",
                    "Webhook deliveries that failed every try.",
                    value=WebhookDelivery.objects.filter(
                        status=WebhookDelivery.Status.FAILED
                    ).count(),
                ),
            ]
        except DatabaseError as error:
            logger.warning("metrics: the database did not answer: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield referrals
        yield placements
        yield from outbox


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(settings.TISSER_METRICS_DIR))
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`/metrics`. With TISSER_METRICS_TOKEN set, only for `Authorization: Bearer <it>`."""
    token = settings.TISSER_METRICS_TOKEN
    if token and request.headers.get("Authorization", "") != f"Bearer {token}":
        return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


def metrics_dir_prune() -> int:
    """Remove the files of this host's processes that have ended (their counts go with
    them, which Prometheus reads as a counter reset). Called when `tisser serve` starts."""
    removed = 0
    for path in Path(settings.TISSER_METRICS_DIR).glob(f"*_{_HOST}-*.db"):
        pid = path.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
