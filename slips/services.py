"""Slips: the job that prints a matched referral's slip. What a slip says is in
`slips.content`; how it is drawn, in `slips.renderer`; a health centre's
batch of the day, put together from the stored slips, in `slips.batch`.
"""

from __future__ import annotations

import logging
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from core.languages import slip_language_code
from core.metrics import SLIP_RENDER_SECONDS
from events.outbox import event_mark_processed
from referrals.lifecycle import stage_set
from referrals.models import Referral
from slips.content import slip_html
from slips.models import Slip
from slips.renderer import slip_render

logger = logging.getLogger(__name__)


def referral_render_slip(*, referral_id: uuid.UUID, event_id: int) -> None:
    """Render the slip of a matched referral and attach it. Safe to run twice: a slip
    already rendered for this event (or a later one) is left as it is."""
    referral = (
        Referral.objects.select_related("health_center", "slip", "contact")
        .filter(id=referral_id)
        .first()
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


def referral_slip_attach(
    *, referral_id: uuid.UUID, event_id: int, pdf: bytes, language: str, render_ms: float
) -> bool:
    """Store the slip and move the referral to `slip_ready`. False if this event's slip
    (or a later one) is already there: a re-run of the job changes nothing.

    A re-match renders a new version in place of the last one; the file of each version
    has a fixed name, so a job that died after writing it and runs again overwrites it.
    """
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(id=referral_id).first()
        # Read after the lock, not joined to it: a row read with the lock could be the
        # one from before another job's slip committed.
        slip = Slip.objects.filter(referral_id=referral_id).first()
        if (
            referral is None
            # Consent withdrawn (or retention) while the slip was being rendered.
            or referral.purged_at is not None
            or (slip is not None and (slip.event_id or 0) >= event_id)
        ):
            event_mark_processed(event_id)
            return False
        old_file = slip.file.name if slip is not None else ""
        if slip is None:
            slip = Slip(referral=referral, version=1)
        else:
            slip.version += 1
        slip.event_id = event_id
        slip.language, slip.size_bytes, slip.render_ms = language, len(pdf), render_ms
        suffix = "" if slip.version == 1 else f"-v{slip.version}"
        name = f"slips/{referral.created_at:%Y/%m}/{referral.code}-{referral.id}{suffix}.pdf"
        if default_storage.exists(name):
            default_storage.delete(name)
        slip.file.name = default_storage.save(name, ContentFile(pdf))
        slip.save()
        if old_file and old_file != slip.file.name:
            transaction.on_commit(lambda: default_storage.delete(old_file))
        stage_set(
            referral,
            Referral.Stage.SLIP_READY,
            {"slip_bytes": len(pdf), "slip_version": slip.version},
        )
        event_mark_processed(event_id)
    return True


def slips_erase(referral_ids: list[uuid.UUID] | None) -> int:
    """Delete the slip files of purged referrals. Runs after the purge commits, and again
    from the periodic purge for any file a crash left behind: the row keeps the file's
    name until the file is gone. Registered with referrals.retention (slips.apps)."""
    slips = Slip.objects.filter(referral__purged_at__isnull=False).exclude(file="")
    if referral_ids is not None:
        slips = slips.filter(referral_id__in=referral_ids)
    deleted = 0
    for slip in slips:
        name = slip.file.name or ""
        if name and default_storage.exists(name):
            default_storage.delete(name)
        Slip.objects.filter(id=slip.id).update(file="")
        deleted += 1
    return deleted
