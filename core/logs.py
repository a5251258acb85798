"""Logs that can be followed from a request to the work it caused.

Every HTTP request gets a request id: the caller's `X-Request-ID` when it sends a sane
one, a new one otherwise; the answer carries it back in `X-Request-ID`. It is in every
log line written while the request runs, in every event the request writes (the
`request_id` column), and in every message sent to the broker (its `request_id`
option), so the matching, the slip and the webhooks a referral triggers log the id of
the request that filed it, in whichever process they run, however late.

With TISSER_LOG_FORMAT=json (the default in production) each line is one JSON object:
`{"time", "level", "logger", "process", "request_id", "message", ...}`.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
from django.http import HttpRequest, HttpResponse
from dramatiq.middleware import Middleware
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept when it is short and plain; anything else is replaced.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Django middleware: sets the request id for the request's duration."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        rid = offered if _SANE.match(offered) else request_id_new()
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = rid
        return response


class RequestIdCarrier(Middleware):
    """dramatiq middleware: a message sent while a request id is set carries it, and a
    worker processing the message logs under it."""

    def __init__(self) -> None:
        self._tokens: dict[str, contextvars.Token[str]] = {}

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int) -> None:
        if not message.options.get("request_id") and (current := request_id.get()):
            message.options["request_id"] = current

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        rid = message.options.get("request_id") or f"msg-{message.message_id}"
        self._tokens[message.message_id] = request_id.set(str(rid))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        token = self._tokens.pop(message.message_id, None)
        if token is not None:
            request_id.reset(token)

    after_skip_message = after_process_message


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request or a message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


# A person's own page is reached by a bearer token in its path (`/p/<token>`): no log line
# may hold it (an access log outlives an erasure, and whoever reads it could act as the
# person). Every path is written with the token replaced.
# A password reset's (or an invitation's) link holds a token too.
_SECRET_PATH = re.compile(r"/p/[^/?#\s\"']+")
_RESET_PATH = re.compile(r"/accounts/password/reset/[^/?#\s\"']+/[^/?#\s\"']+")


def path_redacted(text: str) -> str:
    """`text` with the token of every personal page's path, and of every password
    reset's link, replaced by "…"."""
    if "/p/" in text:
        text = _SECRET_PATH.sub("/p/\N{HORIZONTAL ELLIPSIS}", text)
    if "/accounts/password/reset/" in text:
        text = _RESET_PATH.sub(_reset_redacted, text)
    return text


def _reset_redacted(found: re.Match[str]) -> str:
    # The pages without a token (the form, "sent", "done") are left as they are.
    if found.group(0).endswith(("/sent", "/done")) or found.group(0).count("/") < 5:
        return found.group(0)
    return "/accounts/password/reset/\N{HORIZONTAL ELLIPSIS}/\N{HORIZONTAL ELLIPSIS}"


class SecretPathFilter(logging.Filter):
    """Redacts personal pages' tokens from every record: its message (Django's
    "Not Found: /p/…", a traceback's), and drops the request a record may carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = path_redacted(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        path = getattr(record, "path", None)
        if path:
            record.__dict__["path"] = path_redacted(str(path))
        if hasattr(record, "request"):
            record.request = None
        if record.exc_info:
            # Rendered here, redacted, and kept as text: formatters print `exc_text`
            # (the JSON one too) and would otherwise render the exception again.
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = path_redacted(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = path_redacted(record.exc_text)
        return True


class TisserJsonFormatter(JsonFormatter):
    """One JSON object per line, with stable field names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(process)d %(request_id)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            rename_fields_keep_missing=False,
            timestamp=False,
            json_ensure_ascii=False,
            **kwargs,
        )
