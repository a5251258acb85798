"""After a restore, erase again whoever the erasure ledger says was erased.

The restored database is the backup's: a referral erased after the backup is back in it,
in full. Each one is erased again as it was the first time, at the time it was:

- a withdrawn consent by `referral_consent_withdraw` itself: the referral cancelled if it
  was active, its open placements cancelled, its wellbeing answers deleted, its personal
  data and slip erased, and its event written again (organisations may hear of the
  cancellation a second time);
- a retention purge by the same erasure the purge runs, with its event.

A referral already erased as its line says is left alone, so running it twice, or on a
database restored from a backup newer than some lines, changes nothing. Each referral is
erased in a transaction of its own, under its row's lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction

from referrals.erasure_ledger import KINDS, Erasure, Kind, ledger_read
from referrals.lifecycle import referral_event
from referrals.models import Contact, Referral
from referrals.retention import _erase, contact_erase, referral_consent_withdraw

# Referrals whose state is read in one query.
CHUNK = 500


@dataclass
class ReapplyReport:
    referrals: int = 0
    erased: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    already: int = 0
    absent: int = 0
    # Per ledger, the numbers of the lines that record no erasure.
    unreadable: dict[Path, list[int]] = field(default_factory=dict)


def erasures_reapply(*, ledgers: Sequence[Path]) -> ReapplyReport:
    """Erase again every referral the ledgers name that the database holds unerased.
    Raises FileNotFoundError for a ledger that does not exist."""
    report = ReapplyReport()
    wanted: dict[uuid.UUID, Erasure] = {}
    for path in ledgers:
        erasures, unreadable = ledger_read(path)
        if unreadable:
            report.unreadable[path] = unreadable
        for erasure in erasures:
            wanted[erasure.referral_id] = _stronger(wanted.get(erasure.referral_id), erasure)
    report.referrals = len(wanted)
    pending = list(wanted.values())
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        states = _states(e.referral_id for e in chunk)
        for erasure in chunk:
            state = states.get(erasure.referral_id)
            if state is None:
                report.absent += 1
            elif _done(erasure.kind, *state, erasure.referral_id):
                report.already += 1
            else:
                _reapply(erasure)
                report.erased[erasure.kind] += 1
    return report


def _stronger(known: Erasure | None, erasure: Erasure) -> Erasure:
    """Of two lines for one referral, the one whose end state holds the other's: a
    withdrawn consent over a purge, the earlier of two alike."""
    if known is None or _STRENGTH[erasure.kind] > _STRENGTH[known.kind]:
        return erasure
    return known


# Whose end state holds whose: a purge erases the contact details too, a withdrawn
# consent holds a purge.
_STRENGTH: dict[str, int] = {
    "messages_stopped": 0,
    "contact_withdrawn": 1,
    "retention": 2,
    "consent_withdrawn": 3,
}


def _states(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[datetime | None, datetime | None]]:
    rows = Referral.objects.filter(id__in=list(ids)).values_list(
        "id", "purged_at", "consent_withdrawn_at"
    )
    return {id: (purged_at, withdrawn_at) for id, purged_at, withdrawn_at in rows}


def _done(
    kind: Kind, purged_at: datetime | None, withdrawn_at: datetime | None, referral_id: uuid.UUID
) -> bool:
    if kind == "consent_withdrawn":
        return withdrawn_at is not None
    if purged_at is not None:  # a purge erases the contact details too
        return True
    if kind == "retention":
        return False
    contact = Contact.objects.filter(referral_id=referral_id).first()
    if contact is None:
        return True
    erased = not contact.email and not contact.phone and contact.stopped_at is not None
    return erased and (kind == "messages_stopped" or contact.page_revoked_at is not None)


def _reapply(erasure: Erasure) -> None:
    if erasure.kind in ("messages_stopped", "contact_withdrawn"):
        with transaction.atomic():
            referral = Referral.objects.select_for_update().get(id=erasure.referral_id)
            contact_erase(referral, close_page=erasure.kind == "contact_withdrawn", now=erasure.at)
        return
    if erasure.kind == "consent_withdrawn":
        referral = Referral.objects.select_related("health_center").get(id=erasure.referral_id)
        referral_consent_withdraw(
            health_center=referral.health_center, referral_id=referral.id, now=erasure.at
        )
        return
    with transaction.atomic():
        locked = (
            Referral.objects.select_for_update()
            .filter(id=erasure.referral_id, purged_at__isnull=True)
            .first()
        )
        if locked is None:  # erased meanwhile
            return
        _erase(locked, now=erasure.at)
        referral_event(
            locked, "referral.purged", {"retention_days": settings.TISSER_RETENTION_DAYS}
        )
