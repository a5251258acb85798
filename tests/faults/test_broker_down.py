"""Redis stops in the middle of a burst of 200 referrals: every one is still accepted
(202), and every one gets exactly one slip, and its webhook, once Redis is back. The
outbox holds the work while the broker is away; nothing is lost."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests import figures
from tests.faults.conftest import production_only, referral_json, wait_until

pytestmark = [pytest.mark.subprocess, pytest.mark.faults, production_only]

BURST = 200
# Redis is stopped once this many referrals have been answered.
STOP_AFTER = 40


def test_redis_stopped_during_a_burst_of_200_loses_nothing(tisser, redis_server) -> None:
    from tests.events.test_webhooks import Receiver

    instance, key = tisser
    headers = {"Authorization": f"Bearer {key}"}
    redis_server.start()
    env = {"REDIS_URL": redis_server.url, "TISSER_RATE_LIMIT_PER_MINUTE": "0"}
    _, base = instance.serve(TISSER_WEB_THREADS="8", **env)
    instance.start("worker", "--processes", "2", "--threads", "2", **env)
    instance.start("relay", TISSER_OUTBOX_RETRY_SECONDS="5", **env)
    # A webhook subscriber too: deliveries go through the broker like the rest.
    receiver = Receiver()
    subscribed = httpx.post(
        f"{base}/api/v1/webhooks",
        json={"url": receiver.url, "event_types": ["referral.submitted"]},
        headers=headers,
    )
    assert subscribed.status_code == 201

    answered = 0
    stopped = threading.Event()
    lock = threading.Lock()
    client = httpx.Client(base_url=base, headers=headers, timeout=30)

    def submit(number: int) -> httpx.Response:
        nonlocal answered
        body = {**referral_json(), "patient_ref": f"burst-{number:03d}"}
        response = client.post("/api/v1/referrals", json=body)
        with lock:
            answered += 1
            if answered == STOP_AFTER:
                redis_server.stop()
                stopped.set()
        return response

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(submit, range(BURST)))
    assert stopped.is_set()
    accepted_while_down = sum(1 for r in responses[STOP_AFTER:] if r.status_code == 202)
    statuses = [r.status_code for r in responses]
    assert statuses == [202] * BURST, [r.text for r in responses if r.status_code != 202][:3]
    # While Redis is away the service says it is not ready, and still takes referrals.
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"]["ok"] is False

    redis_server.start()
    ids = {r.json()["id"] for r in responses}

    def slip_ready_count() -> int:
        page = client.get("/api/v1/referrals", params={"stage": "slip_ready", "limit": 1})
        return int(page.json()["total"])

    try:
        wait_until(lambda: slip_ready_count() == BURST, timeout=420, what="every slip")
        received = receiver.wait_for(BURST, timeout=120)
    except AssertionError:
        pytest.fail(f"{slip_ready_count()} of {BURST} slips\n{instance.logs()}")
    finally:
        receiver.server.shutdown()

    versions = []
    for offset in range(0, BURST, 200):
        page = client.get("/api/v1/referrals", params={"limit": 200, "offset": offset}).json()
        versions += [item["slip_version"] for item in page["items"]]
    slip_files = list((Path(instance.env["TISSER_DATA_DIR"]) / "files" / "slips").rglob("*.pdf"))
    webhook_ids = {json.loads(body)["data"]["referral_id"] for _, body in received}
    duplicates = sum(1 for v in versions if v != 1) + max(0, len(slip_files) - BURST)
    figures.record(
        outage_submissions=BURST - STOP_AFTER,
        outage_accepted=accepted_while_down,
        outage_slips_lost=BURST - slip_ready_count(),
        outage_duplicate_slips=duplicates,
    )
    assert sorted(versions) == [1] * BURST
    assert len(slip_files) == BURST
    assert webhook_ids == ids
    assert duplicates == 0
