"""/healthz and /readyz: what a load balancer or an orchestrator asks, without a key."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from referrals.models import Event

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
