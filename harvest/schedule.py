"""When sources run: every `every_hours`, from the relay; after a failure sooner, then
less and less often (`TISSER_HARVEST_RETRY_SECONDS`, doubled after each failure in a
row, never past the source's own interval or a day)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from harvest.models import HarvestSource


def next_run_after(source: HarvestSource, moment: datetime) -> datetime | None:
    """When `source` should run next, its last run having ended at `moment`."""
    interval = timedelta(hours=source.every_hours) if source.every_hours else None
    if interval is None:
        return None  # by hand only, even after a failure
    if source.failures:
        wait = timedelta(
            seconds=settings.TISSER_HARVEST_RETRY_SECONDS * 2 ** min(source.failures - 1, 20)
        )
        return moment + min(wait, interval, timedelta(days=1))
    return moment + interval


# A due source is handed to a worker with a lease: its `next_run_at` moves this far
# ahead, so the relay does not hand it over again meanwhile; if the message is lost
# (the broker was down), the source is due again when the lease ends.
LEASE = timedelta(minutes=10)


def harvest_leases_take(now: datetime | None = None) -> list[tuple[str, str]]:
    """The due sources, each leased: (source id, lease) pairs to send to the workers.
    Conditional updates: two relays never lease the same source twice."""
    now = now or timezone.now()
    leased = []
    for source_id, due in HarvestSource.objects.filter(
        enabled=True, next_run_at__lte=now
    ).values_list("id", "next_run_at"):
        until = now + LEASE
        if HarvestSource.objects.filter(id=source_id, next_run_at=due).update(next_run_at=until):
            leased.append((str(source_id), until.isoformat()))
    return leased
