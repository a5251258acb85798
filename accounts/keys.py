"""API keys and health centres: who may call the API, and as whom.

A key carries 192 random bits, so a fast hash (SHA-256) is enough; only the hash is kept.
Keys just looked up are kept a few seconds per process (registered with core.caches)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from cachetools import TTLCache
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, HealthCenter
from core.caches import cache_register
from core.ratelimit import rate_limit_check

if TYPE_CHECKING:
    from community_catalog.models import Organization

API_KEY_PREFIX = "tsk_"
_LAST_USED_GRANULARITY = timedelta(minutes=5)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *,
    health_center: HealthCenter | None = None,
    organization: Organization | None = None,
    name: str = "",
) -> str:
    """Create a key for a health centre, an organisation, or (neither) an operator, and
    return it. It is never shown again."""
    if health_center is not None and organization is not None:
        raise ValueError("a key belongs to a health centre or an organisation, not both")
    role = (
        ApiKey.Role.HEALTH_CENTER
        if health_center is not None
        else ApiKey.Role.ORGANIZATION
        if organization is not None
        else ApiKey.Role.OPERATOR
    )
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    ApiKey.objects.create(
        prefix=prefix,
        key_hash=api_key_hash(key),
        name=name,
        role=role,
        health_center=health_center,
        organization=organization,
    )
    return key


# Keys just looked up, by hash, for a few seconds per process: a client sends its key
# with every request, and reading it (with its party) is a fair share of a referral's
# intake. A revoked key stops working within API_KEY_CACHE_SECONDS.
API_KEY_CACHE_SECONDS = 10
_api_keys: TTLCache[str, ApiKey] = TTLCache(maxsize=10_000, ttl=API_KEY_CACHE_SECONDS)
_api_keys_lock = threading.Lock()


@cache_register
def api_keys_forget() -> None:
    with _api_keys_lock:
        _api_keys.clear()


def api_key_authenticate(key: str) -> ApiKey | None:
    if not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        return None
    key_hash = api_key_hash(key)
    with _api_keys_lock:
        api_key = _api_keys.get(key_hash)
    if api_key is None:
        api_key = (
            ApiKey.objects.select_related("health_center", "organization")
            .filter(key_hash=key_hash, revoked_at__isnull=True)
            .first()
        )
        if api_key is None:
            return None
        with _api_keys_lock:
            _api_keys[key_hash] = api_key
    rate_limit_check(api_key.prefix)
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_GRANULARITY:
        # Recorded coarsely: one write per key every few minutes, not one per request.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def health_center_create(*, name: str) -> tuple[HealthCenter, str]:
    with transaction.atomic():
        center = HealthCenter.objects.create(name=name)
        key = api_key_create(health_center=center, name="created with the center")
    return center, key
