"""The address a sign-in comes from, as the sign-in throttle counts it.

Behind a reverse proxy every request comes from the proxy's address, so the throttle
would count every person as one (and lock them all out together). The proxy says whom it
forwards for in `X-Forwarded-For`, which anyone else can write too; so the header is read
only when the request comes from one of TISSER_TRUSTED_PROXIES, from the right (the
entry the nearest proxy added) to the left, past each trusted proxy, stopping at the
first address that is not one: the client as the outermost trusted proxy saw it.
"""

from __future__ import annotations

from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest


def _trusted(address: str) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in settings.TISSER_TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str | None:
    client: str | None = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if client is None or not _trusted(client):
            break
        try:
            ip_address(hop)
        except ValueError:  # not written by a proxy of ours: stop at the last one that is
            break
        client = hop
    return client
