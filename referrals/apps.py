from __future__ import annotations

import uuid

from django.apps import AppConfig


def placement_referral(placement_id: object) -> uuid.UUID | None:
    """The referral a placement id names, for the audit log (None: a made-up id)."""
    from accounts.audit import audit_uuid
    from referrals.models import Placement

    found = audit_uuid(placement_id)
    if found is None:
        return None
    return Placement.objects.filter(id=found).values_list("referral_id", flat=True).first()


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self) -> None:
        from accounts.audit import audit_finder_register, audit_uuid

        audit_finder_register(placement_referral, kwarg="placement_id")
        audit_finder_register(audit_uuid, admin_model="referrals.referral")
        audit_finder_register(placement_referral, admin_model="referrals.placement")
