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

logger = logging.getLogger(__name__)

_IDS = "tisser_audit_ids"
REFUSED = (403, 404)

# How to tell which referral a request names. The apps above register what they know
# (`audit_finder_register`): the lowest layer cannot import their models. A finder takes
# the value from the path and answers the referral's id, or None for a made-up one.
ReferralFinder = Callable[[object], "uuid.UUID | None"]
_by_kwarg: dict[str, ReferralFinder] = {}
_by_admin_model: dict[str, ReferralFinder] = {}
_ADMIN_VIEWS = ("_change", "_delete", "_history")


def audit_finder_register(
    finder: ReferralFinder, *, kwarg: str | None = None, admin_model: str | None = None
) -> None:
    """Register how a path's `kwarg` (e.g. "placement_id"), or the admin pages of one
    model (`admin_model`: "app_label.model_name"), name a referral."""
    if kwarg:
        _by_kwarg[kwarg] = finder
    if admin_model:
        _by_admin_model[admin_model.replace(".", "_").lower()] = finder


def audit_ids(request: HttpRequest, referral_ids: Iterable[uuid.UUID | str | None]) -> None:
    """Hand the recorder the referrals a list showed (once per request)."""
    setattr(request, _IDS, sorted({str(i) for i in referral_ids if i}))


def audit_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def audit_int(value: object) -> int | None:
    """An admin object id of a model with an integer key, or None."""
    try:
        return int(str(value))
    except ValueError:
        return None


def _named(match: ResolverMatch) -> tuple[bool, uuid.UUID | None]:
    """Whether the path names a referral or a placement, and the referral's id when it
    can be told (a made-up placement id names none)."""
    kwargs = match.kwargs
    if "referral_id" in kwargs:
        return True, audit_uuid(kwargs["referral_id"])
    for kwarg, finder in _by_kwarg.items():
        if kwarg in kwargs:
            return True, finder(kwargs[kwarg])
    url_name = match.url_name or ""
    for view in _ADMIN_VIEWS:
        if url_name.endswith(view):
            admin_finder = _by_admin_model.get(url_name.removesuffix(view))
            if admin_finder is not None:
                return True, admin_finder(kwargs.get("object_id"))
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


def audited_changelist(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """An admin list that shows referrals: the audit log records which (`accounts.audit`)."""
    changelist = (getattr(response, "context_data", None) or {}).get("cl")
    if changelist is not None:
        audit_ids(
            request, (getattr(row, "referral_id", None) or row.pk for row in changelist.result_list)
        )
    return response
