"""`Authorization: Bearer <key>`: who is calling, by the role of their API key.

Each class accepts one kind of key and hands the endpoint the caller's tenant (a health
centre or an organisation). A valid key of another role is refused like a wrong key,
with 401: the endpoint does not exist for that caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.keys import api_key_authenticate
from accounts.models import ApiKey, HealthCenter

if TYPE_CHECKING:
    from community_catalog.models import Organization


class HealthCenterKey(HttpBearer):
    openapi_description = "A health centre's API key, created with `tisser create-center`."

    def authenticate(self, request: HttpRequest, token: str) -> HealthCenter | None:
        api_key = _authenticate(request, token)
        if api_key is None or api_key.role != ApiKey.Role.HEALTH_CENTER:
            return None
        return api_key.health_center


class OrganizationKey(HttpBearer):
    openapi_description = "A community organisation's API key, created with `tisser create-org`."

    def authenticate(self, request: HttpRequest, token: str) -> Organization | None:
        api_key = _authenticate(request, token)
        if api_key is None or api_key.role != ApiKey.Role.ORGANIZATION:
            return None
        return api_key.organization


class PartyKey(HttpBearer):
    """A health centre's or an organisation's key: for what both have, each their own
    (event feeds, webhooks)."""

    openapi_description = "A health centre's or a community organisation's API key."

    def authenticate(self, request: HttpRequest, token: str) -> HealthCenter | Organization | None:
        api_key = _authenticate(request, token)
        if api_key is None:
            return None
        if api_key.role == ApiKey.Role.HEALTH_CENTER:
            return api_key.health_center
        if api_key.role == ApiKey.Role.ORGANIZATION:
            return api_key.organization
        return None


class AnyKey(HttpBearer):
    """Any valid key: for reads that every party may make, such as catalogue search."""

    openapi_description = (
        "Any Tisser API key: a health centre's, an organisation's or an operator's."
    )

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return _authenticate(request, token)


class OperatorKey(HttpBearer):
    """An operator's key: for what runs the service as a whole (the audit log)."""

    openapi_description = "An operator's API key, created with `tisser create-operator`."

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        api_key = _authenticate(request, token)
        if api_key is None or api_key.role != ApiKey.Role.OPERATOR:
            return None
        return api_key


def _authenticate(request: HttpRequest, token: str) -> ApiKey | None:
    """The key, also kept on the request for the audit log (`accounts.audit`)."""
    api_key = api_key_authenticate(token)
    request.tisser_key = api_key  # type: ignore[attr-defined]
    return api_key


def request_center(request: HttpRequest) -> HealthCenter:
    center = request.auth  # type: ignore[attr-defined]
    assert isinstance(center, HealthCenter)
    return center


def request_organization(request: HttpRequest) -> Organization:
    organization = request.auth  # type: ignore[attr-defined]
    assert organization._meta.label == "community_catalog.Organization"
    return organization


def request_api_key(request: HttpRequest) -> ApiKey:
    api_key = request.auth  # type: ignore[attr-defined]
    assert isinstance(api_key, ApiKey)
    return api_key


def request_party(request: HttpRequest) -> HealthCenter | Organization:
    party = request.auth  # type: ignore[attr-defined]
    assert party is not None
    return party
