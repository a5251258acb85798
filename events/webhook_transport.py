"""How a webhook delivery reaches its receiver, and nothing else.

1. The URL's host is resolved once, within the delivery's deadline (`getaddrinfo` has
   no timeout of its own: it runs on a bounded pool of threads, and the delivery stops
   waiting for it when its time is up). Unless the operator allows private addresses
   (`TISSER_WEBHOOK_ALLOW_PRIVATE`), every address in the answer must be public; an IPv4
   address carried inside an IPv6 one (IPv4-mapped, NAT64's well-known prefix, 6to4) is
   judged as the IPv4 address the packets end up at, and the IPv6 address must be global
   too. NAT64's local-use prefix is refused outright: it may be translated to anything.
2. The connection goes to an address from that answer, never to a second resolution's:
   a DNS server set up for rebinding answers a public address to the check and a private
   one a moment later. The URL keeps its host name, so the Host header, the TLS server
   name (SNI) and the certificate's check are the host's.
3. One deadline covers the whole delivery (resolving, connecting, TLS, sending, the
   answer's head):
   `TISSER_WEBHOOK_TIMEOUT_SECONDS`. Per-read timeouts are not enough: a receiver sending
   a byte a second never lets one expire.
4. Only the answer's status is read. What a receiver sends (its body, its reason phrase,
   its malformed headers) is never stored or shown: the delivery keeps the status and a
   short reason of Tisser's own.

httpcore, the transport under httpx, connects through a network backend that callers may
replace (`ConnectionPool(network_backend=...)`); the one here connects to the checked
addresses only and shortens every wait to what is left before the deadline.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

import httpcore
import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Answers a host's addresses for a port, as strings. The system's resolver in production;
# tests give one that answers as a rebinding DNS server would.
Resolve = Callable[[str, int], list[str]]

# RFC 6052's well-known prefix, always a /96: the IPv4 address is the last 32 bits.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use prefix: each network picks its own prefix length (and so where the
# IPv4 bits sit, RFC 6052's layouts) and what it translates to. No address in it says
# where packets end up, so none is called.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
# Threads resolving host names, per process. A thread waiting in `getaddrinfo` cannot be
# stopped (it returns by the system resolver's own timeouts, seconds later), so they are
# few: when all are stuck, further resolutions wait their turn and fail at their deadline
# rather than piling up threads.
_RESOLVER_THREADS = 16
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CERTIFICATE_EXPIRED = 10
_HOSTNAME_MISMATCH = 62


class UrlRefused(Exception):
    """The URL's host may not be called; the message says why."""


def host_resolve(host: str, port: int) -> list[str]:
    """The addresses the system's resolver answers for `host` (DNS, /etc/hosts)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@functools.cache
def _resolvers(pid: int) -> ThreadPoolExecutor:
    """This process's resolver threads: one pool per process id, because a pool created
    before a fork has no threads in the child (dramatiq forks its workers)."""
    return ThreadPoolExecutor(max_workers=_RESOLVER_THREADS, thread_name_prefix="resolve")


def resolve_within(host: str, port: int, seconds: float, *, resolve: Resolve) -> list[str]:
    """`resolve(host, port)`, waited for `seconds` at most. Raises `UrlRefused` when it
    takes longer; its thread is left to finish on its own."""
    answer = _resolvers(os.getpid()).submit(resolve, host, port)
    try:
        return answer.result(timeout=max(seconds, 0.0))
    except TimeoutError:
        answer.cancel()  # if it is still waiting for a thread, it never starts
        raise UrlRefused(f"host {host!r} not resolved within {round(seconds, 1):g} s") from None


def address_reached(address: Address) -> Address:
    """The address packets sent to `address` end up at: the IPv4 address inside an
    IPv4-mapped, well-known-prefix NAT64 or 6to4 address; any other address is itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address


