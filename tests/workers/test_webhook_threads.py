"""Webhook deliveries wait on other people's servers: they run on threads of their own, so
a slow receiver never holds up matching, whatever queues a worker was given."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dramatiq
import pytest

from referrals.models import Referral
from tests.conftest import ApiClient, referral_body


class HoldingReceiver:
    """A webhook receiver on 127.0.0.1 that keeps every request waiting until released."""

    def __init__(self) -> None:
        self.held = threading.Semaphore(0)
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.held.release()
                receiver.released.wait(timeout=10)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def holding_receiver() -> Iterator[HoldingReceiver]:
    receiver = HoldingReceiver()
    yield receiver
    receiver.close()


def wait_until_matched(referral_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    done = (Referral.Stage.MATCHED, Referral.Stage.SLIP_READY)
    while Referral.objects.get(id=referral_id).stage not in done:
        assert time.monotonic() < deadline, "the referral was not matched in time"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "queues",
    [
        # `tisser worker --threads 1 --queues matching webhooks`
        {"matching", "webhooks"},
        # `tisser worker --threads 1`, and the embedded runtime: every queue
        None,
    ],
)
def test_a_slow_receiver_does_not_hold_up_matching(
    api: ApiClient,
    catalog: int,
    broker: dramatiq.Broker,
    media: Any,
    holding_receiver: HoldingReceiver,
    settings: Any,
    queues: set[str] | None,
) -> None:
    """A worker started as dramatiq's command line and the embedded runtime start it,
    with one thread: matching keeps it; deliveries get threads of their own."""
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True
    settings.TISSER_WEBHOOK_TIMEOUT_SECONDS = 8
    settings.TISSER_WEBHOOK_THREADS = 1
    hook = {"url": holding_receiver.url, "event_types": ["referral.matched"]}
    assert api.post("/api/v1/webhooks", hook).status_code == 201
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        first = api.post("/api/v1/referrals", referral_body()).json()["id"]
        wait_until_matched(first, timeout=10)
        # The first referral's `referral.matched` is being delivered, and stays so.
        assert holding_receiver.held.acquire(timeout=10)

        second = api.post("/api/v1/referrals", referral_body(patient_ref="pt-0002")).json()["id"]

        wait_until_matched(second, timeout=5)
        assert not holding_receiver.released.is_set()
    finally:
        holding_receiver.released.set()
        worker.stop(timeout=10_000)
