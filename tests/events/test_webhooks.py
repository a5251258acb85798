"""Webhooks against a real local HTTP server: signed per Standard Webhooks, retried with
backoff by the actor, dead-lettered after the last try, redelivered on request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from events.models import WebhookDelivery
from tests.conftest import ApiClient, organization_key, referral_body, referral_matched

HOOKS = "/api/v1/webhooks"


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with the statuses it is told to."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.requests)} request(s) received, expected {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def fast_retries(settings: Any) -> None:
    settings.TISSER_WEBHOOK_BACKOFF_SECONDS = 0.05
    settings.TISSER_WEBHOOK_MAX_ATTEMPTS = 3
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True


def _wait_status(delivery_filter: dict[str, Any], status: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = WebhookDelivery.objects.filter(**delivery_filter, status=status).first()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no delivery reached {status}")


@pytest.mark.django_db(transaction=True)
def test_deliveries_are_signed_and_verify(
    api: ApiClient, catalog: int, worker: Any, receiver: Receiver, fast_retries: None
) -> None:
    created = api.post(
        HOOKS, {"url": receiver.url, "event_types": ["referral.submitted", "referral.matched"]}
    )
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    # The secret is shown once: never in reads.
    assert "secret" not in api.get(f"{HOOKS}/{created.json()['id']}").json()
    assert "secret" not in api.get(HOOKS).json()["items"][0]

    referral_id = api.post("/api/v1/referrals", referral_body()).json()["id"]

    received = receiver.wait_for(2)
    verifier = Webhook(secret)
    types = []
    for headers, body in received:
        lowered = {k.lower(): v for k, v in headers.items()}
        payload = verifier.verify(body, lowered)  # raises if the signature is wrong
        types.append(payload["type"])
        assert payload["data"]["referral_id"] == referral_id
        assert lowered["webhook-id"].startswith("msg_")
        with pytest.raises(Exception):  # noqa: B017, PT011 - any verification failure
            verifier.verify(body + b" ", lowered)
    assert sorted(types) == ["referral.matched", "referral.submitted"]
    # The receiver answers before the worker records the answer: wait for both.
    deadline = time.monotonic() + 30
    while WebhookDelivery.objects.filter(status="delivered").count() < 2:
        assert time.monotonic() < deadline, "deliveries not recorded as delivered"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_failures_are_retried_then_dead_lettered_then_redelivered(
    api: ApiClient, catalog: int, worker: Any, receiver: Receiver, fast_retries: None
) -> None:
    receiver.statuses = [500, 503, 502]  # every try of the first delivery fails
    api.post(HOOKS, {"url": receiver.url, "event_types": ["referral.submitted"]})

    api.post("/api/v1/referrals", referral_body())

    dead = _wait_status({}, "failed")
    assert dead.attempts == 3
    assert dead.last_status_code == 502
    times = [headers["webhook-timestamp"] for headers, _ in receiver.requests]
    assert len(times) == 3
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert len(ids) == 1  # the same message each time, so receivers can deduplicate
    letters = api.get(f"{HOOKS}/deliveries?status=failed").json()
    assert [d["id"] for d in letters["items"]] == [str(dead.id)]
    assert letters["items"][0]["event_type"] == "referral.submitted"
    assert letters["items"][0]["next_attempt_at"] is None

    response = api.post(f"{HOOKS}/deliveries/{dead.id}/redeliver", {})

    assert response.status_code == 202
    delivered = _wait_status({"id": dead.id}, "delivered")
    assert delivered.attempts == 1
    assert len(receiver.requests) == 4
    assert api.get(f"{HOOKS}/deliveries?status=failed").json()["total"] == 0


@pytest.mark.django_db(transaction=True)
def test_an_organisation_receives_its_placements_only(
    api: ApiClient, catalog: int, worker: Any, receiver: Receiver, fast_retries: None
) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    org = organization_key(placement.organization)
    created = org.post(HOOKS, {"url": receiver.url, "event_types": ["placement.accepted"]})
    assert created.status_code == 201

    org.post(f"/api/v1/inbox/placements/{placement.id}/accept", {})

    [(headers, body)] = receiver.wait_for(1)
    payload = Webhook(created.json()["secret"]).verify(
        body, {k.lower(): v for k, v in headers.items()}
    )
    assert payload["type"] == "placement.accepted"
    assert payload["data"]["placement_id"] == str(placement.id)
    assert "veuvage" not in body.decode()
    assert "pt-0001" not in body.decode()


@pytest.mark.django_db
def test_subscriptions_are_validated_and_scoped(
    api: ApiClient, outsider_api: ApiClient, settings: Any
) -> None:
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False
    for url, field in (
        ("ftp://example.org/x", "url"),
        ("http://127.0.0.1:6379/", "url"),
        ("http://10.0.0.8/hook", "url"),
        ("http://[::1]/hook", "url"),
        ("http://user:pw@example.org/hook", "url"),
        ("not a url", "url"),
    ):
        response = api.post(HOOKS, {"url": url})
        assert response.status_code == 422, url
        assert response.json()["error"]["fields"][0]["field"] == field
    unknown = api.post(
        HOOKS, {"url": "https://example.org/h", "event_types": ["referral.matched", "nope"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"][0]["field"] == "event_types[1]"
    extra = api.post(HOOKS, {"url": "https://example.org/h", "secret": "mine"})
    assert extra.status_code == 422

    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True
    created = api.post(HOOKS, {"url": "http://127.0.0.1:9/h"}).json()
    hook = f"{HOOKS}/{created['id']}"
    assert outsider_api.get(hook).status_code == 404
    assert outsider_api.patch(hook, {"active": False}).status_code == 404
    assert outsider_api.delete(hook).status_code == 404
    assert outsider_api.get(HOOKS).json()["items"] == []

    patched = api.patch(hook, {"active": False, "event_types": ["placement.accepted"]})
    assert patched.status_code == 200
    assert (patched.json()["active"], patched.json()["event_types"]) == (
        False,
        ["placement.accepted"],
    )
    assert api.patch(hook, {"url": None}).status_code == 422
    rotated = api.post(f"{hook}/rotate-secret", {}).json()
    assert rotated["secret"] != created["secret"]
    assert api.delete(hook).status_code == 204
    assert api.get(hook).status_code == 404


@pytest.mark.django_db
def test_a_delivery_that_cannot_even_be_sent_ends_in_the_dead_letters(
    api: ApiClient, catalog: int, fast_retries: None, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from events.models import WebhookSubscription
    from events.webhooks import webhook_deliver

    settings.TISSER_WEBHOOK_MAX_ATTEMPTS = 2
    # Written around the API's checks, as a URL that breaks httpx itself would be.
    WebhookSubscription.objects.create(
        health_center=api_center(api),
        url="http://example.com/a\x01b",
        secret="whsec_" + "A" * 44,
    )
    api.post("/api/v1/referrals", referral_body())
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()

    assert webhook_deliver(delivery.id, now=now) == "pending"
    assert webhook_deliver(delivery.id, now=now + timedelta(minutes=5)) == "failed"

    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert "refused" in delivery.last_error or "URL" in delivery.last_error


def api_center(api: ApiClient) -> Any:
    from accounts.models import ApiKey

    prefix = api.headers["Authorization"].split("_")[1]
    return ApiKey.objects.get(prefix=prefix).health_center


def test_each_event_fans_out_to_its_owners_active_subscriptions(
    api: ApiClient, center: Any, outsider_api: ApiClient, catalog: int
) -> None:
    """One event can have two owners (a placement's: the centre and the organisation):
    each gets it once, by its own subscriptions' event types; an inactive subscription
    and another centre's get nothing."""
    from accounts.models import HealthCenter
    from community_catalog.models import Organization
    from events.models import Event, WebhookSubscription

    health_center, _key = center
    everything = WebhookSubscription.objects.create(
        health_center=health_center, url="https://centre.example/hooks", secret="s"
    )
    paused = WebhookSubscription.objects.create(
        health_center=health_center, url="https://centre.example/old", secret="s", active=False
    )
    other = HealthCenter.objects.exclude(id=health_center.id).get()
    elsewhere = WebhookSubscription.objects.create(
        health_center=other, url="https://vaise.example/hooks", secret="s"
    )
    offers = {
        organization.id: WebhookSubscription.objects.create(
            organization=organization,
            url=f"https://org.example/{organization.id}",
            secret="s",
            event_types=["placement.requested"],
        )
        for organization in Organization.objects.all()
    }

    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)

    events = list(Event.objects.filter(created_at__gte=referral.created_at).order_by("id"))
    requested = [e for e in events if e.type == "placement.requested"]
    assert requested
    assert all(e.organization_id for e in requested)
    # Each pair once: a list, not a set, so that a delivery made twice shows.
    delivered = sorted(WebhookDelivery.objects.values_list("event_id", "subscription_id"))
    expected = [(e.id, everything.id) for e in events if e.health_center_id == health_center.id]
    expected += [(e.id, offers[e.organization_id].id) for e in requested if e.organization_id]
    assert delivered == sorted(expected)
    assert not {paused.id, elsewhere.id} & {s for _, s in delivered}


