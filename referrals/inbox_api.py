"""The organisation's inbox: the placements addressed to it, and its answers.

An organisation sees only its own placements, and of each person only what it needs to
welcome them: first name, language, needs, accessibility needs, whether not to contact
them, the note the clinician wrote for it, and the code on their slip. Never the
clinical reason, the year of birth, the patient reference or where they live. Once an
offer ends without the person being taken on (declined, cancelled, expired), only the
code and the dates remain.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from accounts.audit import audit_ids
from accounts.auth import OrganizationKey, request_organization
from core.bodies import ACTION_ERRORS, body_doc, optional_body
from core.schemas import (
    OPTIONAL_BODY_REFUSALS,
    ErrorOut,
    PageQuery,
    openapi_merged,
    openapi_refusals,
    paged,
    refusal,
)
from referrals import examples, selectors
from referrals.lifecycle import (
    ORGANIZATION_ACTIONS,
    REJECTION_REASONS,
    allowed_actions,
    person_shown_to_organization,
    placement_act,
)
from referrals.models import Placement
from referrals.schemas import (
    InboxActivityOut,
    InboxPageOut,
    InboxPersonOut,
    InboxPlacementOut,
    PlacementActionIn,
    PlacementStatus,
)

router = Router(auth=OrganizationKey(), tags=["inbox"])


def inbox_placement_out(placement: Placement) -> InboxPlacementOut:
    referral = placement.referral
    sal = placement.match.service_at_location
    needs = sorted(referral.needs.all(), key=lambda t: t.code)
    waiting = placement.status == Placement.Status.REQUESTED
    shown = person_shown_to_organization(placement)
    return InboxPlacementOut(
        id=placement.id,
        status=placement.status,  # type: ignore[arg-type]
        status_reason=placement.status_reason or None,  # type: ignore[arg-type]
        note=placement.note if shown else "",
        referral_code=referral.code,
        health_center=referral.health_center.name,
        health_center_phone=referral.health_center.phone,
        person=InboxPersonOut(
            first_name=referral.first_name,
            preferred_language=referral.preferred_language,
            needs=[t.code for t in needs],
            needs_labels=[t.name for t in needs],
            accessibility_needs=referral.accessibility_needs,
            do_not_contact=referral.do_not_contact,
            note_for_organization=referral.note_for_organization,
        )
        if shown
        else None,
        activity=InboxActivityOut(
            service_id=sal.service_id,
            service_at_location_id=sal.id,
            name=sal.service.name,
            place=sal.location.name,
        ),
        chosen_session=placement.chosen_session if shown else None,
        patient_report=(placement.patient_report or None) if shown else None,  # type: ignore[arg-type]
        requested_at=placement.requested_at,
        updated_at=placement.updated_at,
        respond_by=placement.requested_at + timedelta(days=settings.TISSER_PLACEMENT_EXPIRY_DAYS)
        if waiting
        else None,
        allowed_actions=allowed_actions(placement.status, ORGANIZATION_ACTIONS),  # type: ignore[arg-type]
    )


class InboxFilter(PageQuery):
    status: PlacementStatus | None = Field(
        default=None, description="Only the placements in this status, e.g. `requested`."
    )


@router.get(
    "/placements",
    response={200: InboxPageOut, 401: ErrorOut, 422: ErrorOut},
    summary="The placements addressed to your organisation, newest first",
)
def inbox_list(request: HttpRequest, filters: Query[InboxFilter]) -> InboxPageOut:
    placements = selectors.inbox(request_organization(request))
    if filters.status:
        placements = placements.filter(status=filters.status)
    page = paged(placements, limit=filters.limit, offset=filters.offset, item=lambda p: p)
    audit_ids(request, (p.referral_id for p in page["items"]))
    return InboxPageOut(**{**page, "items": [inbox_placement_out(p) for p in page["items"]]})


@router.get(
    "/placements/{placement_id}",
    response={200: InboxPlacementOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="One placement",
    openapi_extra=openapi_refusals({404: examples.INBOX_PLACEMENT_NOT_FOUND}),
)
def inbox_read(request: HttpRequest, placement_id: uuid.UUID) -> InboxPlacementOut:
    return inbox_placement_out(selectors.inbox_get(request_organization(request), placement_id))


def _act(request: HttpRequest, placement_id: uuid.UUID, action: str) -> InboxPlacementOut:
    organization = request_organization(request)
    # Another organisation's placement is a 404 before its body is even read.
    selectors.inbox_get(organization, placement_id)
    body = optional_body(request, PlacementActionIn)
    placement_act(
        organization=organization,
        placement_id=placement_id,
        action=action,
        reason=body.reason or "",
        note=body.note,
        wellbeing=body.wellbeing,
    )
    return inbox_placement_out(selectors.inbox_get(organization, placement_id))


_ACTION_HELP = {
    "accept": "You can welcome the person (from `requested`).",
    "reject": "You cannot: the body must give `reason` (no-capacity, not-eligible, "
    "could-not-contact, no-longer-interested, referred-elsewhere). Tisser then offers "
    "the person the next best activity.",
    "start": "The person has started (from `accepted` or `on-hold`).",
    "hold": "Paused (from `accepted`).",
    "complete": "The person took part to the end.",
    "fail": "It did not work out (the person stopped coming, or never came).",
}


# The placement's status in each action's example of an illegal move: the most common
# one (an offer the centre withdrew, or that expired, before the answer; an action of a
# placement not yet accepted).
_ILLEGAL_FROM = {
    "accept": "cancelled",
    "reject": "cancelled",
    "start": "requested",
    "hold": "requested",
    "complete": "requested",
    "fail": "requested",
}


def _action_refusals(action: str) -> dict[int, dict[str, object]]:
    """What this action may refuse, with the message `referrals.lifecycle` gives."""
    status = _ILLEGAL_FROM[action]
    target = ORGANIZATION_ACTIONS[action]
    allowed = allowed_actions(status, ORGANIZATION_ACTIONS)
    moved = f"A placement that is '{status}' cannot become '{target}'. " + (
        f"Allowed now: {', '.join(allowed)}."
        if allowed
        else "It is closed: nothing more can change."
    )
    invalid = (
        refusal(
            "A rejection without a `reason` (or with one not in the list), or a body that "
            "does not fit `PlacementActionIn`.",
            "validation_error",
            "A rejection needs a reason.",
            [("reason", f"one of: {', '.join(REJECTION_REASONS)}")],
        )
        if action == "reject"
        else refusal(
            "A `reason` (only a rejection takes one), `wellbeing` with another action than "
            "`complete`, or a body that does not fit `PlacementActionIn`.",
            "validation_error",
            "Only a rejection takes a reason; use note for a comment.",
            [("reason", "only allowed with reject")],
        )
    )
    return {
        **OPTIONAL_BODY_REFUSALS,
        404: examples.INBOX_PLACEMENT_NOT_FOUND,
        409: refusal(
            f"The placement cannot be moved to `{target}` from where it is (the centre "
            "withdrew it, it expired, or it is not at that step yet): `status` says where "
            "it is and `allowed` what it may do now.",
            "illegal_transition",
            moved,
            status=status,
            allowed=allowed,
        ),
        422: invalid,
    }


def _action_route(action: str) -> None:
    @router.post(
        f"/placements/{{placement_id}}/{action}",
        response={200: InboxPlacementOut, **ACTION_ERRORS},
        summary=f"{action.capitalize()} a placement",
        description=_ACTION_HELP[action]
        + ' Optional body: `{"note": "…"}`. An illegal move is 409 with `allowed`.',
        openapi_extra=openapi_merged(
            body_doc(PlacementActionIn), openapi_refusals(_action_refusals(action))
        ),
        operation_id=f"inbox_placement_{action}",
    )
    def view(request: HttpRequest, placement_id: uuid.UUID) -> InboxPlacementOut:
        return _act(request, placement_id, action)


for _action in ORGANIZATION_ACTIONS:
    _action_route(_action)
