"""Reads on referrals, always scoped to the health centre asking."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import HealthCenter
from community_catalog.models import Organization
from core.errors import NotFound
from events.models import Event
from referrals.models import Placement, Referral, WellbeingMeasure


def referral_list(*, health_center: HealthCenter) -> QuerySet[Referral]:
    return (
        Referral.objects.filter(health_center=health_center)
        .select_related("slip", "contact")
        .prefetch_related(
            "needs",
            "matches__service_at_location__service__organization",
            "matches__service_at_location__location",
            "placements__organization",
            "placements__match__service_at_location__service",
        )
    )


def referral_get(*, health_center: HealthCenter, referral_id: uuid.UUID) -> Referral:
    """The centre's referral; another centre's answers exactly like a missing one."""
    referral = referral_list(health_center=health_center).filter(id=referral_id).first()
    if referral is None:
        raise NotFound("No referral with this id.")
    return referral


def referral_has_slip(referral: Referral) -> bool:
    """A slip to hand over: rendered, and not erased with the referral's personal data."""
    return referral.purged_at is None and hasattr(referral, "slip")


def referral_events(referral: Referral) -> QuerySet[Event]:
    """The referral's events and its placements', oldest first."""
    placement_ids = list(referral.placements.values_list("id", flat=True))
    return Event.objects.filter(health_center_id=referral.health_center_id).filter(
        Q(aggregate_type="referral", aggregate_id=referral.id)
        | Q(aggregate_type="placement", aggregate_id__in=placement_ids)
    )


def inbox(organization: Organization) -> QuerySet[Placement]:
    """The organisation's placements, with what it needs to welcome each person."""
    return (
        Placement.objects.filter(organization=organization)
        .select_related(
            "referral__health_center",
            "match__service_at_location__service",
            "match__service_at_location__location",
        )
        .prefetch_related("referral__needs")
        # Whether the person's wellbeing answers were noted for it (the web inbox offers
        # the form until they are), without a query per placement.
        .annotate(
            has_wellbeing=Exists(WellbeingMeasure.objects.filter(placement_id=OuterRef("pk")))
        )
        .order_by("-requested_at", "id")
    )


def inbox_get(organization: Organization, placement_id: uuid.UUID) -> Placement:
    placement = inbox(organization).filter(id=placement_id).first()
    if placement is None:
        raise NotFound("No placement with this id.")
    return placement
