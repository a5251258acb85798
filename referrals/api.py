"""The referrals endpoints, for health centres."""

from __future__ import annotations

import json
import re
import uuid
from typing import TypeVar

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from pydantic import BaseModel, Field

from accounts.audit import audit_ids
from accounts.auth import HealthCenterKey, request_center
from community_catalog.travel import travel
from core.bodies import ACTION_ERRORS, body_doc, optional_body
from core.errors import (
    FieldProblem,
    InvalidInput,
)
from core.languages import slip_languages
from core.schemas import (
    OPTIONAL_BODY_REFUSALS,
    ErrorOut,
    PageQuery,
    openapi_examples,
    openapi_merged,
    openapi_refusals,
    paged,
)
from events.schemas import EventListOut, EventOut
from matching.reasons import reason_text
from referrals import examples, selectors, services
from referrals.fhir import referral_bundle
from referrals.lifecycle import placement_cancel, referral_cancel
from referrals.models import Placement, Referral
from referrals.retention import referral_consent_withdraw
from referrals.schemas import (
    CancelIn,
    LinksOut,
    MatchesOut,
    MatchExplainedOut,
    MatchOut,
    PersonContactOut,
    PlacementOut,
    ReasonOut,
    ReferralAcceptedOut,
    ReferralIn,
    ReferralListOut,
    ReferralOut,
    ScorePartOut,
    TravelOut,
    UnmatchedOut,
    WellbeingOut,
    WellbeingRecordIn,
)
from referrals.wellbeing import wellbeing_record_for_center

BodyT = TypeVar("BodyT", bound=BaseModel)

router = Router(auth=HealthCenterKey(), tags=["referrals"])


def _links(request: HttpRequest, referral: Referral) -> LinksOut:
    base = f"/api/v1/referrals/{referral.id}"
    return LinksOut(
        self=base,
        slip=f"{base}/slip.pdf",
        slip_html=f"{base}/slip.html",
        events=f"{base}/events",
        fhir=f"{base}/fhir",
        cancel=f"{base}/cancel",
    )


def referral_out(request: HttpRequest, referral: Referral) -> ReferralOut:
    language = referral.preferred_language if referral.preferred_language == "en" else "fr"
    return ReferralOut(
        id=referral.id,
        code=referral.code,
        stage=referral.stage,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
        preferred_language=referral.preferred_language,
        needs=sorted(t.code for t in referral.needs.all()),
        postcode=referral.postcode,
        max_distance_km=referral.max_distance_km,
        availability=referral.availability,
        accessibility_needs=referral.accessibility_needs,
        free_only=referral.free_only,
        large_print=referral.large_print,
        do_not_contact=referral.do_not_contact,
        preferred_contact=referral.preferred_contact or None,
        matches=[
            MatchOut(
                rank=m.rank,
                service_id=m.service_at_location.service_id,
                service_at_location_id=m.service_at_location_id,
                activity=m.service_at_location.service.name,
                organization=m.service_at_location.service.organization.name,
                # A confidential place (a shelter, a home) is not named to other parties.
                place=""
                if m.service_at_location.location.is_confidential
                else m.service_at_location.location.name,
                distance_km=float(max(1, round(m.distance_km)))
                if m.service_at_location.location.is_confidential
                else round(m.distance_km, 2),
                score=m.score,
                reasons=[reason_text(r, language) for r in m.reasons],
            )
            for m in referral.matches.all()
        ],
        unmatched_explanation=UnmatchedOut.of(referral.unmatched_explanation),
        status=referral.status,  # type: ignore[arg-type]
        closed_at=referral.closed_at,
        consent_withdrawn_at=referral.consent_withdrawn_at,
        personal_data_erased_at=referral.purged_at,
        cancel_reason=referral.cancel_reason,
        placements=[PlacementOut.model_validate(p) for p in referral.placements.all()],
        slip_languages=list(slip_languages(referral.preferred_language)),
        contact=PersonContactOut.of(getattr(referral, "contact", None)),
        slip_ready=selectors.referral_has_slip(referral),
        slip_version=referral.slip.version if selectors.referral_has_slip(referral) else None,
        links=_links(request, referral),
    )


