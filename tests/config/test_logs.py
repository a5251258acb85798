"""Request ids: given or made for every request, returned in `X-Request-ID`, written on
the events the request causes, carried by the broker's messages (also when the relay
sends them later) and present in the workers' log lines; JSON lines in production."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from django.db import transaction
from django.utils import timezone
from dramatiq.middleware import Middleware

from core.logs import RequestIdFilter, TisserJsonFormatter, request_id
from events.models import Event
from events.outbox import event_record, events_sweep
from tests.conftest import ApiClient, referral_body, wait_for_stage


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("slips.services")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


class Sent(Middleware):
    """Watches what is handed to the real broker."""

    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int) -> None:
        self.options.append({**message.kwargs, **message.options})


@pytest.fixture
def sent(broker: dramatiq.Broker) -> Iterator[Sent]:
    watcher = Sent()
    broker.middleware.append(watcher)
    yield watcher
    broker.middleware.remove(watcher)


@pytest.mark.django_db
def test_every_answer_carries_a_request_id(api: ApiClient, catalog: int) -> None:
    made = api.get("/api/v1/referrals")
    assert re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])
    assert api.get("/api/v1/referrals")["X-Request-ID"] != made["X-Request-ID"]
    # A caller's own id is kept; a strange one is replaced, never echoed.
    kept = api.get("/api/v1/referrals", **{"X-Request-ID": "lb-7f3a:42"})
    assert kept["X-Request-ID"] == "lb-7f3a:42"
    for strange in ("x" * 65, "two words", "<script>"):
        replaced = api.get("/api/v1/referrals", **{"X-Request-ID": strange})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced["X-Request-ID"])
    assert api.client.get("/healthz")["X-Request-ID"]


@pytest.mark.django_db
def test_the_events_a_request_writes_carry_its_id(api: ApiClient, catalog: int) -> None:
    response = api.post("/api/v1/referrals", referral_body(), **{"X-Request-ID": "req-file-1"})
    assert response.status_code == 202
    event = Event.objects.get(aggregate_id=response.json()["id"], type="referral.submitted")
    assert event.request_id == "req-file-1"


@pytest.mark.django_db
def test_the_relay_sends_an_event_with_the_id_of_the_request_that_wrote_it(
    api: ApiClient, catalog: int, sent: Sent
) -> None:
    token = request_id.set("req-long-ago")
    try:
        with transaction.atomic():
            referral = api.post("/api/v1/referrals", referral_body()).json()
            event = event_record(
                type="referral.submitted",
                aggregate_type="referral",
                aggregate_id=referral["id"],
            )
    finally:
        request_id.reset(token)
    assert request_id.get() == ""

    # The test's transaction never commits, so its commit hooks never hand the event
    # over, as when a process dies right after commit: once its claim is stale, the event
    # goes out through the sweep, as the relay sends it, with no request of its own.
    events_sweep(stale_before=timezone.now() + timedelta(seconds=1))

    assert event.id in [o.get("event_id") for o in sent.options]
    [options] = [o for o in sent.options if o.get("event_id") == event.id]
    assert options["request_id"] == "req-long-ago"


def test_the_workers_log_under_the_id_of_the_request_that_filed_the_referral(
    worker: Any, api: ApiClient, catalog: int, records: Records
) -> None:
    response = api.post("/api/v1/referrals", referral_body(), **{"X-Request-ID": "req-trace-7"})
    assert response.status_code == 202
    referral = wait_for_stage(response.json()["id"], "slip_ready")

    deadline = time.monotonic() + 10
    while not any("rendered" in r.getMessage() for r in records.records):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    about = [r for r in records.records if referral.code in r.getMessage()]
    assert about
    assert {r.request_id for r in about} == {"req-trace-7"}  # type: ignore[attr-defined]


def test_json_lines_hold_the_fields_a_collector_needs() -> None:
    formatter = TisserJsonFormatter()
    record = logging.LogRecord(
        "tisser.test", logging.WARNING, __file__, 1, "slip %s", ("K7M",), None
    )
    token = request_id.set("req-json-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)

    line = json.loads(formatter.format(record))

    assert line["level"] == "WARNING"
    assert line["logger"] == "tisser.test"
    assert line["message"] == "slip K7M"
    assert line["request_id"] == "req-json-1"
    assert isinstance(line["process"], int)
    assert line["time"]
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "tisser.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    RequestIdFilter().filter(failed)
    assert "ValueError: boom" in json.loads(formatter.format(failed))["exc_info"]
