"""The closed loop: placements, their transitions, re-matching, reminders and expiry.

A referral is offered to each matched activity as a **placement** (≈ FHIR Task). Its
status moves along `TRANSITIONS`, which are the FHIR Task transitions the SDOH Clinical
Care guide allows. The health centre creates placements (through matching) and cancels
them; the organisation answers (accept, reject with a reason) and records what happened
(start, hold, complete, fail).

Locks: every write takes the referral's row lock first, then the placement's, so two
organisations answering at once, or an organisation accepting while the centre cancels,
queue up and the second sees the first's result (a 409 if its move is no longer legal).
Every change writes its event in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import HealthCenter
from community_catalog.models import Organization
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from events.outbox import EventDraft, event_mark_processed, event_record, events_record
from referrals.models import Match, Placement, Referral

if TYPE_CHECKING:
    from referrals.schemas import WellbeingIn

Status = Placement.Status
Reason = Placement.Reason

# status → the statuses it may move to (FHIR Task, as constrained by SDOH Clinical Care).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.REQUESTED: (Status.ACCEPTED, Status.REJECTED, Status.CANCELLED),
    Status.ACCEPTED: (
        Status.IN_PROGRESS,
        Status.ON_HOLD,
        Status.COMPLETED,
        Status.FAILED,
        Status.CANCELLED,
    ),
    Status.IN_PROGRESS: (Status.COMPLETED, Status.FAILED, Status.CANCELLED),
    Status.ON_HOLD: (Status.IN_PROGRESS, Status.CANCELLED, Status.COMPLETED, Status.FAILED),
}
# What an organisation may do, and the status each action sets. The centre only cancels.
ORGANIZATION_ACTIONS: dict[str, str] = {
    "accept": Status.ACCEPTED,
    "reject": Status.REJECTED,
    "start": Status.IN_PROGRESS,
    "hold": Status.ON_HOLD,
    "complete": Status.COMPLETED,
    "fail": Status.FAILED,
}
CENTER_ACTIONS: dict[str, str] = {"cancel": Status.CANCELLED}
# Reasons an organisation gives when it rejects.
REJECTION_REASONS = (
    Reason.NO_CAPACITY,
    Reason.NOT_ELIGIBLE,
    Reason.COULD_NOT_CONTACT,
    Reason.NO_LONGER_INTERESTED,
    Reason.REFERRED_ELSEWHERE,
)
OPEN = (Status.REQUESTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD)
# The person took part, or is taking part: no re-matching any more.
ENGAGED = (Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD, Status.COMPLETED, Status.FAILED)
OUTCOMES = (Status.COMPLETED, Status.FAILED)
# Offers that ended without the person being taken on (declined, cancelled by the centre,
# expired): the organisation no longer needs to know who they were, and sees only the
# code and the dates (`person_shown_to_organization`).
ENDED_WITHOUT_PERSON = (Status.REJECTED, Status.CANCELLED)


def person_shown_to_organization(placement: Placement) -> bool:
    return placement.status not in ENDED_WITHOUT_PERSON


def allowed_actions(status: str, actions: dict[str, str]) -> list[str]:
    """The actions (of `actions`) legal from `status`, in a stable order."""
    targets = TRANSITIONS.get(status, ())
    return [action for action, target in actions.items() if target in targets]


# --- Events --------------------------------------------------------------------------


def stage_set(referral: Referral, stage: str, payload: dict[str, Any] | None = None) -> None:
    referral.stage = stage
    referral.save(update_fields=["stage", "updated_at"])
    referral_event(referral, f"referral.{stage}", payload)


def referral_event(referral: Referral, type: str, payload: dict[str, Any] | None = None) -> None:
    """An event about the referral: only its health centre sees it."""
    event_record(**referral_event_draft(referral, type, payload).__dict__)


def referral_event_draft(
    referral: Referral, type: str, payload: dict[str, Any] | None = None
) -> EventDraft:
    return EventDraft(
        type=type,
        aggregate_type="referral",
        aggregate_id=referral.id,
        payload={"referral_id": str(referral.id), "code": referral.code, **(payload or {})},
        health_center_id=referral.health_center_id,
    )


def placement_event(
    placement: Placement, referral: Referral, type: str, payload: dict[str, Any] | None = None
) -> None:
    """An event about a placement: the health centre and the organisation see it. The
    payload carries nothing about the person."""
    draft = placement_event_draft(placement, referral, type, payload)
    event_record(**draft.__dict__)


def placement_event_draft(
    placement: Placement,
    referral: Referral,
    type: str,
    payload: dict[str, Any] | None = None,
    *,
    service_id: uuid.UUID | None = None,
) -> EventDraft:
    """`service_id`: the placement's service, when the caller knows it without loading
    the place (matching does)."""
    match = placement.match
    if service_id is None:
        service_id = match.service_at_location.service_id
    return EventDraft(
        type=type,
        aggregate_type="placement",
        aggregate_id=placement.id,
        payload={
            "placement_id": str(placement.id),
            "referral_id": str(referral.id),
            "referral_code": referral.code,
            "organization_id": str(placement.organization_id),
            "service_id": str(service_id),
            "service_at_location_id": str(match.service_at_location_id),
            "status": placement.status,
            "status_reason": placement.status_reason or None,
            **(payload or {}),
        },
        health_center_id=referral.health_center_id,
        organization_id=placement.organization_id,
    )


# --- Offering ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposedMatch:
    """An activity at a place to offer, by id: matching read them from its index."""

    service_at_location_id: uuid.UUID
    service_id: uuid.UUID
    organization_id: uuid.UUID
    score: float
    distance_km: float
    reasons: list[dict[str, str]]
    parts: dict[str, float] = field(default_factory=dict)


def matches_offer(
    referral: Referral,
    proposals: list[ProposedMatch],
    *,
    first: bool = False,
    before: list[EventDraft] | None = None,
    then: list[EventDraft] | None = None,
) -> list[Placement]:
    """Record `proposals` as the referral's next matches, each offered to its organisation
    as a `requested` placement. Call with the referral locked. One INSERT each for the
    matches, the placements and their events (with `before` and `then`, events to record
    before and after them), whatever their number. `first`: the referral has no match
    yet."""
    if not proposals:
        if before or then:
            events_record((before or []) + (then or []))
        return []
    start = 1 if first else (referral.matches.aggregate(top=Max("rank"))["top"] or 0) + 1
    matches = Match.objects.bulk_create(
        Match(
            referral=referral,
            service_at_location_id=proposal.service_at_location_id,
            rank=rank,
            score=proposal.score,
            distance_km=proposal.distance_km,
            reasons=proposal.reasons,
            score_parts={
                "parts": proposal.parts,
                "weights": {k: settings.TISSER_MATCH_WEIGHTS[k] for k in proposal.parts},
            },
        )
        for rank, proposal in enumerate(proposals, start=start)
    )
    placements = Placement.objects.bulk_create(
        Placement(referral=referral, match=match, organization_id=proposal.organization_id)
        for match, proposal in zip(matches, proposals, strict=True)
    )
    events_record(
        (before or [])
        + [
            placement_event_draft(p, referral, "placement.requested", service_id=offered.service_id)
            for p, offered in zip(placements, proposals, strict=True)
        ]
        + (then or [])
    )
    return placements


def services_offered(referral: Referral) -> set[uuid.UUID]:
    """The services already proposed for this referral: never proposed twice."""
    return set(referral.matches.values_list("service_at_location__service_id", flat=True))


def rematch_wanted(referral: Referral) -> int:
    """How many new activities to propose: none once the person has taken one up (or
    the referral is closed), else enough to be back to the usual number on offer."""
    if referral.status != Referral.Status.ACTIVE:
        return 0
    placements = list(referral.placements.values_list("status", flat=True))
    if any(status in ENGAGED for status in placements):
        return 0
    open_count = sum(1 for status in placements if status in OPEN)
    return max(0, settings.TISSER_MATCHES_PER_REFERRAL - open_count)


def referral_rematch_record(
    *,
    referral_id: uuid.UUID,
    event_id: int | None,
    proposals: list[ProposedMatch],
    explanation: dict[str, Any] | None = None,
) -> list[Placement]:
    """Offer the next best activities in place of those that will not take the person.

    `proposals` are ranked candidates computed outside the lock; under it, those already
    offered are dropped and only as many as are wanted are kept, so two rejections
    re-matched at once do not over-offer. With something new, the referral goes back to
    `matched` (a new slip is printed); with nothing new and nothing left open, it ends
    `unmatched`, which tells the clinician.
    """
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(id=referral_id).first()
        if referral is None or referral.stage in (
            Referral.Stage.SUBMITTED,
            Referral.Stage.MATCHING,
        ):
            # First matching not done yet: it will offer what there is.
            if event_id is not None:
                event_mark_processed(event_id)
            return []
        wanted = rematch_wanted(referral)
        offered = services_offered(referral)
        fresh = [p for p in proposals if p.service_id not in offered]
        placements = matches_offer(referral, _one_per_service(fresh)[:wanted]) if wanted else []
        if placements:
            referral.unmatched_explanation = {}
            referral.save(update_fields=["unmatched_explanation"])
            stage_set(referral, Referral.Stage.MATCHED, {"rematched": len(placements)})
        elif (
            event_id is not None  # an offer just ended: the printed slip is out of date
            and wanted
            and not referral.placements.filter(status__in=OPEN).exists()
        ):
            referral.unmatched_explanation = explanation or {}
            referral.save(update_fields=["unmatched_explanation"])
            stage_set(referral, Referral.Stage.UNMATCHED, {"rematched": 0})
        if event_id is not None:
            event_mark_processed(event_id)
    return placements


def _one_per_service(proposals: list[ProposedMatch]) -> list[ProposedMatch]:
    seen: set[uuid.UUID] = set()
    kept = []
    for proposal in proposals:
        service_id = proposal.service_id
        if service_id not in seen:
            seen.add(service_id)
            kept.append(proposal)
    return kept


# --- Transitions ---------------------------------------------------------------------


def placement_locked(placement_filter: Q) -> tuple[Referral, Placement]:
    """The placement and its referral, locked in that order (see the module docstring)."""
    found = Placement.objects.filter(placement_filter).values_list("referral_id", flat=True)
    referral_id = found.first()
    if referral_id is None:
        raise NotFound("No placement with this id.")
    referral = Referral.objects.select_for_update().get(id=referral_id)
    placement = (
        # `of=self`: lock the placement only, not the match and place joined for its
        # event (PostgreSQL would lock every joined row).
        Placement.objects.select_for_update(of=("self",))
        .select_related("match__service_at_location")
        .get(placement_filter)
    )
    return referral, placement


def placement_move(
    referral: Referral,
    placement: Placement,
    target: str,
    *,
    actions: dict[str, str],
    reason: str = "",
    note: str = "",
    event_type: str | None = None,
    now: datetime | None = None,
) -> None:
    if target not in TRANSITIONS.get(placement.status, ()):
        allowed = allowed_actions(placement.status, actions)
        raise Conflict(
            f"A placement that is '{placement.status}' cannot become '{target}'. "
            + (
                f"Allowed now: {', '.join(allowed)}."
                if allowed
                else "It is closed: nothing more can change."
            ),
            code="illegal_transition",
            extra={"status": placement.status, "allowed": allowed},
        )
    placement.status = target
    placement.status_reason = reason
    placement.note = note
    placement.updated_at = now or timezone.now()
    placement.save(update_fields=["status", "status_reason", "note", "updated_at"])
    placement_event(placement, referral, event_type or f"placement.{target}")


def placement_act(
    *,
    organization: Organization,
    placement_id: uuid.UUID,
    action: str,
    reason: str = "",
    note: str = "",
    wellbeing: WellbeingIn | None = None,
) -> Placement:
    """An organisation answers a placement or records what happened; with `complete`,
    it may pass on the person's wellbeing answers. Another organisation's placement is
    not found, whatever the body says."""
    target = ORGANIZATION_ACTIONS[action]
    if wellbeing is not None and action != "complete":
        raise InvalidInput(
            "Wellbeing answers go with complete only.",
            fields=[FieldProblem("wellbeing", "only allowed with complete")],
        )
    with transaction.atomic():
        referral, placement = placement_locked(Q(id=placement_id, organization=organization))
        if action == "reject" and reason not in REJECTION_REASONS:
            raise InvalidInput(
                "A rejection needs a reason.",
                fields=[FieldProblem("reason", f"one of: {', '.join(REJECTION_REASONS)}")],
            )
        if action != "reject" and reason:
            raise InvalidInput(
                "Only a rejection takes a reason; use note for a comment.",
                fields=[FieldProblem("reason", "only allowed with reject")],
            )
        placement_move(
            referral,
            placement,
            target,
            actions=ORGANIZATION_ACTIONS,
            reason=reason if action == "reject" else "",
            note=note,
        )
        if wellbeing is not None:
            from referrals.wellbeing import wellbeing_record

            wellbeing_record(
                referral=referral,
                scores=wellbeing,
                timepoint="follow_up",
                recorded_by="organization",
                placement=placement,
            )
        referral_close_if_done(referral)
    return placement


def placement_cancel(
    *,
    health_center: HealthCenter,
    referral_id: uuid.UUID,
    placement_id: uuid.UUID,
    reason: str = "",
) -> Placement:
    """The centre withdraws one offer (the person chose another activity, say). The
    centre's reason is kept for the centre; the organisation sees only that the centre
    cancelled."""
    with transaction.atomic():
        referral, placement = placement_locked(
            Q(id=placement_id, referral_id=referral_id, referral__health_center=health_center)
        )
        placement_move(
            referral,
            placement,
            Status.CANCELLED,
            actions=CENTER_ACTIONS,
            reason=Reason.CANCELLED_BY_CENTER,
        )
        placement.center_note = reason
        placement.save(update_fields=["center_note"])
        referral_close_if_done(referral)
    return placement


def open_placements_cancel(referral: Referral, *, now: datetime) -> None:
    """Cancel every open placement of a referral locked by the caller; the organisations
    see `cancelled-by-center`, whatever the centre's reason."""
    placements = (
        Placement.objects.select_for_update(of=("self",))
        .select_related("match__service_at_location")
        .filter(referral=referral, status__in=OPEN)
    )
    for placement in placements:
        placement_move(
            referral,
            placement,
            Status.CANCELLED,
            actions=CENTER_ACTIONS,
            reason=Reason.CANCELLED_BY_CENTER,
            now=now,
        )