_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@router.post(
    "",
    response={202: ReferralAcceptedOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="File a referral",
    description=(
        "Accepts the referral and returns at once (202). Matching and the slip follow in "
        "the background: follow `links.self` until `stage` is `slip_ready`.\n\n"
        "Send an `Idempotency-Key` header (up to 200 visible ASCII characters, e.g. a "
        "UUID) to retry safely: the same key with the same body returns the first answer "
        "(with `Idempotent-Replayed: true`) and files nothing; the same key with another "
        "body is refused with 409."
    ),
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "description": "Makes retries safe: the same key with the same body files "
                "nothing more and answers as the first time; with another body, 409.",
                "schema": {"type": "string", "pattern": "^[!-~]{1,200}$"},
                "example": "5b0e4d0c-3f7a-4b8e-9a51-2f9e0c1d7a44",
            }
        ],
        "responses": {
            202: {
                "headers": {
                    "Idempotent-Replayed": {
                        "description": "`true` when this is the answer to an earlier request "
                        "with the same `Idempotency-Key`: nothing was filed this time.",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                }
            },
            409: examples.IDEMPOTENCY_KEY_REUSED,
            422: examples.REFERRAL_INVALID,
        },
    },
)
def referral_create(
    request: HttpRequest, payload: ReferralIn, response: HttpResponse
) -> Status[ReferralAcceptedOut]:
    center = request_center(request)

    def accepted(referral: Referral) -> ReferralAcceptedOut:
        return ReferralAcceptedOut(
            id=referral.id,
            code=referral.code,
            stage=referral.stage,
            slip_languages=list(slip_languages(referral.preferred_language)),
            links=_links(request, referral),
        )

    key = request.headers.get("Idempotency-Key")
    if key is None:
        return Status(202, accepted(services.referral_submit(health_center=center, data=payload)))
    if not _IDEMPOTENCY_KEY.match(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 200 visible ASCII characters.",
            fields=[FieldProblem("Idempotency-Key", "1 to 200 visible ASCII characters")],
        )
    answer = services.referral_submit_once(
        health_center=center,
        data=payload,
        key=key,
        body=request.body,
        respond=lambda referral: accepted(referral).model_dump(mode="json"),
    )
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(answer.status, ReferralAcceptedOut.model_validate(answer.body))


class ReferralFilter(PageQuery):
    stage: Referral.Stage | None = Field(
        default=None,
        description="Only the referrals at this stage: `submitted`, `matching`, `matched`, "
        "`unmatched` or `slip_ready`.",
    )


@router.get(
    "",
    response={200: ReferralListOut, 401: ErrorOut, 422: ErrorOut},
    summary="List the centre's referrals, newest first",
)
def referral_list(request: HttpRequest, filters: Query[ReferralFilter]) -> ReferralListOut:
    referrals = selectors.referral_list(health_center=request_center(request))
    if filters.stage:
        referrals = referrals.filter(stage=filters.stage)
    page = ReferralListOut(
        **paged(
            referrals,
            limit=filters.limit,
            offset=filters.offset,
            item=lambda referral: referral_out(request, referral),
        )
    )
    audit_ids(request, (r.id for r in page.items))
    return page


