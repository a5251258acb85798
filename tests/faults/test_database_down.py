"""PostgreSQL refuses connections, or drops them mid-request: the API answers 503 with
`Retry-After` (never a 500), writes no half of a referral, and recovers by itself once
the database is back. A client that retries with its Idempotency-Key files each
referral exactly once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from django.conf import settings

from tests import figures
from tests.faults.conftest import production_only, referral_json, wait_until

pytestmark = [pytest.mark.subprocess, pytest.mark.faults, production_only]


def _admin() -> psycopg.Connection[Any]:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


class Database:
    """Turns the real database away, and back."""

    def __init__(self, url: str) -> None:
        self.name = url.rsplit("/", 1)[1]

    def drop_connections(self) -> None:
        with _admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.name],
            )

    def refuse(self) -> None:
        with _admin() as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.drop_connections()

    def accept(self) -> None:
        with _admin() as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def count(self, sql: str) -> int:
        with psycopg.connect(self.url_for_reading) as conn:
            row = conn.execute(sql).fetchone()
            assert row is not None
            return int(row[0])

    url_for_reading = ""


def test_postgresql_down_gives_503_and_recovers_with_nothing_half_written(
    tisser, database_url: str
) -> None:
    instance, key = tisser
    database = Database(database_url)
    database.url_for_reading = database_url.replace("postgres://", "postgresql://")
    _, base = instance.serve(TISSER_RATE_LIMIT_PER_MINUTE="0", TISSER_WEB_THREADS="8")
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    keys = [str(uuid.uuid4()) for _ in range(70)]
    # A retry sends the same body with the same key.
    bodies = {k: {**referral_json(), "patient_ref": k[:8]} for k in keys}

    def submit(idempotency_key: str) -> httpx.Response:
        body = bodies[idempotency_key]
        return client.post(
            "/api/v1/referrals", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    answers: dict[str, int] = {}
    for idempotency_key in keys[:10]:
        answers[idempotency_key] = submit(idempotency_key).status_code
    assert set(answers.values()) == {202}

    # 1. The database refuses every connection.
    database.refuse()
    try:
        refused = [submit(k) for k in keys[10:30]]
        listing = client.get("/api/v1/referrals")
        ready = httpx.get(f"{base}/readyz")
        alive = httpx.get(f"{base}/healthz")
    finally:
        database.accept()
    for response in [*refused, listing]:
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()
        assert response.json()["error"]["code"] == "unavailable"
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert alive.status_code == 200

    # 2. It comes back: the same server answers again, without a restart.
    wait_until(lambda: submit(keys[10]).status_code == 202, timeout=30, what="recovery")
    for idempotency_key in keys[10:30]:
        answers[idempotency_key] = submit(idempotency_key).status_code
    assert set(answers.values()) == {202}

    # 3. Connections cut in the middle of a burst: each answer is 202 or 503, never 500.
    cut = threading.Event()
    count = 0
    lock = threading.Lock()

    def submit_and_cut(idempotency_key: str) -> tuple[str, int]:
        nonlocal count
        status = submit(idempotency_key).status_code
        with lock:
            count += 1
            if count in (10, 20, 30):
                database.drop_connections()
                cut.set()
        return idempotency_key, status

    with ThreadPoolExecutor(max_workers=6) as pool:
        burst = dict(pool.map(submit_and_cut, keys[30:]))
    assert cut.is_set()
    unavailable = [k for k, status in burst.items() if status == 503]
    for idempotency_key in unavailable:  # the client retries with the same key
        wait_until(lambda k=idempotency_key: submit(k).status_code == 202, timeout=30, what="retry")

    # Exactly one referral per key, each whole: its needs and its first event with it.
    referrals = database.count("SELECT count(*) FROM referrals_referral")
    keys_stored = database.count("SELECT count(*) FROM referrals_idempotencykey")
    without_needs = database.count(
        "SELECT count(*) FROM referrals_referral r WHERE NOT EXISTS "
        "(SELECT 1 FROM referrals_referral_needs n WHERE n.referral_id = r.id)"
    )
    without_event = database.count(
        "SELECT count(*) FROM referrals_referral r WHERE NOT EXISTS (SELECT 1 FROM "
        "referrals_event e WHERE e.aggregate_id = r.id AND e.type = 'referral.submitted')"
    )
    server_errors = sum(1 for status in burst.values() if status >= 500 and status != 503)
    figures.record(
        database_down_requests=len(refused) + 1 + len(burst),
        database_down_503=len(refused) + 1 + len(unavailable),
        database_down_500=server_errors,
        database_down_half_written=without_needs + without_event,
    )
    assert set(burst.values()) <= {202, 503}, burst
    assert referrals == keys_stored == len(keys)
    assert without_needs == 0
    assert without_event == 0
    # And the work the outage interrupted is finished: every referral gets its slip.
    try:
        wait_until(
            lambda: (
                client.get("/api/v1/referrals", params={"stage": "slip_ready", "limit": 1}).json()[
                    "total"
                ]
                == len(keys)
            ),
            timeout=240,
            what="every slip after the outage",
        )
    except AssertionError:
        pytest.fail(instance.logs())
