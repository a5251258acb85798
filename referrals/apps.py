from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self) -> None:
        from slips.modes import slip_modes_narrow_after_migrate

        # Once per `migrate`, and so at every start of `tisser serve`.
        post_migrate.connect(slip_modes_narrow_after_migrate, sender=self)
