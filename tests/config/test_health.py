"""/healthz and /readyz: what a load balancer or an orchestrator asks, without a key."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from events.models import Event

pytestmark = pytest.mark.django_db


def test_alive() -> None:
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_ready_when_the_database_the_broker_and_the_outbox_are(settings: Any) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"]["kind"] == ("redis" if settings.REDIS_URL else "embedded")
    assert body["checks"]["outbox"] == {"ok": True, "lag_seconds": 0.0}


def test_not_ready_when_the_outbox_falls_behind(settings: Any) -> None:
    settings.TISSER_READY_MAX_OUTBOX_LAG_SECONDS = 60
    # Work waiting for two minutes: a job that nobody has done.
    Event.objects.create(
        type="referral.submitted",
        aggregate_type="referral",
        aggregate_id=uuid.uuid4(),
        created_at=timezone.now() - timedelta(minutes=2),
    )
    # A job that failed for good is not waiting: it does not count.
    Event.objects.create(
        type="referral.submitted",
        aggregate_type="referral",
        aggregate_id=uuid.uuid4(),
        created_at=timezone.now() - timedelta(days=2),
        failed_at=timezone.now(),
    )

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    outbox = response.json()["checks"]["outbox"]
    assert outbox["ok"] is False
    assert 119 <= outbox["lag_seconds"] <= 130
    assert "limit 60 s" in outbox["error"]


def test_not_ready_when_redis_is_unreachable(settings: Any) -> None:
    # Nothing listens on port 1: a real refused connection.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False
    assert "redis unreachable" in broker["error"]
    assert response.json()["checks"]["database"]["ok"] is True


# Docker's healthcheck, a load balancer or Kubernetes probe the container by its own
# address, not by the name people use: the probes must answer whatever the Host header,
# and plain HTTP too (the probe never goes through the TLS proxy).
FOREIGN_HOSTS = ["127.0.0.1:8000", "10.0.3.7", "web:8000"]


@pytest.fixture
def production_hosts(settings: Any) -> Any:
    settings.ALLOWED_HOSTS = ["tisser.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    return settings


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_liveness_answers_whatever_the_host(production_hosts: Any, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_readiness_answers_whatever_the_host(production_hosts: Any, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ready"


@pytest.mark.parametrize("path", ["/", "/app/", "/api/v1/referrals", "/accounts/login/", "/a/x"])
def test_other_paths_still_refuse_a_foreign_host(production_hosts: Any, path: str) -> None:
    assert Client(HTTP_HOST="127.0.0.1:8000").get(path).status_code == 400
    # ... and still go to HTTPS for the allowed host.
    response = Client(HTTP_HOST="tisser.example.org").get(path)
    assert response.status_code == 301
    assert response["Location"] == f"https://tisser.example.org{path}"


def test_a_probe_is_timed_under_its_route(production_hosts: Any) -> None:
    from core.metrics import HTTP_SECONDS

    def count() -> float:
        (family,) = HTTP_SECONDS.collect()
        wanted = {"method": "GET", "route": "healthz", "status": "200"}
        samples = [s for s in family.samples if s.name.endswith("_count") and s.labels == wanted]
        return sum(s.value for s in samples)

    before = count()
    Client(HTTP_HOST="10.0.3.7").get("/healthz")
    assert count() > before