@pytest.mark.django_db
def test_a_party_has_a_limited_number_of_webhooks(
    api: ApiClient, org_api: ApiClient, settings: Any
) -> None:
    """Each subscription is a delivery per event: their number is capped per party."""
    settings.TISSER_WEBHOOK_MAX_SUBSCRIPTIONS = 3
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True
    made = [api.post(HOOKS, {"url": f"http://127.0.0.1:9/h{i}"}) for i in range(3)]
    assert [r.status_code for r in made] == [201, 201, 201]

    refused = api.post(HOOKS, {"url": "http://127.0.0.1:9/more"})

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["limit"]) == ("webhook_limit_reached", 3)
    assert "3" in error["message"]
    assert api.get(HOOKS).json()["items"] == [
        api.get(f"{HOOKS}/{r.json()['id']}").json() for r in made
    ]
    # Another party has an allowance of its own; deleting one makes room.
    assert org_api.post(HOOKS, {"url": "http://127.0.0.1:9/org"}).status_code == 201
    assert api.delete(f"{HOOKS}/{made[0].json()['id']}").status_code == 204
    assert api.post(HOOKS, {"url": "http://127.0.0.1:9/more"}).status_code == 201


# --- One owner's receivers never hold up the others' ----------------------------------


def _deliver_on_a_thread(delivery_id: Any) -> threading.Thread:
    """`webhook_deliver` on a thread of its own, as a worker thread runs it."""
    from django.db import connections

    from events.webhooks import webhook_deliver

    def deliver() -> None:
        try:
            webhook_deliver(delivery_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=deliver, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_an_owner_has_a_few_deliveries_in_flight_and_the_next_waits_its_turn(
    api: ApiClient,
    outsider_api: ApiClient,
    catalog: int,
    broker: Any,
    receiver: Receiver,
    settings: Any,
    request: pytest.FixtureRequest,
) -> None:
    """The first centre's receiver never answers; two of its deliveries are waiting on it
    (its allowance). Its third is put back for later, without a try counted, rather than
    holding a third worker thread; the other centre's delivery is made meanwhile. If the
    message that should bring the third back is lost, the relay's sweep finds it."""
    from datetime import timedelta

    from events.models import WebhookSubscription
    from events.webhooks import webhook_deliver, webhook_deliveries_sweep
    from tests.workers.test_webhook_threads import HoldingReceiver

    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True
    settings.TISSER_WEBHOOK_OWNER_CONCURRENCY = 2
    settings.TISSER_WEBHOOK_TIMEOUT_SECONDS = 5  # never reached: the test releases it
    first, other = api_center(api), api_center(outsider_api)
    hanging = HoldingReceiver()
    request.addfinalizer(hanging.close)
    for i in range(3):
        WebhookSubscription.objects.create(
            health_center=first, url=f"{hanging.url}/{i}", secret="whsec_" + "A" * 44
        )
    WebhookSubscription.objects.create(
        health_center=other, url=receiver.url, secret="whsec_" + "A" * 44
    )
    for client in (api, outsider_api):
        submitted = client.post("/api/v1/referrals", referral_body())
        assert submitted.status_code == 202, submitted.json()
    held = list(WebhookDelivery.objects.filter(subscription__health_center=first))
    [elsewhere] = WebhookDelivery.objects.filter(subscription__health_center=other)
    threads = [_deliver_on_a_thread(delivery.id) for delivery in held[:2]]
    try:
        for _ in range(2):
            assert hanging.held.acquire(timeout=10), "the receiver was not called"

        assert webhook_deliver(held[2].id) == "pending"
        assert webhook_deliver(elsewhere.id) == "delivered"

        assert not hanging.held.acquire(timeout=0)  # still the two requests only
        waiting = WebhookDelivery.objects.get(id=held[2].id)
        assert (waiting.status, waiting.attempts, waiting.last_attempt_at) == (
            "pending",
            0,
            None,
        )
        assert waiting.next_attempt_at > held[2].next_attempt_at
        lost = waiting.next_attempt_at + timedelta(seconds=settings.TISSER_OUTBOX_RETRY_SECONDS + 1)
        assert webhook_deliveries_sweep(now=lost) >= 1
        assert WebhookDelivery.objects.get(id=held[2].id).next_attempt_at == lost
    finally:
        hanging.released.set()
        for thread in threads:
            thread.join(timeout=10)

    assert webhook_deliver(held[2].id, now=lost) == "delivered"
    assert WebhookDelivery.objects.filter(status="delivered").count() == 4


@pytest.mark.django_db
def test_a_receiver_that_keeps_not_answering_is_paused_until_it_answers(
    api: ApiClient, catalog: int, broker: Any, settings: Any
) -> None:
    """After TISSER_WEBHOOK_BREAKER_FAILURES attempts in a row without an answer, a
    subscription's deliveries wait TISSER_WEBHOOK_BREAKER_SECONDS after the last of them
    (not tried, so not counted); the first answer closes the breaker again."""
    from datetime import timedelta

    from django.utils import timezone

    from events.models import WebhookSubscription
    from events.webhooks import webhook_deliver

    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True
    settings.TISSER_WEBHOOK_BREAKER_FAILURES = 3
    settings.TISSER_WEBHOOK_BREAKER_SECONDS = 600
    # Bound but not yet listening: connections are refused until it listens.
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            requests.append(self.path)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.server_bind()
    subscription = WebhookSubscription.objects.create(
        health_center=api_center(api),
        url=f"http://127.0.0.1:{server.server_port}/hooks",
        secret="whsec_" + "A" * 44,
    )
    for i in range(4):
        api.post("/api/v1/referrals", referral_body(patient_ref=f"pt-10{i}"))
    deliveries = list(WebhookDelivery.objects.order_by("created_at", "id"))
    now = timezone.now()

    for delivery in deliveries[:3]:
        assert webhook_deliver(delivery.id, now=now) == "pending"
    assert webhook_deliver(deliveries[3].id, now=now) == "pending"

    paused = WebhookDelivery.objects.get(id=deliveries[3].id)
    assert (paused.attempts, paused.last_attempt_at) == (0, None)
    assert paused.next_attempt_at >= now + timedelta(seconds=599)
    assert "3 attempts in a row" in paused.last_error
    # The others' next tries wait as long.
    assert webhook_deliver(deliveries[0].id, now=now + timedelta(minutes=5)) == "pending"
    retried = WebhookDelivery.objects.get(id=deliveries[0].id)
    assert (retried.attempts, retried.next_attempt_at) == (1, paused.next_attempt_at)

    server.server_activate()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        later = now + timedelta(seconds=601)
        assert webhook_deliver(deliveries[3].id, now=later) == "delivered"
        subscription.refresh_from_db()
        assert subscription.failures_in_a_row == 0
        assert webhook_deliver(deliveries[0].id, now=later) == "delivered"
        assert len(requests) == 2
    finally:
        server.shutdown()
        server.server_close()
