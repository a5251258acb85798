from __future__ import annotations

import uuid

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def slip_referral(object_id: object) -> uuid.UUID | None:
    """The referral an admin slip page names, for the audit log."""
    from accounts.audit import audit_int
    from slips.models import Slip

    pk = audit_int(object_id)
    slip = Slip.objects.filter(pk=pk).first() if pk is not None else None
    return slip.referral_id if slip else None


class SlipsConfig(AppConfig):
    name = "slips"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.audit import audit_finder_register
        from referrals.retention import erasure_register
        from slips.modes import slip_modes_narrow_after_migrate
        from slips.services import slips_erase

        audit_finder_register(slip_referral, admin_model="slips.slip")
        # Once per `migrate`, and so at every start of `tisser serve`.
        post_migrate.connect(slip_modes_narrow_after_migrate, sender=self)
        erasure_register(slips_erase)
