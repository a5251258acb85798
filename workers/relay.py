"""The relay: sweeps the outbox on a timer so no event is stranded.

Runs as `tisser relay` next to Redis workers, and as a thread inside `tisser serve` in
embedded mode. dramatiq has no scheduler; a loop with a sleep is all this needs.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.utils import DatabaseError

from referrals.outbox import events_sweep

logger = logging.getLogger(__name__)


def relay_run(stop: threading.Event, *, recover_before: datetime | None = None) -> None:
    """Sweep every TISSER_OUTBOX_SWEEP_SECONDS until `stop` is set.

    `recover_before`: re-publish at once every unfinished event published before this
    time. The embedded broker passes its start time: whatever was queued in memory by an
    earlier process died with it, so there is no reason to wait for the usual delay.
    """
    first = True
    while not stop.is_set():
        try:
            close_old_connections()
            published = events_sweep(stale_before=recover_before if first else None)
            if published:
                logger.info("relay published %s event(s)", published)
            first = False
        except DatabaseError as exc:
            logger.warning("relay sweep failed, will retry: %s", exc)
        stop.wait(settings.TISSER_OUTBOX_SWEEP_SECONDS)
    connections.close_all()
