"""Real transports for the messages' tests: an SMTP server (aiosmtpd) and a local HTTP
server standing in for Brevo's transactional SMS API, which checks each request against
Brevo's documented format before it answers as Brevo does."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    # Told of each message as it arrives (on the server's own thread).
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.arrived:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(parsed)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once there are `count`, or when `timeout` ends (some are sent
        beside the answer, on a thread of their own)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        return self.messages

    def texts(self) -> list[str]:
        return [m.get_content() for m in self.messages]


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on a free local port, and Tisser's settings pointing at it as
    TISSER_SMTP_URL=smtp://127.0.0.1:PORT would."""
    inbox = Inbox()
    _reset_limits_clear()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it can connect to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.TISSER_SMTP_URL = f"smtp://127.0.0.1:{port}"
    settings.TISSER_MAIL_FROM = "Tisser <no-reply@tisser.example.org>"
    settings.DEFAULT_FROM_EMAIL = settings.TISSER_MAIL_FROM
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def _reset_limits_clear() -> None:
    """Each test's password resets start with no count: every test client comes from
    127.0.0.1, and with Redis the counts outlive a test (a minute's window)."""
    from core.ratelimit import RedisCounter, _counter

    counter = _counter()
    if isinstance(counter, RedisCounter):
        client = counter._client
        for key in client.scan_iter(match="*ratelimit:password-reset*"):
            client.delete(key)
    else:
        counter._counts.clear()  # type: ignore[attr-defined]


# Brevo's documented request: POST /v3/transactionalSMS/send, headers api-key and
# content-type application/json; body sender (3-11 letters and digits, or up to 15
# digits), recipient (the number with its country code, digits only), content, and the
# optional type (transactional | marketing), unicodeEnabled (boolean), tag, webUrl.
_SENDER = re.compile(r"[A-Za-z0-9]{3,11}|[0-9]{3,15}")
_RECIPIENT = re.compile(r"[0-9]{6,15}")
_KNOWN = {
    "sender",
    "recipient",
    "content",
    "type",
    "unicodeEnabled",
    "tag",
    "webUrl",
    "organisationPrefix",
    "templateId",
    "params",
}


@dataclass
class SmsApi:
    url: str
    key: str = "test-brevo-key"
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # What to answer next (status, body), else 201 as Brevo does.
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def sms_api(settings: Any) -> Iterator[SmsApi]:
    api = SmsApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            problems: list[str] = []
            if self.path != "/v3/transactionalSMS/send":
                problems.append(f"path {self.path}")
            if self.headers.get("api-key") != api.key:
                problems.append("api-key header")
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                problems.append("content-type")
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
                problems.append("body is not JSON")
            for name in ("sender", "recipient", "content"):
                if not isinstance(body.get(name), str) or not body.get(name):
                    problems.append(f"{name} missing")
            if not _SENDER.fullmatch(str(body.get("sender", ""))):
                problems.append("sender format")
            if not _RECIPIENT.fullmatch(str(body.get("recipient", ""))):
                problems.append("recipient format")
            if body.get("type", "transactional") not in ("transactional", "marketing"):
                problems.append("type")
            if not isinstance(body.get("unicodeEnabled", False), bool):
                problems.append("unicodeEnabled")
            if set(body) - _KNOWN:
                problems.append(f"unknown fields {sorted(set(body) - _KNOWN)}")
            api.requests.append(body)
            api.problems.extend(problems)
            if problems:
                answer: dict[str, Any]
                status, answer = 400, {"code": "invalid_parameter", "message": "; ".join(problems)}
            elif api.answers:
                status, answer = api.answers.pop(0)
            else:
                status = 201
                answer = {
                    "messageId": 1511882900176220 + len(api.requests),
                    "reference": "ab1cde2fgh3i4jklmno",
                    "smsCount": 1,
                    "usedCredits": 0.7,
                    "remainingCredits": 82.85,
                }
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v3/transactionalSMS/send"
    settings.TISSER_SMS_PROVIDER = "brevo"
    settings.TISSER_SMS_API_KEY = api.key
    settings.TISSER_SMS_API_URL = api.url
    settings.TISSER_SMS_SENDER = "Tisser"
    yield api
    server.shutdown()
    server.server_close()