@router.get(
    "/{referral_id}",
    response={200: ReferralOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="A referral, its stage and its matches",
    openapi_extra=openapi_refusals({404: examples.REFERRAL_NOT_FOUND}),
)
def referral_detail(request: HttpRequest, referral_id: uuid.UUID) -> ReferralOut:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    return referral_out(request, referral)


@router.post(
    "/{referral_id}/cancel",
    response={200: ReferralOut, **ACTION_ERRORS},
    summary="Cancel a referral and every offer still open",
    operation_id="referral_cancel",
    description='The body is optional: `{"reason": "…"}`. 409 if it is already closed.',
    openapi_extra=openapi_merged(
        body_doc(CancelIn),
        openapi_refusals(
            {
                **OPTIONAL_BODY_REFUSALS,
                404: examples.REFERRAL_NOT_FOUND,
                409: examples.REFERRAL_CLOSED,
                422: examples.CANCEL_INVALID,
            }
        ),
    ),
)
def referral_cancel_view(request: HttpRequest, referral_id: uuid.UUID) -> ReferralOut:
    body = optional_body(request, CancelIn)
    center = request_center(request)
    referral_cancel(health_center=center, referral_id=referral_id, reason=body.reason)
    return referral_out(
        request, selectors.referral_get(health_center=center, referral_id=referral_id)
    )


@router.post(
    "/{referral_id}/consent/withdraw",
    response={200: ReferralOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record that the person withdrew consent",
    operation_id="referral_consent_withdraw",
    description=(
        "Cancels the referral and every offer still open (organisations see "
        "`cancelled-by-center`), and erases its personal data at once: first name, "
        "pseudonymous reference, year of birth, position, full postcode, notes, and the "
        "slip. Counts, needs and outcomes stay for reporting. Withdrawing again changes "
        "nothing."
    ),
    openapi_extra=openapi_refusals({404: examples.REFERRAL_NOT_FOUND}),
)
def referral_consent_withdraw_view(request: HttpRequest, referral_id: uuid.UUID) -> ReferralOut:
    center = request_center(request)
    referral_consent_withdraw(health_center=center, referral_id=referral_id)
    return referral_out(
        request, selectors.referral_get(health_center=center, referral_id=referral_id)
    )


@router.post(
    "/{referral_id}/placements/{placement_id}/cancel",
    response={200: PlacementOut, **ACTION_ERRORS},
    summary="Withdraw one offer",
    operation_id="placement_cancel",
    description="409 with `allowed` when the placement can no longer be cancelled.",
    openapi_extra=openapi_merged(
        body_doc(CancelIn),
        openapi_refusals(
            {
                **OPTIONAL_BODY_REFUSALS,
                404: examples.PLACEMENT_NOT_FOUND,
                409: examples.PLACEMENT_CLOSED,
                422: examples.CANCEL_INVALID,
            }
        ),
    ),
)
def placement_cancel_view(
    request: HttpRequest, referral_id: uuid.UUID, placement_id: uuid.UUID
) -> PlacementOut:
    body = optional_body(request, CancelIn)
    placement = placement_cancel(
        health_center=request_center(request),
        referral_id=referral_id,
        placement_id=placement_id,
        reason=body.reason,
    )
    placement = Placement.objects.select_related(
        "organization", "match__service_at_location__service"
    ).get(id=placement.id)
    return PlacementOut.model_validate(placement)


@router.get(
    "/{referral_id}/events",
    response={200: EventListOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="The referral's history: every change, oldest first",
    openapi_extra=openapi_refusals({404: examples.REFERRAL_NOT_FOUND}),
)
def referral_events(request: HttpRequest, referral_id: uuid.UUID) -> EventListOut:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    return EventListOut(
        items=[EventOut.model_validate(e) for e in selectors.referral_events(referral)]
    )


@router.get(
    "/{referral_id}/fhir",
    response={200: None, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="The referral as FHIR: a Bundle of a ServiceRequest and one Task per placement",
    description=(
        "Shaped after the HL7 SDOH Clinical Care profiles (FHIR R4): "
        "SDOHCC-ServiceRequest and SDOHCC-TaskForReferralManagement."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "A FHIR R4 Bundle (type `collection`)",
                "content": {
                    "application/fhir+json": {
                        "schema": {
                            "type": "object",
                            "required": ["resourceType", "type", "entry"],
                            "properties": {
                                "resourceType": {"type": "string", "enum": ["Bundle"]},
                                "type": {"type": "string", "enum": ["collection"]},
                                "entry": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                        "example": examples.FHIR_BUNDLE,
                    }
                },
            },
            404: examples.REFERRAL_NOT_FOUND,
        }
    },
)
def referral_fhir(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponse:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    return HttpResponse(json.dumps(referral_bundle(referral)), content_type="application/fhir+json")


@router.get(
    "/{referral_id}/matches",
    response={200: MatchesOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Why each activity was proposed: the score's parts, for the clinician",
    description=(
        "Each part is between 0 and 1; the score is their mean weighted by "
        "`TISSER_MATCH_WEIGHTS`. Reasons come in French and English. When nothing was "
        "found, `unmatched_explanation` says which filter left nothing and what relaxing "
        "it would find."
    ),
    openapi_extra=openapi_refusals({404: examples.REFERRAL_NOT_FOUND}),
)
def referral_matches(request: HttpRequest, referral_id: uuid.UUID) -> MatchesOut:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    placements = {p.match_id: p.status for p in referral.placements.all()}
    items = []
    for m in referral.matches.all():
        sal = m.service_at_location
        confidential = sal.location.is_confidential
        stored = m.score_parts or {}
        parts, weights = stored.get("parts", {}), stored.get("weights", {})
        total_weight = sum(weights.values()) or 1.0
        # Once erased, the distance is whole kilometres: no travel time is made up from it.
        journey = None
        if not referral.purged_at:
            mode, minutes = travel(m.distance_km)
            journey = TravelOut(mode=mode, minutes=minutes)
        items.append(
            MatchExplainedOut(
                rank=m.rank,
                service_id=sal.service_id,
                service_at_location_id=sal.id,
                activity=sal.service.name,
                organization=sal.service.organization.name,
                place="" if confidential else sal.location.name,
                distance_km=float(max(1, round(m.distance_km)))
                if confidential
                else round(m.distance_km, 2),
                travel=journey,
                score=m.score,
                parts=[
                    ScorePartOut(
                        name=name,
                        score=score,
                        weight=weights.get(name, 0.0),
                        contribution=round(weights.get(name, 0.0) * score / total_weight, 4),
                    )
                    for name, score in parts.items()
                ],
                reasons=[
                    ReasonOut.of(r) for r in m.reasons if isinstance(r, dict) and r.get("code")
                ],
                placement_status=placements.get(m.id),
            )
        )
    return MatchesOut(
        items=items, unmatched_explanation=UnmatchedOut.of(referral.unmatched_explanation)
    )


@router.post(
    "/{referral_id}/wellbeing",
    response={
        201: WellbeingOut,
        401: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        410: ErrorOut,
        422: ErrorOut,
    },
    summary="Record the person's wellbeing answers",
    description=(
        "The four ONS personal wellbeing questions (0 to 10), for health centres that "
        "record wellbeing: `baseline` when referred (if not given with the referral), or "
        "`follow_up` with the `placement_id` of a completed placement. Each is recorded "
        "once (409 after). Reports show only the mean change of five people or more."
    ),
    openapi_extra=openapi_refusals(
        {
            404: examples.WELLBEING_NOT_FOUND,
            409: examples.WELLBEING_RECORDED,
            410: examples.WELLBEING_ERASED,
            422: examples.WELLBEING_INVALID,
        }
    ),
)
def referral_wellbeing_record(
    request: HttpRequest, referral_id: uuid.UUID, payload: WellbeingRecordIn
) -> Status[WellbeingOut]:
    center = request_center(request)
    with transaction.atomic():
        referral = selectors.referral_get(health_center=center, referral_id=referral_id)
        measure = wellbeing_record_for_center(
            referral=referral,
            scores=payload,
            timepoint=payload.timepoint,
            placement_id=payload.placement_id,
        )
    return Status(201, WellbeingOut.model_validate(measure, from_attributes=True))


@router.get(
    "/{referral_id}/wellbeing",
    response={200: list[WellbeingOut], 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="The person's wellbeing answers, oldest first",
    openapi_extra=openapi_examples(
        {200: [examples.WELLBEING]}, refusals={404: examples.REFERRAL_NOT_FOUND}
    ),
)
def referral_wellbeing_list(request: HttpRequest, referral_id: uuid.UUID) -> list[WellbeingOut]:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    return [
        WellbeingOut.model_validate(m, from_attributes=True)
        for m in referral.wellbeing.order_by("recorded_at", "id")
    ]
