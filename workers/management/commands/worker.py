from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.broker import embedded

# The variable dramatiq reads its queue prefetch from, named as dramatiq names it.
PREFETCH_VARIABLE = "dramatiq_queue_prefetch"
RENDER_PROCESS_VARIABLE = "TISSER_SLIP_RENDER_PROCESS"


class Command(BaseCommand):
    help = "Run dramatiq worker processes on the Redis broker (needs REDIS_URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--processes", "-p", type=int, default=os.cpu_count() or 1)
        parser.add_argument(
            "--threads",
            "-t",
            type=int,
            default=4,
            help="Worker threads per process. Webhook deliveries run on threads of their "
            "own beside them (TISSER_WEBHOOK_THREADS), unless webhooks is the only queue.",
        )
        parser.add_argument(
            "--queues",
            "-Q",
            nargs="*",
            default=[],
            help="Only these queues (matching, slips, messages, webhooks, maintenance).",
        )
        parser.add_argument(
            "--prefetch",
            type=int,
            default=None,
            help="Messages each process takes from Redis ahead of its threads (default: "
            "twice the threads, at least 4).",
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
        # dramatiq's default is twice the threads. A slip worker with one thread, holding
        # two messages, sometimes finished the second before its consumer thread,
        # asleep in its polling backoff (up to a second), had fetched a third, and waited
        # (28 waits over 30 ms in 1,000 slips). Four keep the next slip ready. dramatiq
        # reads this when it starts; what a process holds goes back to the queue if the
        # process dies.
        if options["prefetch"] is not None:
            if options["prefetch"] < 1:
                raise CommandError("--prefetch must be 1 or more.")
            os.environ[PREFETCH_VARIABLE] = str(options["prefetch"])
        else:
            os.environ.setdefault(PREFETCH_VARIABLE, str(max(4, 2 * options["threads"])))
        # Slips render in a child process beside each worker process, so that a second
        # thread stores one slip and reads the next while the child renders
        # (slips.render_process). On unless the operator says otherwise.
        os.environ.setdefault(RENDER_PROCESS_VARIABLE, "true")
        self.stdout.write(" ".join(argv))
        self.stdout.flush()
        # dramatiq's own CLI supervises the processes, restarts crashed ones, and stops
        # them gracefully on SIGTERM.
        os.execv(dramatiq, argv)  # noqa: S606 - our fixed argv, no shell
