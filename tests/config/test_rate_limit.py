"""Requests per key per minute: 429 with Retry-After past the limit, per key, on the
configured store (Redis when REDIS_URL is set, this process otherwise)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from accounts.keys import api_key_create
from core.ratelimit import WINDOW_SECONDS, LocalCounter, RedisCounter, rate_limit_check
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit(settings: Any) -> int:
    settings.TISSER_RATE_LIMIT_PER_MINUTE = 3
    # Start well inside a window, so that the calls below all fall in the same one.
    if WINDOW_SECONDS - time.time() % WINDOW_SECONDS < 3:
        time.sleep(WINDOW_SECONDS - time.time() % WINDOW_SECONDS + 0.1)
    return 3


def test_past_the_limit_a_key_gets_429_with_retry_after(
    api: ApiClient, center: Any, limit: int
) -> None:
    for _ in range(limit):
        assert api.get("/api/v1/referrals").status_code == 200

    refused = api.get("/api/v1/referrals")

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= WINDOW_SECONDS
    body = refused.json()["error"]
    assert body["code"] == "rate_limited"
    assert body["limit"] == limit
    assert body["retry_after"] == int(refused["Retry-After"])
    # Another key of the same centre has its own count.
    other = ApiClient(api_key_create(health_center=center[0]))
    assert other.get("/api/v1/referrals").status_code == 200


def test_a_refused_request_writes_nothing(api: ApiClient, limit: int) -> None:
    from referrals.models import Referral
    from tests.conftest import referral_body

    for _ in range(limit):
        api.get("/api/v1/referrals")
    assert api.post("/api/v1/referrals", referral_body()).status_code == 429
    assert Referral.objects.count() == 0


def test_no_limit_when_set_to_zero(api: ApiClient, settings: Any) -> None:
    settings.TISSER_RATE_LIMIT_PER_MINUTE = 0
    assert all(api.get("/api/v1/referrals").status_code == 200 for _ in range(5))


def test_the_local_counter_counts_per_name_and_window() -> None:
    counter = LocalCounter()
    assert [counter.hit("a", 1) for _ in range(3)] == [1, 2, 3]
    assert counter.hit("b", 1) == 1
    assert counter.hit("a", 2) == 1


def test_an_unreachable_redis_lets_requests_through(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TISSER_RATE_LIMIT_PER_MINUTE = 1
    # Nothing listens on port 1: a real connection refused, not a mock.
    counter = RedisCounter("redis://127.0.0.1:1/0", "test")
    for _ in range(3):
        rate_limit_check("k", counter=counter)
    assert "rate limiting is off" in caplog.text


def test_embedded_mode_serves_from_one_process_so_its_count_is_the_servers(
    settings: Any,
) -> None:
    """docs/api/conventions.md ("Rate limits") says so: without Redis the count is kept in
    the serving process, which is every request's count only because embedded mode runs
    one web process."""
    from workers.server import TisserServer

    settings.REDIS_URL = ""
    assert TisserServer(host="127.0.0.1", port=1, workers=4, threads=2).options["workers"] == 1
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert TisserServer(host="127.0.0.1", port=1, workers=4, threads=2).options["workers"] == 4
