"""Reads on events, always scoped to the party asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from accounts.models import HealthCenter
from events.models import Event

if TYPE_CHECKING:
    from community_catalog.models import Organization


def events_visible(owner: HealthCenter | Organization) -> QuerySet[Event]:
    """Every event the caller may see: its own referrals' and placements' (a health
    centre), or its own placements' and services' (an organisation)."""
    if isinstance(owner, HealthCenter):
        return Event.objects.filter(health_center=owner)
    return Event.objects.filter(organization=owner)
