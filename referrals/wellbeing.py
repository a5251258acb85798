"""Wellbeing measures: the four ONS questions, asked when a referral is filed and again
when a placement completes, for health centres that chose to record them.

The scores are the person's and their health centre's: the event that records them
names the centre only and carries no score, organisations never read them back, and
reports show them only as the mean change of five people or more.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from core.errors import Conflict, FieldProblem, Gone, InvalidInput, NotFound
from referrals.lifecycle import referral_event
from referrals.models import WELLBEING_QUESTIONS, Placement, Referral, WellbeingMeasure
from referrals.schemas import WellbeingIn

Timepoint = WellbeingMeasure.Timepoint


def wellbeing_allowed(referral: Referral, field: str = "wellbeing") -> None:
    """Refuse scores for a centre that does not record wellbeing, or an erased person."""
    if not referral.health_center.records_wellbeing:
        raise InvalidInput(
            "This health centre does not record wellbeing; an operator can turn it on.",
            fields=[FieldProblem(field, "this health centre does not record wellbeing")],
        )
    if referral.purged_at is not None:
        raise Gone("This person's data has been erased.", code="personal_data_erased")


def wellbeing_record(
    *,
    referral: Referral,
    scores: WellbeingIn,
    timepoint: str,
    recorded_by: str,
    placement: Placement | None = None,
    field: str = "wellbeing",
) -> WellbeingMeasure:
    """Store one set of answers and its event, in the caller's transaction. A follow-up
    belongs to a completed placement of the referral; each timepoint is recorded once
    (a second is refused with 409)."""
    wellbeing_allowed(referral, field)
    if timepoint == Timepoint.FOLLOW_UP:
        if placement is None or placement.referral_id != referral.id:
            raise InvalidInput(
                "A follow-up belongs to one of the referral's placements.",
                fields=[FieldProblem("placement_id", "one of this referral's placements")],
            )
        if placement.status != Placement.Status.COMPLETED:
            raise Conflict(
                "A follow-up is recorded once the placement has completed.",
                code="placement_not_completed",
                fields=[FieldProblem("placement_id", f"status is {placement.status}")],
            )
    elif placement is not None:
        raise InvalidInput(
            "A baseline belongs to the referral, not to a placement.",
            fields=[FieldProblem("placement_id", "only with follow_up")],
        )
    try:
        with transaction.atomic():
            measure = WellbeingMeasure.objects.create(
                referral=referral,
                placement=placement,
                timepoint=timepoint,
                recorded_by=recorded_by,
                **{q: getattr(scores, q) for q in WELLBEING_QUESTIONS},
            )
    except IntegrityError as exc:
        raise Conflict(
            "These answers were already recorded.",
            code="wellbeing_already_recorded",
            fields=[FieldProblem("timepoint", f"{timepoint} already recorded")],
        ) from exc
    referral_event(
        referral,
        "referral.wellbeing_recorded",
        {"timepoint": timepoint, "placement_id": str(placement.id) if placement else None},
    )
    return measure


def wellbeing_record_for_center(
    *, referral: Referral, scores: WellbeingIn, timepoint: str, placement_id: uuid.UUID | None
) -> WellbeingMeasure:
    """The health centre's own recording (`POST /referrals/{id}/wellbeing`)."""
    placement = None
    if placement_id is not None:
        placement = Placement.objects.filter(id=placement_id, referral=referral).first()
        if placement is None:
            raise NotFound("No placement with this id for this referral.")
    return wellbeing_record(
        referral=referral,
        scores=scores,
        timepoint=timepoint,
        recorded_by="health_center",
        placement=placement,
    )
