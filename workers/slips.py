"""Slips: the job that prints a matched referral's slip, and a health centre's batch of
the day. What a slip says is in `workers.slip_content`; how it is drawn, in
`workers.slip_renderer`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock

from django.utils import timezone

from config.metrics import SLIP_RENDER_SECONDS
from referrals.models import HealthCenter, Referral
from referrals.outbox import event_mark_processed
from referrals.services import referral_slip_attach
from workers.slip_content import batch_html, slip_html, slip_language_code
from workers.slip_renderer import slip_render, slip_renderer

logger = logging.getLogger(__name__)

# A day's batch is one document rendered in one request: past this many slips, ask for
# them in parts (`offset`), so that a request stays well inside the server's timeout.
BATCH_MAX_SLIPS = 100


def referral_render_slip(*, referral_id: uuid.UUID, event_id: int) -> None:
    """Render the slip of a matched referral and attach it. Safe to run twice: a slip
    already rendered for this event (or a later one) is left as it is."""
    referral = (
        Referral.objects.select_related("health_center", "slip").filter(id=referral_id).first()
    )
    if (
        referral is None
        or referral.status == Referral.Status.REVOKED  # cancelled: nothing to print
        or (hasattr(referral, "slip") and (referral.slip.event_id or 0) >= event_id)
        or referral.stage
        not in (
            Referral.Stage.MATCHED,
            Referral.Stage.UNMATCHED,
        )
    ):
        event_mark_processed(event_id)
        return
    logger.info("slip %s: rendering (event %s)", referral.code, event_id)
    pdf, render_ms = slip_render(slip_html(referral))
    SLIP_RENDER_SECONDS.observe(render_ms / 1000)
    attached = referral_slip_attach(
        referral_id=referral_id,
        event_id=event_id,
        pdf=pdf,
        language=slip_language_code(referral.preferred_language),
        render_ms=render_ms,
    )
    logger.info(
        "slip %s: %s in %.0f ms, %s bytes",
        referral.code,
        "rendered" if attached else "rendered again, already attached",
        render_ms,
        len(pdf),
    )


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as an aware [start, end) interval."""
    start = timezone.make_aware(datetime.combine(day, clock.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), clock.min))


def day_slip_referrals(center: HealthCenter, day: date) -> list[Referral]:
    """The centre's referrals filed on `day` (local time) that have a slip, in the order
    they were filed. Cancelled ones are left out: there is nothing to hand over."""
    start, end = day_bounds(day)
    return list(
        Referral.objects.filter(
            health_center=center,
            created_at__gte=start,
            created_at__lt=end,
            slip__isnull=False,
        )
        .exclude(status=Referral.Status.REVOKED)
        .select_related("health_center")
        .order_by("created_at", "code")
    )


def batch_render(referrals: list[Referral], *, day: date) -> bytes:
    """The slips of these referrals as one PDF document, one after the other, each from a
    new page (WeasyPrint lays them out as one document, not files merged afterwards)."""
    return slip_renderer().render(batch_html(referrals, day=day))