def referral_cancel(
    *, health_center: HealthCenter, referral_id: uuid.UUID, reason: str = ""
) -> Referral:
    """The centre cancels the referral: every open placement is cancelled with it."""
    with transaction.atomic():
        referral = (
            Referral.objects.select_for_update()
            .filter(id=referral_id, health_center=health_center)
            .first()
        )
        if referral is None:
            raise NotFound("No referral with this id.")
        if referral.status != Referral.Status.ACTIVE:
            raise Conflict(
                f"The referral is already {referral.get_status_display()}.",
                code="referral_closed",
                extra={"status": referral.status},
            )
        now = timezone.now()
        open_placements_cancel(referral, now=now)
        referral.status = Referral.Status.REVOKED
        referral.closed_at = now
        referral.cancel_reason = reason
        referral.save(update_fields=["status", "closed_at", "cancel_reason", "updated_at"])
        # The reason is the centre's own words: kept on the referral (erased with it),
        # never in the event, which the feed and webhooks carry elsewhere.
        referral_event(referral, "referral.cancelled")
    return referral


def referral_close_if_done(referral: Referral) -> None:
    """A referral whose offers have all ended, at least one with an outcome, is complete."""
    if referral.status != Referral.Status.ACTIVE:
        return
    statuses = set(referral.placements.values_list("status", flat=True))
    if statuses & set(OPEN) or not statuses & set(OUTCOMES):
        return
    referral.status = Referral.Status.COMPLETED
    referral.closed_at = timezone.now()
    referral.save(update_fields=["status", "closed_at", "updated_at"])
    outcomes = sorted(statuses & set(OUTCOMES))
    referral_event(referral, "referral.completed", {"outcomes": outcomes})
