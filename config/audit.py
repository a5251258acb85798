"""The audit log's recorder: after each API request or web page that succeeded on one
referral (its path names the referral or one of its placements), one `AuditEntry` saying
who (the key, or the person signed in; their role and tenant), what (read or change,
method, path, status) and when.

Lists are not recorded item by item: they show the referrals' codes and stages, and a
person's details are read through the paths that name them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from referrals.models import ApiKey, AuditEntry, Membership, Placement

logger = logging.getLogger(__name__)


def _referral_id(kwargs: dict[str, object]) -> uuid.UUID | None:
    if "referral_id" in kwargs:
        return uuid.UUID(str(kwargs["referral_id"]))
    if "placement_id" in kwargs:
        found = (
            Placement.objects.filter(id=str(kwargs["placement_id"]))
            .values_list("referral_id", flat=True)
            .first()
        )
        return found
    return None


def _who(request: HttpRequest) -> dict[str, object] | None:
    """The caller: an API key, or a person signed in to the web pages for a party."""
    api_key: ApiKey | None = getattr(request, "tisser_key", None)
    if api_key is not None:
        return {
            "key_prefix": api_key.prefix,
            "role": api_key.role,
            "health_center_id": api_key.health_center_id,
            "organization_id": api_key.organization_id,
        }
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    membership = Membership.objects.filter(user=user).first()
    if membership is None:
        return None
    return {
        "username": user.get_username(),
        "role": ApiKey.Role.HEALTH_CENTER
        if membership.health_center_id
        else ApiKey.Role.ORGANIZATION,
        "health_center_id": membership.health_center_id,
        "organization_id": membership.organization_id,
    }


def audit_record(request: HttpRequest, response: HttpResponse) -> AuditEntry | None:
    match = request.resolver_match
    if match is None or response.status_code >= 400:
        return None
    referral_id = _referral_id(match.kwargs)
    if referral_id is None:
        return None
    who = _who(request)
    if who is None:
        return None
    read = request.method in ("GET", "HEAD")
    return AuditEntry.objects.create(
        referral_id=referral_id,
        action=AuditEntry.Action.READ if read else AuditEntry.Action.CHANGE,
        method=request.method or "",
        path=request.path[:300],
        status=response.status_code,
        **who,
    )


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        try:
            audit_record(request, response)
        except (DatabaseError, ValueError):
            # The answer has been computed; an audit row that cannot be written is
            # logged loudly rather than turned into an error for the caller.
            logger.exception("audit entry not written for %s %s", request.method, request.path)
        return response
