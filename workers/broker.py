"""The dramatiq broker: Redis when `REDIS_URL` is set, the embedded broker otherwise.

Both run the same actors with the same middleware. The embedded broker keeps its queues
in memory and dies with the process; that is safe because the outbox (events.outbox)
re-publishes any event whose work did not complete.
"""

from __future__ import annotations

import logging

import dramatiq
import redis
from django.conf import settings
from django_dramatiq.middleware import DbConnectionsMiddleware
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, default_middleware

from core.logs import RequestIdCarrier
from core.metrics import ActorMetrics
from workers.webhook_threads import WebhookThreads

logger = logging.getLogger(__name__)


class EmbeddedBroker(StubBroker):
    """dramatiq's in-memory broker, used for real: the `tisser serve` process consumes it
    on worker threads. Only the transport differs from Redis."""


class WarmUpOnBoot(Middleware):
    """Prepares the slip renderer when a worker boots, before it takes any message, so the
    first slip is not slowed by font loading (see `slips.renderer.worker_warm_up`)."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Before: dramatiq starts the worker threads and the consumers between the two.
        from slips.renderer import worker_warm_up

        queues = worker.consumer_whitelist
        worker_warm_up(
            slips=queues is None or "slips" in queues,
            separate=settings.TISSER_SLIP_RENDER_PROCESS,
        )


def broker_build() -> dramatiq.Broker:
    middleware = [m() for m in default_middleware]
    middleware += [
        DbConnectionsMiddleware(),
        # Before the warm-up, which looks at the queues a worker takes.
        WebhookThreads(),
        WarmUpOnBoot(),
        RequestIdCarrier(),
        ActorMetrics(),
    ]
    if settings.REDIS_URL:
        # Short socket timeouts: when Redis is down, a request that publishes an event
        # gives up quickly and leaves the event to the relay's sweep.
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=10
        )
        return RedisBroker(
            client=client, namespace=settings.TISSER_BROKER_NAMESPACE, middleware=middleware
        )
    return EmbeddedBroker(middleware=middleware)


def broker_setup() -> dramatiq.Broker:
    broker = broker_build()
    dramatiq.set_broker(broker)
    return broker