def address_problem(address: Address) -> str:
    """Why Tisser may not call `address`, or "": anything but a public unicast address
    (private, loopback, link-local, shared, multicast, reserved, unspecified...). An IPv6
    address carrying an IPv4 one must be global itself, and carry a public address."""
    if address in _NAT64_LOCAL_USE:
        return (
            f"resolves to {address}, a local-use NAT64 address (RFC 8215), which may be "
            "translated to any address"
        )
    reached = address_reached(address)
    # The wrapper itself is judged by `is_global` only: they all sit in ::/8 or 2002::/16,
    # which `is_reserved` and newer Pythons' `is_private` cover.
    if _public(reached) and (reached == address or address.is_global):
        return ""
    shown = str(address) if reached == address else f"{address} ({reached})"
    return f"resolves to {shown}, which is not a public address"


def _public(address: Address) -> bool:
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def addresses_checked(
    host: str,
    port: int,
    *,
    within: float,
    resolve: Resolve = host_resolve,
    allow_private: bool | None = None,
) -> list[Address]:
    """Resolve `host` once, in `within` seconds at most; its addresses, every one of them
    checked unless private addresses are allowed (`allow_private`, by default
    `TISSER_WEBHOOK_ALLOW_PRIVATE`). Raises `UrlRefused`."""
    try:
        answer = [
            ipaddress.ip_address(a) for a in resolve_within(host, port, within, resolve=resolve)
        ]
    except (OSError, UnicodeError, ValueError):
        answer = []
    if not answer:
        raise UrlRefused(f"host {host!r} cannot be resolved")
    if allow_private is None:
        allow_private = settings.TISSER_WEBHOOK_ALLOW_PRIVATE
    if not allow_private:
        for address in answer:
            problem = address_problem(address)
            if problem:
                raise UrlRefused(f"host {host!r} {problem}")
    return list(dict.fromkeys(answer))


def webhook_post(
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    resolve: Resolve = host_resolve,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int | None, str]:
    """POST `content` to `url` within the deadline. Returns the answer's status (None
    when there was none) and, unless it is 2xx, a short reason of Tisser's own."""
    wait = settings.TISSER_WEBHOOK_TIMEOUT_SECONDS
    deadline = time.monotonic() + wait
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
        addresses = addresses_checked(
            host,
            target.port or _DEFAULT_PORTS.get(target.scheme, 443),
            within=deadline - time.monotonic(),
            resolve=resolve,
        )
    except httpx.InvalidURL:
        return None, "URL refused: not a valid URL"
    except UrlRefused as exc:
        return None, f"URL refused: {exc}"
    pool, request_url, request_headers = _pinned(target, addresses, deadline, ssl_context, headers)
    timeouts = {"connect": wait, "read": wait, "write": wait, "pool": wait}
    try:
        with (
            pool,
            pool.stream(
                "POST",
                request_url,
                headers=request_headers,
                content=content,
                extensions={"timeout": timeouts},
            ) as response,
        ):
            status = response.status  # the body is never read
    except httpcore.TimeoutException:
        return None, "timeout"
    except httpcore.ConnectError as exc:
        return None, _connect_failure(exc)
    except (httpcore.ReadError, httpcore.WriteError):
        return None, "connection closed by the receiver"
    except httpcore.RemoteProtocolError:
        return None, "the answer is not valid HTTP"
    except Exception as exc:  # any failure to deliver is a failed attempt, retried
        logger.warning("webhook POST failed: %s", type(exc).__name__)
        return None, "request failed"
    return status, "" if 200 <= status < 300 else _status_reason(status)


def _pinned(
    target: httpx.URL,
    addresses: list[Address],
    deadline: float,
    ssl_context: ssl.SSLContext | None,
    headers: dict[str, str],
) -> tuple[httpcore.ConnectionPool, httpcore.URL, list[tuple[str, str]]]:
    """A pool whose one connection goes to the checked `addresses` only, the request's
    URL, and its headers with the Host as the URL wrote it ("[2001:db8::1]:8443"), not
    as httpcore would."""
    pool = httpcore.ConnectionPool(
        ssl_context=ssl_context or _ssl_context(),
        network_backend=_PinnedBackend(addresses, deadline),
        max_connections=1,
    )
    request_url = httpcore.URL(
        scheme=target.raw_scheme, host=target.raw_host, port=target.port, target=target.raw_path
    )
    return pool, request_url, [("Host", target.netloc.decode("ascii")), *headers.items()]


