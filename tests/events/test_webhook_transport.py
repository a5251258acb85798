"""How a delivery reaches its receiver, against real local servers: the host is resolved
once and every address checked (IPv4 carried inside IPv6 included), the connection goes to
the address that was checked, the whole delivery has one deadline, and nothing of the
receiver's answer but its status is kept.

`tls/` holds a certificate for `hooks.test` (valid 2020-2120), signed by a test CA whose
key was thrown away.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidInput
from events.models import WebhookDelivery, WebhookSubscription
from events.webhook_transport import address_reached, webhook_post
from events.webhooks import url_check, url_problem, webhook_deliver
from tests.conftest import ApiClient, referral_body

TLS = Path(__file__).parent / "tls"
SECRET = "token=internal-7f3a9"


class Receiver:
    """A receiver on 127.0.0.1 answering every POST with `status` and `body`; it records
    each request's headers and, over TLS, the server name the client asked for (SNI)."""

    def __init__(
        self, status: int = 204, body: bytes = b"", reason: str | None = None, tls: bool = False
    ) -> None:
        self.requests: list[dict[str, str]] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(dict(self.headers.items()))
                self.send_response(status, reason)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS / "hooks.test.pem", TLS / "hooks.test.key")
            context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Trickle:
    """A receiver that reads the request, then sends its answer one byte every `interval`
    seconds: each read finishes quickly, so only a deadline on the whole delivery ends it."""

    ANSWER = (
        b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n" + b"X-Pad: " + b"a" * 120 + b"\r\n\r\n"
    )

    def __init__(self, interval: float = 0.02) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.interval = interval
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            try:
                for byte in self.ANSWER:
                    connection.sendall(bytes([byte]))
                    time.sleep(self.interval)
            except OSError:  # the client gave up
                return

    def close(self) -> None:
        self.listener.close()


class Rebinding:
    """A resolver for a host whose DNS answers `first` to the first question and `then`
    to every later one, as a server set up for DNS rebinding does: a harmless address
    for the check, another for the connection."""

    def __init__(self, first: str, then: str) -> None:
        self.first, self.then = first, then
        self.calls = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.first if self.calls == 1 else self.then]


@pytest.fixture
def private_allowed(settings: Any) -> None:
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = True
    settings.TISSER_WEBHOOK_MAX_ATTEMPTS = 3


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def delivery_to(api: ApiClient, url: str) -> WebhookDelivery:
    """One pending delivery to `url` (the subscription written around the API's checks,
    so that any URL can be tried), of a referral's `referral.submitted` event."""
    from tests.events.test_webhooks import api_center

    WebhookSubscription.objects.create(
        health_center=api_center(api),
        url=url,
        event_types=["referral.submitted"],
        secret="whsec_" + "A" * 44,
    )
    assert api.post("/api/v1/referrals", referral_body()).status_code == 202
    return WebhookDelivery.objects.get()


# --- Which addresses may be called ---------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reached"),
    [
        ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64, the well-known prefix
        ("64:ff9b:1::a00:1", "64:ff9b:1::a00:1"),  # local-use NAT64: no one layout
        ("2002:7f00:1::", "127.0.0.1"),  # 6to4
        ("::ffff:10.0.0.1", "10.0.0.1"),  # IPv4-mapped
        ("64:ff9b::808:808", "8.8.8.8"),
        ("2a00:1450:4007::1", "2a00:1450:4007::1"),  # plain IPv6: itself
        ("192.0.2.1", "192.0.2.1"),
    ],
)
def test_the_ipv4_address_an_ipv6_address_carries_is_the_one_checked(
    address: str, reached: str
) -> None:
    assert address_reached(ipaddress.ip_address(address)) == ipaddress.ip_address(reached)


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::a00:1]",
        # RFC 8215's local-use prefix: whatever its bits say, it may be translated to any
        # address (here, read as RFC 6052's /48 layout: 169.254.169.254 and 127.0.0.1).
        "[64:ff9b:1:a9fe:a9:fe00:808:808]",
        "[64:ff9b:1:7f00:0:100:808:808]",
        "[64:ff9b:1::808:808]",
        "[2002:7f00:1::]",
        "[2002:a9fe:a9fe::]",  # 169.254.169.254, a cloud's metadata service
        "[::ffff:10.0.0.1]",
        "[ff0e::1]",  # multicast, even global
        "[::]",
        "127.0.0.1",
        "100.64.0.1",
    ],
)
def test_private_addresses_are_refused_whatever_they_are_wrapped_in(
    host: str, settings: Any
) -> None:
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False
    assert url_problem(f"https://{host}/hooks")


