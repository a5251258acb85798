"""What happens to placements with time and with the catalogue: reminders and expiry of
offers left unanswered (the relay's periodic check), offers withdrawn when a place fills
up, and referrals waiting near a place that opens."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from referrals.models import Match, Placement, Referral

if TYPE_CHECKING:
    pass
from referrals.lifecycle import (
    ENGAGED,
    OPEN,
    placement_event,
    placement_locked,
    placement_move,
    referral_close_if_done,
)

Status = Placement.Status
Reason = Placement.Reason


# --- Time: reminders and expiry ------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    reminded: int
    expired: int


def placements_check(*, now: datetime | None = None) -> CheckResult:
    """Remind organisations of placements unanswered for TISSER_PLACEMENT_REMINDER_DAYS,
    and expire those unanswered for TISSER_PLACEMENT_EXPIRY_DAYS (the next best activity
    is then offered). `now` is the clock; tests pass their own.

    Safe to run from several relays at once: a reminder is claimed with a conditional
    UPDATE, an expiry goes through the locked transition (a second one finds the
    placement no longer `requested` and skips it).
    """
    now = now or timezone.now()
    remind_before = now - timedelta(days=settings.TISSER_PLACEMENT_REMINDER_DAYS)
    expire_before = now - timedelta(days=settings.TISSER_PLACEMENT_EXPIRY_DAYS)
    # An organisation always gets its reminder that long before the expiry, even when
    # the check did not run for a while (the relay was down).
    notice = timedelta(
        days=settings.TISSER_PLACEMENT_EXPIRY_DAYS - settings.TISSER_PLACEMENT_REMINDER_DAYS
    )
    waiting = Placement.objects.filter(status=Status.REQUESTED)

    reminded = 0
    due = waiting.filter(requested_at__lte=remind_before, reminded_at__isnull=True)
    for placement_id in list(due.values_list("id", flat=True)[:500]):
        with transaction.atomic():
            claimed = Placement.objects.filter(
                id=placement_id, status=Status.REQUESTED, reminded_at__isnull=True
            ).update(reminded_at=now)
            if claimed:
                placement = Placement.objects.select_related(
                    "referral", "match__service_at_location"
                ).get(id=placement_id)
                expires = max(
                    placement.requested_at + timedelta(days=settings.TISSER_PLACEMENT_EXPIRY_DAYS),
                    now + notice,
                )
                placement_event(
                    placement,
                    placement.referral,
                    "placement.reminder",
                    {"expires_at": expires.isoformat()},
                )
                reminded += 1

    expiring = waiting.filter(
        requested_at__lte=expire_before, reminded_at__lte=now - notice
    ).values_list("id", flat=True)
    expired = _system_move(
        list(expiring[:500]),
        Status.CANCELLED,
        reason=Reason.EXPIRED,
        event_type="placement.expired",
        now=now,
    )
    return CheckResult(reminded=reminded, expired=expired)


# --- Catalogue changes ---------------------------------------------------------------


def capacity_full_reject(*, service_at_location_id: uuid.UUID, now: datetime | None = None) -> int:
    """A place that became full rejects, on its organisation's behalf, the placements
    still waiting there (reason `no-capacity`); each rejection re-matches its referral."""
    waiting = Placement.objects.filter(
        match__service_at_location_id=service_at_location_id, status=Status.REQUESTED
    ).values_list("id", flat=True)
    return _system_move(
        list(waiting),
        Status.REJECTED,
        reason=Reason.NO_CAPACITY,
        note="The place became full.",
        now=now,
    )


def _system_move(
    placement_ids: list[uuid.UUID],
    target: str,
    *,
    reason: str,
    note: str = "",
    event_type: str | None = None,
    now: datetime | None = None,
) -> int:
    """Tisser moves placements still waiting for an answer (expiry, a full place), one
    transaction each. Returns how many moved; one answered meanwhile is left alone."""
    moved = 0
    for placement_id in placement_ids:
        with transaction.atomic():
            referral, placement = placement_locked(Q(id=placement_id))
            if placement.status != Status.REQUESTED:
                continue
            placement_move(
                referral,
                placement,
                target,
                actions={},
                reason=reason,
                note=note,
                event_type=event_type,
                now=now,
            )
            referral_close_if_done(referral)
            moved += 1
    return moved


def referrals_waiting_near(
    *, latitude: float, longitude: float, taxonomy_codes: list[str], now: datetime | None = None
) -> list[uuid.UUID]:
    """Active referrals with nothing on offer, filed recently, near a place and needing
    what it offers: those a place that opens again can help."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.TISSER_REMATCH_WINDOW_DAYS)
    # 100 km (the largest travel distance accepted) is under 1° of latitude, and under
    # 1/cos(latitude) degrees of longitude.
    box = 1.0 / max(0.05, abs(math.cos(math.radians(latitude))))
    candidates = (
        Referral.objects.filter(
            status=Referral.Status.ACTIVE,
            stage__in=(Referral.Stage.UNMATCHED, Referral.Stage.SLIP_READY),
            created_at__gte=since,
            latitude__range=(latitude - 1.0, latitude + 1.0),
            longitude__range=(longitude - box, longitude + box),
            needs__code__in=taxonomy_codes,
        )
        .exclude(placements__status__in=OPEN + ENGAGED)
        # Referrals matched before placements existed have nothing to compare with.
        .exclude(Exists(Match.objects.filter(referral=OuterRef("pk"), placement__isnull=True)))
        .distinct()
        .values_list("id", flat=True)
    )
    return list(candidates[:200])
