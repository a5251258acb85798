from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.broker import embedded


class Command(BaseCommand):
    help = "Run dramatiq worker processes on the Redis broker (needs REDIS_URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--processes", "-p", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--threads", "-t", type=int, default=4)
        parser.add_argument(
            "--queues",
            "-Q",
            nargs="*",
            default=[],
            help="Only these queues (matching, slips, webhooks, maintenance).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if embedded():
            raise CommandError(
                "REDIS_URL is not set: in embedded mode the workers run inside "
                "`tisser serve`. Set REDIS_URL to run separate worker processes."
            )
        dramatiq = shutil.which("dramatiq", path=os.path.dirname(sys.executable)) or shutil.which(
            "dramatiq"
        )
        if dramatiq is None:
            raise CommandError("The dramatiq command is not installed in this environment.")
        argv = [
            "dramatiq",
            "--processes",
            str(options["processes"]),
            "--threads",
            str(options["threads"]),
            "workers.entry",
        ]
        if options["queues"]:
            argv += ["--queues", *options["queues"]]
        self.stdout.write(" ".join(argv))
        self.stdout.flush()
        # dramatiq's own CLI supervises the processes, restarts crashed ones, and stops
        # them gracefully on SIGTERM.
        os.execv(dramatiq, argv)  # noqa: S606 - our fixed argv, no shell
