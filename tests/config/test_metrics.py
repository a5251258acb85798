"""/metrics: Prometheus text with what the database says (referrals by stage, the outbox)
and what the processes measured (actors, slip renders, HTTP routes); nothing about a
person; a token when one is configured."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ApiClient, referral_body, wait_for_stage


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_referrals_actors_renders_and_requests(
    worker: Any, api: ApiClient, catalog: int, settings: Any
) -> None:
    settings.TISSER_METRICS_CACHE_SECONDS = 0  # the second scrape reads the database again
    before = _samples()

    response = api.post("/api/v1/referrals", referral_body())
    assert response.status_code == 202
    wait_for_stage(response.json()["id"], "slip_ready")
    after = _samples()

    assert _value(after, "tisser_database_up") == 1
    assert _value(after, "tisser_referrals", stage="slip_ready", status="active") == 1
    assert _value(after, "tisser_placements", status="requested") >= 1
    assert ("tisser_outbox_lag_seconds", ()) in after
    assert ("tisser_outbox_pending_events", ()) in after
    for actor in ("match_referral", "render_slip"):
        name = "tisser_actor_duration_seconds_count"
        grew = _value(after, name, actor=actor, outcome="ok") - _value(
            before, name, actor=actor, outcome="ok"
        )
        assert grew >= 1, actor
    renders = _value(after, "tisser_slip_render_seconds_count") - _value(
        before, "tisser_slip_render_seconds_count"
    )
    assert renders == 1
    posted = {"method": "POST", "route": "api/v1/referrals", "status": "202"}
    name = "tisser_http_request_duration_seconds_count"
    assert _value(after, name, **posted) - _value(before, name, **posted) == 1


@pytest.mark.django_db
def test_metrics_say_nothing_about_a_person(api: ApiClient, catalog: int) -> None:
    body = referral_body(first_name="Philomène", patient_ref="pt-secret-42")
    assert api.post("/api/v1/referrals", body).status_code == 202
    referral = api.get("/api/v1/referrals").json()["items"][0]
    api.get(f"/api/v1/referrals/{referral['id']}")

    text = Client().get("/metrics").content.decode()

    for secret in ("Philomène", "pt-secret-42", referral["id"], referral["code"]):
        assert secret not in text
    # Routes are patterns, never paths with ids in them.
    assert 'route="api/v1/referrals/<referral_id>"' in text


@pytest.mark.django_db
def test_a_configured_token_is_required(settings: Any) -> None:
    settings.TISSER_METRICS_TOKEN = "s3cret-scrape-token"

    assert Client().get("/metrics").status_code == 401
    wrong = Client().get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = Client().get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert right.status_code == 200
    assert b"tisser_database_up" in right.content


def _grouped_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]


@pytest.mark.django_db
def test_scrapes_within_the_cache_window_read_the_database_once(settings: Any) -> None:
    settings.TISSER_METRICS_CACHE_SECONDS = 60

    with CaptureQueriesContext(connection) as queries:
        first = Client().get("/metrics")
        second = Client().get("/metrics")

    assert first.status_code == second.status_code == 200
    # Referrals by stage and status, placements by status: once for both scrapes.
    assert len(_grouped_queries(queries)) == 2
    assert b"tisser_referrals" in second.content
    settings.TISSER_METRICS_CACHE_SECONDS = 0
    with CaptureQueriesContext(connection) as uncached:
        Client().get("/metrics")
    assert len(_grouped_queries(uncached)) == 2
