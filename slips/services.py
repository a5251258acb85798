"""Slips: the job that prints a matched referral's slip. What a slip says is in
`slips.content`; how it is drawn, in `slips.renderer`; a health centre's
batch of the day, put together from the stored slips, in `slips.batch`.
"""

from __future__ import annotations

import logging
import uuid

from core.metrics import SLIP_RENDER_SECONDS
from events.outbox import event_mark_processed
from referrals.models import Referral
from referrals.services import referral_slip_attach
from slips.content import slip_html, slip_language_code
from slips.renderer import slip_render

logger = logging.getLogger(__name__)


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
