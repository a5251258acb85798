from __future__ import annotations

from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "matching"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from community_catalog.changes import services_changed_register
        from community_catalog.selectors import search_index_register
        from events.outbox import events_recorded_register
        from matching.index import match_index_follow, match_points_refresh
        from matching.search import catalog_points

        # The index follows the catalogue in the transaction of every change.
        events_recorded_register(match_index_follow)
        services_changed_register(match_points_refresh)
        # Catalogue search near a point reads the same index.
        search_index_register(catalog_points)
