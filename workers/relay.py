"""The relay: the one periodic loop. Sweeps the outbox, re-sends lost webhook deliveries,
runs the referral lifecycle's clock (reminders and expiry of unanswered placements), moves
matching's index on as days pass (a run of sessions that ended), hands the directory
sources that are due to the workers, hands the messages to people that are due to the
workers, and sends the retention purge.

Runs as `tisser relay` next to Redis workers, and as a thread inside `tisser serve` in
embedded mode.

Why this loop is the scheduler, and not periodiq, dramatiq-crontab or APScheduler:
dramatiq has no scheduler, and the relay already wakes every few seconds in both ways of
running Tisser. The periodic work is small, needs no calendar (only "every minute"), and
is written to be safe when several relays run at once (conditional updates and row
locks), so no leader election or distributed lock is needed. A cron library would add a
process to run and monitor in production and a second code path in embedded mode, for
nothing this loop does not already do. The work itself writes events through the
outbox, so what it triggers (re-matching, webhooks) is durable like everything else.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.utils import DatabaseError

from core.broker import BROKER_ERRORS
from events.outbox import events_sweep
from events.webhooks import webhook_deliveries_sweep
from harvest.schedule import harvest_leases_take
from matching.index import match_points_daily
from outreach.sending import messages_sweep
from outreach.staff import staff_notices_sweep
from referrals.placement_checks import placements_check
from workers.actors import (
    harvest_source,
    purge_personal_data,
    send_message,
    send_staff_notices,
)

logger = logging.getLogger(__name__)


def relay_run(stop: threading.Event, *, recover_before: datetime | None = None) -> None:
    """Sweep every TISSER_OUTBOX_SWEEP_SECONDS until `stop` is set, and check placements
    every TISSER_LIFECYCLE_CHECK_SECONDS.

    `recover_before`: re-publish at once every unfinished event published before this
    time. The embedded broker passes its start time: whatever was queued in memory by an
    earlier process died with it, so there is no reason to wait for the usual delay.
    """
    first = True
    next_check = next_purge = next_harvest = next_messages = 0.0
    while not stop.is_set():
        try:
            close_old_connections()
            published = events_sweep(stale_before=recover_before if first else None)
            resent = webhook_deliveries_sweep()
            if published or resent:
                logger.info("relay published %s event(s), %s webhook(s)", published, resent)
            first = False
            if time.monotonic() >= next_check:
                checked = placements_check()
                # Cheap when nothing ended (one indexed query): run with the clock, so an
                # activity that ended yesterday is not offered this morning.
                ended = match_points_daily()
                if ended:
                    logger.info("matching index: %s service(s) whose sessions ended", ended)
                next_check = time.monotonic() + settings.TISSER_LIFECYCLE_CHECK_SECONDS
                if checked.reminded or checked.expired:
                    logger.info(
                        "placements: %s reminder(s), %s expired",
                        checked.reminded,
                        checked.expired,
                    )
            if time.monotonic() >= next_harvest:
                next_harvest = time.monotonic() + settings.TISSER_HARVEST_CHECK_SECONDS
                # Directory sources that are due, each to a worker (a run may take
                # minutes: never in this loop).
                for source_id, lease in harvest_leases_take():
                    harvest_source.send(source_id, lease)
            if time.monotonic() >= next_messages:
                next_messages = time.monotonic() + settings.TISSER_MESSAGES_CHECK_SECONDS
                # Messages to people that are due, each to a worker with a lease.
                messages_sweep(lambda mid, lease: send_message.send(str(mid), lease.isoformat()))
                # And what staff should know (a referral arrived, an answer is due…).
                staff_notices_sweep(
                    lambda uid, lease: send_staff_notices.send(uid, lease.isoformat())
                )
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + settings.TISSER_RETENTION_CHECK_SECONDS
                purge_personal_data.send()
        except BROKER_ERRORS as exc:
            logger.warning("relay could not reach the broker, will retry: %s", exc)
        except DatabaseError as exc:
            logger.warning("relay sweep failed, will retry: %s", exc)
        except Exception:
            # Nothing may stop the loop: it is what recovers from every other failure.
            logger.exception("relay sweep failed, will retry")
        stop.wait(settings.TISSER_OUTBOX_SWEEP_SECONDS)
    connections.close_all()
