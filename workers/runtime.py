"""Embedded mode: the actors and the relay run on threads inside the serving process."""

from __future__ import annotations

import logging
import threading

import dramatiq
from django.conf import settings
from django.utils import timezone

from workers.relay import relay_run

logger = logging.getLogger(__name__)


class EmbeddedRuntime:
    """dramatiq worker threads on the in-memory broker, plus a relay thread."""

    def __init__(self, *, worker_threads: int | None = None) -> None:
        self.worker_threads = (
            settings.TISSER_WORKER_THREADS if worker_threads is None else worker_threads
        )
        self._stop = threading.Event()
        self._worker: dramatiq.Worker | None = None
        self._relay: threading.Thread | None = None

    def start(self) -> None:
        started_at = timezone.now()
        if self.worker_threads:
            self._worker = dramatiq.Worker(
                dramatiq.get_broker(), worker_threads=self.worker_threads, worker_timeout=100
            )
            self._worker.start()
        self._relay = threading.Thread(
            target=relay_run,
            args=(self._stop,),
            kwargs={"recover_before": started_at},
            name="tisser-relay",
            daemon=True,
        )
        self._relay.start()
        logger.info("embedded workers started: %s thread(s) and the relay", self.worker_threads)

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.stop(timeout=10_000)
        if self._relay is not None:
            self._relay.join(timeout=10)
