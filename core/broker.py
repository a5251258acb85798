"""What every layer may know of the broker without building it (workers.broker does)."""

from __future__ import annotations

import dramatiq
import redis
from django.conf import settings

# What sending to the broker raises when it cannot be reached. Callers that publish after
# a commit catch these: the work is in the database, and the relay sends it later.
BROKER_ERRORS = (dramatiq.errors.DramatiqError, redis.exceptions.RedisError, OSError)


def embedded() -> bool:
    """True on the embedded default: no REDIS_URL, the broker lives in the process."""
    return not settings.REDIS_URL
