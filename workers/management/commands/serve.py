from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from core.broker import embedded
from core.metrics import metrics_dir_prune
from workers.server import TisserServer


class Command(BaseCommand):
    help = "Serve the API (gunicorn); in embedded mode, the workers run inside it too."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.TISSER_HOST)
        parser.add_argument("--port", type=int, default=settings.TISSER_PORT)
        parser.add_argument("--workers", type=int, default=settings.TISSER_WEB_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.TISSER_WEB_THREADS)
        parser.add_argument(
            "--no-migrate", action="store_true", help="Do not apply database migrations first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        metrics_dir_prune()
        mode = "embedded workers (no REDIS_URL)" if embedded() else "Redis broker"
        self.stdout.write(
            f"Tisser on http://{options['host']}:{options['port']}/ — "
            f"API docs: http://{options['host']}:{options['port']}/api/v1/docs — {mode}",
        )
        self.stdout.flush()
        TisserServer(
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            threads=options["threads"],
        ).run()