class FetchFailed(Exception):
    """A GET did not bring a usable answer; the message is Tisser's own, short."""


def guarded_get(
    url: str,
    *,
    headers: dict[str, str],
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    resolve: Resolve = host_resolve,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """GET `url` with the same guard as a webhook's POST (addresses resolved once and
    checked, connections pinned to them, one deadline of `timeout` seconds for the whole
    exchange) and read at most `max_bytes` of the answer. Returns the status, the
    headers (lower-case names) and the body. Raises `FetchFailed`."""
    deadline = time.monotonic() + timeout
    try:
        target = httpx.URL(url)
        if target.scheme not in _DEFAULT_PORTS or not target.raw_host:
            raise FetchFailed("URL refused: not an http(s) URL")
        addresses = addresses_checked(
            target.raw_host.decode("ascii"),
            target.port or _DEFAULT_PORTS[target.scheme],
            within=deadline - time.monotonic(),
            resolve=resolve,
            allow_private=allow_private,
        )
    except httpx.InvalidURL:
        raise FetchFailed("URL refused: not a valid URL") from None
    except UrlRefused as exc:
        raise FetchFailed(f"URL refused: {exc}") from None
    pool, request_url, request_headers = _pinned(target, addresses, deadline, ssl_context, headers)
    timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    try:
        with (
            pool,
            pool.stream(
                "GET", request_url, headers=request_headers, extensions={"timeout": timeouts}
            ) as response,
        ):
            answer_headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers
            }
            declared = answer_headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(f"answer larger than {max_bytes} bytes")
            body = bytearray()
            for chunk in response.iter_stream():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchFailed(f"answer larger than {max_bytes} bytes")
            return response.status, answer_headers, bytes(body)
    except httpcore.TimeoutException:
        raise FetchFailed(f"no complete answer within {timeout:g} s") from None
    except httpcore.ConnectError as exc:
        raise FetchFailed(_connect_failure(exc)) from None
    except (httpcore.ReadError, httpcore.WriteError):
        raise FetchFailed("connection closed by the server") from None
    except httpcore.RemoteProtocolError:
        raise FetchFailed("the answer is not valid HTTP") from None


def _status_reason(status: int) -> str:
    """ "HTTP 503 Service Unavailable": the standard phrase, not the receiver's own."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default: certifi's authorities, or SSL_CERT_FILE / SSL_CERT_DIR."""
    return httpx.create_ssl_context()


def _connect_failure(exc: httpcore.ConnectError) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code == _HOSTNAME_MISMATCH:
            return "TLS certificate not valid for this host"
        if cause.verify_code == _CERTIFICATE_EXPIRED:
            return "TLS certificate expired"
        return "TLS certificate not trusted"
    if isinstance(cause, ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(cause, OSError) and cause.strerror:
        return f"connection failed: {cause.strerror.lower()}"
    return "connection failed"


def _time_left(timeout: float | None, deadline: float, expired: type[Exception]) -> float:
    """`timeout`, shortened to what is left before `deadline`; `expired` once it passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the delivery's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses, in the resolver's order, whatever host
    httpcore names (the URL's, which it keeps for the Host header and TLS)."""

    def __init__(self, addresses: list[Address], deadline: float) -> None:
        self._addresses = addresses
        self._deadline = deadline
        self._system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure = httpcore.ConnectError(f"no address to connect to for {host}")
        for address in self._addresses:
            try:
                stream = self._system.connect_tcp(
                    str(address),
                    port,
                    timeout=_time_left(timeout, self._deadline, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # the next address may answer
                failure = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends at the delivery's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(
            max_bytes, _time_left(timeout, self._deadline, httpcore.ReadTimeout)
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context,
            server_hostname,
            _time_left(timeout, self._deadline, httpcore.ConnectTimeout),
        )
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
