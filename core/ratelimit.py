"""Requests per API key per minute: a fixed one-minute window, counted in Redis when
`REDIS_URL` is set (shared by every web process), in this process's memory otherwise.

The memory count is the whole server's only because embedded mode (no `REDIS_URL`)
serves from exactly one process: `tisser serve` runs a single gunicorn worker there
(`workers.server`), whose threads share the count. Start several web processes without
Redis (by hand, outside `tisser serve`) and each would allow the limit; a restart
forgets the current minute's counts. Deployments with several web processes use Redis,
as production does.

Past the limit a request is refused with 429 and `Retry-After` (the seconds left in the
window). If Redis cannot be reached the request is let through and a warning is logged:
the limiter protects the service, it must not be the reason it stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from functools import lru_cache
from typing import Protocol

import redis
from django.conf import settings

from core.caches import cache_register
from core.errors import Problem

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class RateLimited(Problem):
    status = 429
    code = "rate_limited"

    def __init__(self, *, limit: int, retry_after: int, message: str | None = None) -> None:
        super().__init__(
            message
            or f"Too many requests with this key: at most {limit} a minute. "
            f"Try again in {retry_after} s.",
            extra={"limit": limit, "retry_after": retry_after},
        )
        self.retry_after = retry_after


class Counter(Protocol):
    def hit(self, name: str, window: int) -> int | None:
        """Count one request of `name` in `window`; the count so far, or None if it
        could not be counted."""


class LocalCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = defaultdict(int)

    def hit(self, name: str, window: int) -> int:
        with self._lock:
            if len(self._counts) > 10_000:  # past windows
                for stale in [k for k in self._counts if k[1] < window]:
                    del self._counts[stale]
            self._counts[(name, window)] += 1
            return self._counts[(name, window)]


class RedisCounter:
    def __init__(self, url: str, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._namespace = namespace
        self._warned_at = 0.0

    def hit(self, name: str, window: int) -> int | None:
        key = f"{self._namespace}:ratelimit:{name}:{window}"
        try:
            pipeline = self._client.pipeline(transaction=False)
            pipeline.incr(key)
            pipeline.expire(key, WINDOW_SECONDS * 2)
            count, _ = pipeline.execute()
        except redis.RedisError as error:
            if time.monotonic() - self._warned_at > 60:  # once a minute at most
                self._warned_at = time.monotonic()
                logger.warning("rate limiting is off while Redis is unreachable: %s", error)
            return None
        return int(count)


@lru_cache(maxsize=1)
def _counter() -> Counter:
    if settings.REDIS_URL:
        return RedisCounter(settings.REDIS_URL, settings.TISSER_BROKER_NAMESPACE)
    return LocalCounter()


# A process's own counts (embedded mode) start afresh with the other process caches.
cache_register(_counter.cache_clear)


def rate_limit_check(
    name: str, *, counter: Counter | None = None, limit: int | None = None
) -> None:
    """Count a request by `name`; raise `RateLimited` past `limit` a minute (by default
    TISSER_RATE_LIMIT_PER_MINUTE, the API keys'; 0: no limit)."""
    limit = settings.TISSER_RATE_LIMIT_PER_MINUTE if limit is None else limit
    if not limit:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    count = (counter or _counter()).hit(name, window)
    if count is not None and count > limit:
        raise RateLimited(limit=limit, retry_after=WINDOW_SECONDS - int(now % WINDOW_SECONDS))
