"""`/metrics`: the processes' own counters (core.metrics, shared through
TISSER_METRICS_DIR) and what the database says, read here in the top layer because it
counts every app's tables."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from config.health import outbox_lag_seconds
from core.caches import cache_register
from events.models import Event, WebhookDelivery
from referrals.models import Placement, Referral

logger = logging.getLogger(__name__)


class DatabaseCollector(Collector):
    """What the database says, read at most once per TISSER_METRICS_CACHE_SECONDS in
    each process (see `database_gauges`)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from database_gauges()


_gauges_lock = threading.Lock()
_gauges: tuple[float, list[GaugeMetricFamily]] | None = None


def database_gauges() -> list[GaugeMetricFamily]:
    """The database's gauges, kept for TISSER_METRICS_CACHE_SECONDS: they cost whole-table
    GROUP BYs, the same for every scrape, so several scrapers (or one that asks too often)
    add no load. Under the lock, scrapes that arrive together read the database once."""
    global _gauges
    with _gauges_lock:
        now = time.monotonic()
        if _gauges is not None and now - _gauges[0] < settings.TISSER_METRICS_CACHE_SECONDS:
            return _gauges[1]
        families = _database_gauges_read()
        _gauges = (now, families)
        return families


@cache_register
def database_gauges_forget() -> None:
    global _gauges
    with _gauges_lock:
        _gauges = None


def _database_gauges_read() -> list[GaugeMetricFamily]:
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
                value=WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).count(),
            ),
        ]
    except DatabaseError as error:
        logger.warning("metrics: the database did not answer: %s", error)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    return [up, referrals, placements, *outbox]


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(settings.TISSER_METRICS_DIR))
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`/metrics`. With TISSER_METRICS_TOKEN set (production must), only for
    `Authorization: Bearer <it>`, compared in constant time."""
    token = settings.TISSER_METRICS_TOKEN
    if token and not hmac.compare_digest(
        request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
    ):
        return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
