"""At most N requests at a time per caller, for endpoints whose work is long (a day's
batch of slips): the next one is refused with 429 and `Retry-After` rather than queued
behind the others on the server's threads.

The slots are counted in Redis when `REDIS_URL` is set, so the limit holds across every
web process; in this process otherwise (embedded mode has one). A slot in Redis is a
lease: a process that dies holding one gives it back when the lease runs out. If Redis
cannot be reached, the limit is counted per process meanwhile and a warning is logged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Protocol

import redis
from django.conf import settings

from core.errors import Problem
from core.ratelimit import RateLimited

logger = logging.getLogger(__name__)

# Longer than any request may last (the server's timeout is 60 s).
LEASE_SECONDS = 120


class Busy(RateLimited):
    """Too many requests of this kind from this caller still running. A `RateLimited`,
    so the API answers it the same way: 429 with `Retry-After` (`config.api`)."""

    code = "busy"

    def __init__(self, *, limit: int, retry_after: int) -> None:
        Problem.__init__(
            self,
            f"At most {limit} such requests at a time with this key; the others are still "
            f"running. Try again in {retry_after} s.",
            extra={"limit": limit, "retry_after": retry_after},
        )
        self.retry_after = retry_after


class Slots(Protocol):
    def take(self, name: str, limit: int) -> str | None:
        """A slot of `name` if fewer than `limit` are taken: its token, else None."""

    def give_back(self, name: str, token: str) -> None: ...


class LocalSlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: Tally[str] = Tally()

    def take(self, name: str, limit: int) -> str | None:
        with self._lock:
            if self._taken[name] >= limit:
                return None
            self._taken[name] += 1
            return name

    def give_back(self, name: str, token: str) -> None:
        with self._lock:
            self._taken[name] -= 1
            if self._taken[name] <= 0:
                del self._taken[name]


class RedisSlots:
    """A sorted set per name: each holder's token, scored by when its lease ends."""

    def __init__(self, url: str, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._namespace = namespace
        self._fallback = LocalSlots()
        self._warned_at = 0.0

    def _key(self, name: str) -> str:
        return f"{self._namespace}:slots:{name}"

    def take(self, name: str, limit: int) -> str | None:
        key, token, now = self._key(name), uuid.uuid4().hex, time.time()
        try:
            # One MULTI: leases past their end go, this one joins, and its rank among
            # the leases (oldest first) says whether it is within the limit.
            pipeline = self._client.pipeline(transaction=True)
            pipeline.zremrangebyscore(key, "-inf", now)
            pipeline.zadd(key, {token: now + LEASE_SECONDS})
            pipeline.zrank(key, token)
            pipeline.expire(key, LEASE_SECONDS)
            _, _, rank, _ = pipeline.execute()
            if rank is not None and rank < limit:
                return token
            self._client.zrem(key, token)
            return None
        except redis.RedisError as error:
            if time.monotonic() - self._warned_at > 60:  # once a minute at most
                self._warned_at = time.monotonic()
                logger.warning("slots counted per process while Redis is unreachable: %s", error)
            local = self._fallback.take(name, limit)
            return None if local is None else f"local:{local}"

    def give_back(self, name: str, token: str) -> None:
        if token.startswith("local:"):
            self._fallback.give_back(name, token)
            return
        try:
            self._client.zrem(self._key(name), token)
        except redis.RedisError as error:  # the lease ends on its own
            logger.warning("could not give back a slot of %s: %s", name, error)


@lru_cache(maxsize=1)
def _slots() -> Slots:
    if settings.REDIS_URL:
        return RedisSlots(settings.REDIS_URL, settings.TISSER_BROKER_NAMESPACE)
    return LocalSlots()


@contextmanager
def concurrency_slot(name: str, *, limit: int, retry_after: int) -> Iterator[None]:
    """Hold one of `limit` slots of `name` for the block; raise `Busy` if all are held."""
    slots = _slots()
    token = slots.take(name, limit)
    if token is None:
        raise Busy(limit=limit, retry_after=retry_after)
    try:
        yield
    finally:
        slots.give_back(name, token)
