from __future__ import annotations

from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmarks, the load client, the intake floor endpoint and the fault report: a
    development app, installed only from a checkout (never in the Docker image)."""

    name = "bench"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        if settings.TISSER_BENCH_FLOOR:
            from bench.floor import router
            from config.api import api

            api.add_router("/bench", router)