def test_a_public_address_behind_nat64_is_allowed(settings: Any) -> None:
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False
    assert url_problem("https://[64:ff9b::808:808]/hooks") == ""


def test_a_host_answering_a_local_use_nat64_address_is_refused(settings: Any) -> None:
    """The reviewer's addresses end in 8.8.8.8, which a /96 reading would let through."""
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False
    for answer in ("64:ff9b:1:a9fe:a9:fe00:808:808", "64:ff9b:1:7f00:0:100:808:808"):

        def resolve(host: str, port: int, answer: str = answer) -> list[str]:
            return [answer]

        assert "local-use NAT64" in url_problem("https://hooks.example/h", resolve=resolve)


def test_every_address_a_host_resolves_to_is_checked(settings: Any) -> None:
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False

    def resolve(host: str, port: int) -> list[str]:
        return ["8.8.8.8", "64:ff9b::a00:1"]

    assert "10.0.0.1" in url_problem("https://hooks.example/h", resolve=resolve)


# --- Where the connection goes -------------------------------------------------------


@pytest.mark.django_db
def test_the_connection_goes_to_the_address_that_was_checked(
    api: ApiClient, receiver: Receiver, private_allowed: None
) -> None:
    """The receiver listens on 127.0.0.1 only. A second resolution would answer
    127.0.0.2, where nothing listens: the delivery arrives only if the connection uses
    the first answer, the one that was checked."""
    delivery = delivery_to(api, f"http://hooks.test:{receiver.port}/hooks")
    resolve = Rebinding("127.0.0.1", "127.0.0.2")

    assert webhook_deliver(delivery.id, resolve=resolve) == "delivered"

    assert resolve.calls == 1
    [headers] = receiver.requests
    assert headers["Host"] == f"hooks.test:{receiver.port}"


@pytest.mark.django_db
def test_a_host_resolving_to_a_private_address_is_never_called(
    api: ApiClient, receiver: Receiver, private_allowed: None, settings: Any
) -> None:
    delivery = delivery_to(api, f"http://hooks.test:{receiver.port}/hooks")
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False

    webhook_deliver(delivery.id, resolve=Rebinding("127.0.0.1", "127.0.0.1"))

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("URL refused: ")
    assert "127.0.0.1" in delivery.last_error


def test_tls_is_checked_for_the_host_name_not_the_address(private_allowed: None) -> None:
    """Connecting to the checked address keeps the host name for TLS: the receiver is
    asked for it by name (SNI), and its certificate must be valid for that name."""
    receiver = Receiver(tls=True)
    trusted = ssl.create_default_context(cafile=str(TLS / "ca.pem"))
    try:
        answer = webhook_post(
            f"https://hooks.test:{receiver.port}/hooks",
            content=b"{}",
            headers={"content-type": "application/json"},
            resolve=lambda host, port: ["127.0.0.1"],
            ssl_context=trusted,
        )
        assert answer == (204, "")
        assert receiver.server_names == ["hooks.test"]
        assert receiver.requests[0]["Host"] == f"hooks.test:{receiver.port}"

        # The same server under a name its certificate does not carry.
        status, error = webhook_post(
            f"https://other.test:{receiver.port}/hooks",
            content=b"{}",
            headers={},
            resolve=lambda host, port: ["127.0.0.1"],
            ssl_context=trusted,
        )
        assert (status, error) == (None, "TLS certificate not valid for this host")
        assert len(receiver.requests) == 1
    finally:
        receiver.close()


# --- What is kept of the answer, and for how long one waits ---------------------------


@pytest.mark.django_db
def test_the_receivers_answer_is_never_stored(api: ApiClient, private_allowed: None) -> None:
    """Whatever a receiver (or a server behind a URL someone registered) answers, only
    its status code and a reason of Tisser's own are kept: `last_error` is readable
    through the API."""
    receiver = Receiver(status=500, body=f"<h1>{SECRET}</h1>".encode(), reason=SECRET)
    try:
        delivery = delivery_to(api, f"http://127.0.0.1:{receiver.port}/hooks")

        assert webhook_deliver(delivery.id) == "pending"

        delivery.refresh_from_db()
        assert (delivery.last_status_code, delivery.last_error) == (
            500,
            "HTTP 500 Internal Server Error",
        )
        listed = api.get("/api/v1/webhooks/deliveries").json()["items"][0]
        assert SECRET not in str(listed)
    finally:
        receiver.close()


