"""Redis down when a referral arrives: the API still accepts it, and the relay's sweep
delivers the work once Redis is back. Nothing is lost."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
import redis

from tests.faults.conftest import free_port, referral_json, wait_until

pytestmark = pytest.mark.subprocess


@pytest.fixture
def redis_port():
    """A Redis server of this test's own, on a free port, started when the test says."""
    assert shutil.which("redis-server"), "redis-server is needed for this test"
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        client = redis.Redis(port=port)
        wait_until(lambda: _pings(client), timeout=10, what="redis-server")

    yield port, start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_a_referral_filed_while_redis_is_down_gets_its_slip_later(tisser, redis_port) -> None:
    from tests.referrals.test_webhooks import Receiver

    instance, key = tisser
    port, start_redis = redis_port
    redis_url = f"redis://127.0.0.1:{port}/0"
    headers = {"Authorization": f"Bearer {key}"}
    _, base = instance.serve(REDIS_URL=redis_url)
    # A webhook subscriber too: its deliveries cannot be sent while Redis is down either.
    receiver = Receiver()
    subscribed = httpx.post(
        f"{base}/api/v1/webhooks",
        json={"url": receiver.url, "event_types": ["referral.submitted"]},
        headers=headers,
    )
    assert subscribed.status_code == 201

    accepted = [
        httpx.post(f"{base}/api/v1/referrals", json=referral_json(), headers=headers)
        for _ in range(3)
    ]

    assert [r.status_code for r in accepted] == [202, 202, 202]
    start_redis()
    instance.start("worker", "--processes", "1", "--threads", "2", REDIS_URL=redis_url)
    instance.start("relay", REDIS_URL=redis_url, TISSER_OUTBOX_RETRY_SECONDS="1")

    def all_ready() -> bool:
        stages = [
            httpx.get(f"{base}/api/v1/referrals/{r.json()['id']}", headers=headers).json()["stage"]
            for r in accepted
        ]
        return stages == ["slip_ready"] * 3

    try:
        wait_until(all_ready, timeout=90, what="slips once Redis is back")
        received = receiver.wait_for(3, timeout=60)
    except AssertionError:
        pytest.fail(instance.logs())
    finally:
        receiver.server.shutdown()
    ids = {json.loads(body)["data"]["referral_id"] for _, body in received}
    assert ids == {r.json()["id"] for r in accepted}
