"""`Authorization: Bearer <key>` for health centres."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from referrals.models import HealthCenter
from referrals.services import api_key_authenticate


class HealthCenterKey(HttpBearer):
    openapi_description = "A health centre's API key, created with `tisser create-center`."

    def authenticate(self, request: HttpRequest, token: str) -> HealthCenter | None:
        api_key = api_key_authenticate(token)
        return api_key.health_center if api_key else None


def request_center(request: HttpRequest) -> HealthCenter:
    center = request.auth  # type: ignore[attr-defined]
    assert isinstance(center, HealthCenter)
    return center