@pytest.mark.django_db
def test_redirects_are_not_followed(
    api: ApiClient, receiver: Receiver, private_allowed: None
) -> None:
    """A redirect would send the delivery to an address nobody checked."""

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{receiver.port}/hooks")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=redirecting.serve_forever, daemon=True).start()
    try:
        delivery = delivery_to(api, f"http://127.0.0.1:{redirecting.server_port}/hooks")

        webhook_deliver(delivery.id)

        delivery.refresh_from_db()
        assert (delivery.last_status_code, delivery.last_error) == (
            307,
            "HTTP 307 Temporary Redirect",
        )
        assert receiver.requests == []
    finally:
        redirecting.shutdown()
        redirecting.server_close()


@pytest.mark.django_db
def test_a_refused_connection_is_recorded_as_such(api: ApiClient, private_allowed: None) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    delivery = delivery_to(api, f"http://127.0.0.1:{port}/hooks")

    webhook_deliver(delivery.id)

    delivery.refresh_from_db()
    assert (delivery.last_status_code, delivery.last_error) == (None, "connection refused")


@pytest.mark.django_db
def test_a_receiver_trickling_its_answer_is_cut_at_the_deadline(
    api: ApiClient, private_allowed: None, settings: Any
) -> None:
    """The answer takes about 3 s to arrive, a byte at a time, each well within any
    per-read timeout; the delivery's deadline is 0.5 s in all."""
    settings.TISSER_WEBHOOK_TIMEOUT_SECONDS = 0.5
    trickle = Trickle()
    try:
        delivery = delivery_to(api, f"http://127.0.0.1:{trickle.port}/hooks")
        started = time.monotonic()

        assert webhook_deliver(delivery.id) == "pending"

        assert time.monotonic() - started < 1.2
        delivery.refresh_from_db()
        assert (delivery.last_status_code, delivery.last_error) == (None, "timeout")
    finally:
        trickle.close()


# --- Resolving the host, within the deadline ------------------------------------------


class SlowResolver:
    """A resolver whose DNS server takes `seconds` to answer (or until released), as
    `getaddrinfo` waits, with no timeout of its own, on a server that does not answer."""

    def __init__(self, seconds: float = 4.0, answer: str = "8.8.8.8") -> None:
        self.seconds, self.answer = seconds, answer
        self.released = threading.Event()

    def __call__(self, host: str, port: int) -> list[str]:
        self.released.wait(self.seconds)
        return [self.answer]


@pytest.fixture
def slow_resolver() -> Iterator[SlowResolver]:
    resolver = SlowResolver()
    yield resolver
    resolver.released.set()


@pytest.mark.django_db
def test_a_slow_resolver_is_cut_at_the_deadline(
    api: ApiClient, private_allowed: None, settings: Any, slow_resolver: SlowResolver
) -> None:
    """Resolving the host is part of the delivery: its deadline (0.3 s) holds however long
    the DNS server takes."""
    settings.TISSER_WEBHOOK_TIMEOUT_SECONDS = 0.3
    delivery = delivery_to(api, "http://hooks.test:9/hooks")
    started = time.monotonic()

    assert webhook_deliver(delivery.id, resolve=slow_resolver) == "pending"

    assert time.monotonic() - started < 1.0
    delivery.refresh_from_db()
    assert delivery.last_error == "URL refused: host 'hooks.test' not resolved within 0.3 s"


def test_a_webhook_url_whose_host_resolves_too_slowly_is_refused(
    settings: Any, slow_resolver: SlowResolver
) -> None:
    """Registering a URL checks its host on the request's thread: the check is bounded
    (by the delivery's deadline, here 0.3 s, and at most 3 s), and the refusal names
    the field."""
    settings.TISSER_WEBHOOK_ALLOW_PRIVATE = False
    settings.TISSER_WEBHOOK_TIMEOUT_SECONDS = 0.3
    started = time.monotonic()

    with pytest.raises(InvalidInput) as refused:
        url_check("https://slow.example/hooks", resolve=slow_resolver)

    assert time.monotonic() - started < 1.0
    assert refused.value.status == 422
    assert [(f.field, f.message) for f in refused.value.fields] == [
        ("url", "host 'slow.example' not resolved within 0.3 s")
    ]
