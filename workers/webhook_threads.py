"""Webhook deliveries on threads of their own, in every worker that takes them.

A delivery waits on someone else's server, up to `TISSER_WEBHOOK_TIMEOUT_SECONDS`. On
the threads that match referrals and render slips, a few slow receivers would hold them
all. So a worker given the webhooks queue among others (`tisser worker` without
`--queues`, or with `--queues matching webhooks`; the embedded runtime) leaves that queue
to a second dramatiq worker in the same process, with `TISSER_WEBHOOK_THREADS` threads of
its own, started and stopped with it. A worker given only the webhooks queue keeps it.

Among these threads, no one centre or organisation holds more than its allowance
(`TISSER_WEBHOOK_OWNER_CONCURRENCY`, across processes): its other deliveries are put back
at once, untried (`events.webhooks`).
"""

from __future__ import annotations

import logging

import dramatiq
from django.conf import settings
from dramatiq.common import q_name
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

WEBHOOKS_QUEUE = "webhooks"


class WebhookThreads(Middleware):
    def __init__(self) -> None:
        self._webhook_workers: dict[int, dramatiq.Worker] = {}

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Before the worker starts its consumers, which follow its list of queues.
        queues = worker.consumer_whitelist or {
            q_name(name) for name in broker.get_declared_queues()
        }
        if WEBHOOKS_QUEUE not in queues or queues == {WEBHOOKS_QUEUE}:
            return
        worker.consumer_whitelist = queues - {WEBHOOKS_QUEUE}
        self._webhook_workers[id(worker)] = dramatiq.Worker(
            broker,
            queues={WEBHOOKS_QUEUE},
            worker_threads=settings.TISSER_WEBHOOK_THREADS,
            worker_timeout=worker.worker_timeout,
        )

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        webhook_worker = self._webhook_workers.get(id(worker))
        if webhook_worker is None:
            return
        # dramatiq warns when a second worker joins a broker ("a middleware of the same
        # type twice": each worker's consumer hook); here that is the point.
        quiet = _SecondWorkerAllowed()
        broker.logger.addFilter(quiet)
        try:
            webhook_worker.start()
        finally:
            broker.logger.removeFilter(quiet)
        logger.info(
            "webhook deliveries on %s thread(s) of their own", webhook_worker.worker_threads
        )

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        webhook_worker = self._webhook_workers.pop(id(worker), None)
        if webhook_worker is not None:
            # Deliveries under way end by their deadline.
            webhook_worker.stop(timeout=int(settings.TISSER_WEBHOOK_TIMEOUT_SECONDS * 1000) + 1000)


class _SecondWorkerAllowed(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "same type twice" not in record.getMessage()
