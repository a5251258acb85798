from __future__ import annotations

from django.apps import AppConfig


class HarvestConfig(AppConfig):
    name = "harvest"
    verbose_name = "Directory feeds"
    default_auto_field = "django.db.models.BigAutoField"
