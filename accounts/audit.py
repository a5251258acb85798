"""The audit log's recorder: after each request, the `AuditEntry` rows saying who (the
key, or the person signed in; their role and tenant), what, and when:

- a request that succeeded on one referral (its path names the referral or one of its
  placements, on the API, the web pages or the admin): `read` or `change`;
- a list that showed referrals (the API's list, the event feed, the inbox, the web
  list and inbox, the day's slips, the admin's list): one `list` row per request with
  the ids it returned, which the view hands over with `audit_ids`;
- a request refused (403, 404) on a referral or placement it named, by a caller who
  is signed in or holds a key: `refused`, so a probe across tenants leaves a trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch

from accounts.models import ApiKey, AuditEntry, Membership
from events.models import Event
from events.outbox import event_referral_id
from referrals.models import Placement
from slips.models import Slip

logger = logging.getLogger(__name__)

_IDS = "tisser_audit_ids"
REFUSED = (403, 404)
# Admin pages about one referral or one placement: `object_id` is in the path.
_ADMIN_REFERRAL = (
    "referrals_referral_change",
    "referrals_referral_delete",
    "referrals_referral_history",
)
_ADMIN_SLIP = ("referrals_slip_change", "referrals_slip_delete", "referrals_slip_history")
_ADMIN_EVENT = ("referrals_event_change", "referrals_event_delete", "referrals_event_history")
_ADMIN_PLACEMENT = (
    "referrals_placement_change",
    "referrals_placement_delete",
    "referrals_placement_history",
)


def audit_ids(request: HttpRequest, referral_ids: Iterable[uuid.UUID | str | None]) -> None:
    """Hand the recorder the referrals a list showed (once per request)."""
    setattr(request, _IDS, sorted({str(i) for i in referral_ids if i}))


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _uuid_or_int(value: object) -> int | None:
    """An admin object id of a model with an integer key, or None."""
    try:
        return int(str(value))
    except ValueError:
        return None


def _placement_referral(placement_id: object) -> uuid.UUID | None:
    found = _uuid(placement_id)
    if found is None:
        return None
    return Placement.objects.filter(id=found).values_list("referral_id", flat=True).first()


def _named(match: ResolverMatch) -> tuple[bool, uuid.UUID | None]:
    """Whether the path names a referral or a placement, and the referral's id when it
    can be told (a made-up placement id names none)."""
    kwargs = match.kwargs
    if "referral_id" in kwargs:
        return True, _uuid(kwargs["referral_id"])
    if "placement_id" in kwargs:
        return True, _placement_referral(kwargs["placement_id"])
    if match.url_name in _ADMIN_REFERRAL:
        return True, _uuid(kwargs.get("object_id"))
    if match.url_name in _ADMIN_PLACEMENT:
        return True, _placement_referral(kwargs.get("object_id"))
    object_pk = _uuid_or_int(kwargs.get("object_id"))
    if match.url_name in _ADMIN_SLIP:
        slip = Slip.objects.filter(pk=object_pk).first() if object_pk is not None else None
        return True, slip.referral_id if slip else None
    if match.url_name in _ADMIN_EVENT:
        event = Event.objects.filter(pk=object_pk).first() if object_pk is not None else None
        found = event_referral_id(event) if event else None
        return True, _uuid(found) if found else None
    return False, None


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
        if user.is_staff:
            return {"username": user.get_username(), "role": "admin"}
        return None
    return {
        "username": user.get_username(),
        "role": ApiKey.Role.HEALTH_CENTER
        if membership.health_center_id
        else ApiKey.Role.ORGANIZATION,
        "health_center_id": membership.health_center_id,
        "organization_id": membership.organization_id,
    }


def audit_record(request: HttpRequest, response: HttpResponse) -> list[AuditEntry]:
    match = request.resolver_match
    if match is None:
        return []
    status = response.status_code
    listed: list[str] | None = getattr(request, _IDS, None)
    named, referral_id = _named(match)
    if not (listed is not None and status < 400) and not (
        named and (status < 400 or status in REFUSED)
    ):
        return []
    who = _who(request)
    if who is None:
        return []
    common = {
        "method": request.method or "",
        "path": request.path[:300],
        "status": status,
        **who,
    }
    if listed is not None and status < 400:
        return [
            AuditEntry.objects.create(action=AuditEntry.Action.LIST, referral_ids=listed, **common)
        ]
    if status >= 400:
        action = AuditEntry.Action.REFUSED
    elif request.method in ("GET", "HEAD"):
        action = AuditEntry.Action.READ
    else:
        action = AuditEntry.Action.CHANGE
    return [AuditEntry.objects.create(referral_id=referral_id, action=action, **common)]


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
