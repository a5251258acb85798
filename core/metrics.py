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
  system, not a process, so any web process answers them the same; each process reads
  them at most once per TISSER_METRICS_CACHE_SECONDS.

No metric carries anything about a person: labels are stages, statuses, actors, routes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from dramatiq.middleware import Middleware
from prometheus_client import (
    Histogram,
    values,
)

from core.metrics_files import metrics_files_prune, owner_lock_hold

logger = logging.getLogger(__name__)

_HOST = socket.gethostname()


def _process_id() -> str:
    """Names this process's files; holds the lock that says it still runs (prometheus
    calls this on every measurement, so a forked child takes its own at its first)."""
    owner = f"{_HOST}-{os.getpid()}"
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")  # set by config.settings
    if directory:
        owner_lock_hold(Path(directory), owner)
    return owner


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


def metrics_dir_prune() -> int:
    """Remove the files of processes that have ended, in this container or any other
    sharing the directory (their counts go with them, which Prometheus reads as a
    counter reset). Called when `tisser serve` starts (core.metrics_files)."""
    return metrics_files_prune(Path(settings.TISSER_METRICS_DIR))
    return True
