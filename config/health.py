"""Liveness and readiness, for load balancers and orchestrators (no key needed; they
say nothing about anyone).

- `/healthz`: the process answers.
- `/readyz`: it can do its work: the database answers, the broker answers (Redis; the
  embedded broker is this process), and the outbox is keeping up: the oldest event whose
  work is not done is younger than `TISSER_READY_MAX_OUTBOX_LAG_SECONDS`. 503 with
  `Retry-After` otherwise, naming what failed.

Both answer whatever the `Host` header and over plain HTTP (`ProbeMiddleware`): a probe
comes from the machine's own orchestrator, by the container's address, not through the
TLS proxy with the name people use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.utils import timezone

from events.models import Event

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"ok": False, "error": f"database unreachable: {type(error).__name__}"}
    return {"ok": True}


def _broker() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"ok": True, "kind": "embedded"}
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        return {"ok": False, "kind": "redis", "error": f"redis unreachable: {type(error).__name__}"}
    finally:
        client.close()
    return {"ok": True, "kind": "redis"}


def outbox_lag_seconds() -> float:
    """How long the oldest event whose work is not done has waited (0: none waits)."""
    oldest = (
        Event.objects.filter(processed_at__isnull=True, failed_at__isnull=True)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    return 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


def _outbox(database_ok: bool) -> dict[str, Any]:
    if not database_ok:
        return {"ok": False, "error": "unknown: the database is unreachable"}
    lag = outbox_lag_seconds()
    limit = settings.TISSER_READY_MAX_OUTBOX_LAG_SECONDS
    result: dict[str, Any] = {"ok": lag <= limit, "lag_seconds": round(lag, 1)}
    if lag > limit:
        result["error"] = f"the oldest pending event has waited {lag:.0f} s (limit {limit} s)"
    return result


def readyz(request: HttpRequest) -> JsonResponse:
    database = _database()
    checks = {"database": database, "broker": _broker(), "outbox": _outbox(database["ok"])}
    ready = all(check["ok"] for check in checks.values())
    response = JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
    if not ready:
        logger.warning("not ready: %s", {k: v for k, v in checks.items() if not v["ok"]})
        response["Retry-After"] = "5"
    return response


PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class ProbeMiddleware:
    """Answers `/healthz` and `/readyz` before the host check and the HTTPS redirect.

    Docker's healthcheck asks `http://127.0.0.1:8000/healthz` (so `Host: 127.0.0.1:8000`),
    a load balancer asks by the container's address: with `TISSER_ALLOWED_HOSTS` naming
    only the public name, Django's host check answered 400, the web container never
    turned healthy and nothing that waits for it started. The probes build no URL from
    the host and say nothing about anyone, so they need no host check; every other
    path still gets it. Placed before SecurityMiddleware and CommonMiddleware, after
    the request id and the timing, so a probe is still logged and timed under its route.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in PROBE_PATHS:
            return self.get_response(request)
        match = resolve(request.path_info)
        request.resolver_match = match
        response: HttpResponse = match.func(request, *match.args, **match.kwargs)
        return response
