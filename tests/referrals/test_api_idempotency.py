"""`Idempotency-Key` on POST /api/v1/referrals: retries are safe."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connections

from accounts.keys import health_center_create
from events.models import Event
from referrals.models import Referral
from tests.conftest import ApiClient, referral_body

pytestmark = pytest.mark.django_db


def post(client: ApiClient, body: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/referrals", body, **headers)


def test_a_retry_gets_the_first_answer_and_files_nothing(catalog: int, api: ApiClient) -> None:
    body = referral_body()
    first = post(api, body, "c4f1a0e2-retry")
    # The same JSON, spaced and ordered differently.
    again = api.post(
        "/api/v1/referrals",
        json.dumps(body, indent=2, sort_keys=True),
        **{"Idempotency-Key": "c4f1a0e2-retry"},
    )

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Referral.objects.count() == 1
    assert Event.objects.filter(type="referral.submitted").count() == 1


def test_the_same_key_with_another_body_is_refused(catalog: int, api: ApiClient) -> None:
    post(api, referral_body(), "k-1")

    response = post(api, referral_body(first_name="Odette"), "k-1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert response.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    assert Referral.objects.count() == 1


def test_keys_belong_to_one_health_centre(
    catalog: int, api: ApiClient, outsider_api: ApiClient
) -> None:
    mine = post(api, referral_body(), "shared-key")
    theirs = post(outsider_api, referral_body(), "shared-key")

    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_refused_referral_keeps_no_key(catalog: int, api: ApiClient) -> None:
    refused = post(api, referral_body(needs=["karaoke"]), "k-2")
    fixed = post(api, referral_body(), "k-2")

    assert refused.status_code == 422
    assert fixed.status_code == 202
    assert Referral.objects.count() == 1


@pytest.mark.parametrize("key", ["", "a" * 201, "espace interdite", "clé"])
def test_malformed_keys_are_named(catalog: int, api: ApiClient, key: str) -> None:
    response = post(api, referral_body(), key)

    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    assert not Referral.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_posts_file_one_referral(catalog: int) -> None:
    _, key = health_center_create(name="Maison de santé des Pentes")
    body = referral_body()
    answers: list[Any] = []
    start = threading.Barrier(20)

    def send() -> None:
        try:
            client = ApiClient(key)
            start.wait()
            answers.append(post(client, body, "same-key-20"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [202] * 20
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert Referral.objects.count() == 1
