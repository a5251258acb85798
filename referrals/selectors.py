"""Reads on referrals, always scoped to the health centre asking."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from config.errors import NotFound
from referrals.models import HealthCenter, Referral


def referral_list(*, health_center: HealthCenter) -> QuerySet[Referral]:
    return (
        Referral.objects.filter(health_center=health_center)
        .select_related("slip")
        .prefetch_related(
            "needs",
            "matches__service_at_location__service__organization",
            "matches__service_at_location__location",
        )
    )


def referral_get(*, health_center: HealthCenter, referral_id: uuid.UUID) -> Referral:
    """The centre's referral; another centre's answers exactly like a missing one."""
    referral = referral_list(health_center=health_center).filter(id=referral_id).first()
    if referral is None:
        raise NotFound("No referral with this id.")
    return referral


def referral_has_slip(referral: Referral) -> bool:
    return hasattr(referral, "slip")
