from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from workers.relay import relay_run


class Command(BaseCommand):
    help = "Sweep the outbox on a timer, publishing events the broker has not received."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("relay running; Ctrl-C to stop")
        self.stdout.flush()
        relay_run(stop)
