from __future__ import annotations

from django.apps import AppConfig


class CommunityCatalogConfig(AppConfig):
    name = "community_catalog"
    verbose_name = "Community catalogue"

    def ready(self) -> None:
        from community_catalog.selectors import service_owners
        from events.outbox import audience_register

        # A catalogue event is shown to the organisation that runs the service.
        audience_register("service", service_owners)
