"""The referrals endpoints, for health centres."""

from __future__ import annotations

import re
import uuid

from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from config.auth import HealthCenterKey, request_center
from config.errors import Conflict, FieldProblem, InvalidInput
from config.schemas import ErrorOut
from referrals import selectors, services
from referrals.models import Referral
from referrals.schemas import (
    LinksOut,
    MatchOut,
    ReferralAcceptedOut,
    ReferralIn,
    ReferralListOut,
    ReferralOut,
)

router = Router(auth=HealthCenterKey(), tags=["referrals"])


def _links(request: HttpRequest, referral: Referral) -> LinksOut:
    base = f"/api/v1/referrals/{referral.id}"
    return LinksOut(self=base, slip=f"{base}/slip.pdf")


def _referral_out(request: HttpRequest, referral: Referral) -> ReferralOut:
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
                reasons=[r.get(language, "") for r in m.reasons],
            )
            for m in referral.matches.all()
        ],
        slip_ready=selectors.referral_has_slip(referral),
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


class ReferralFilter(Schema):
    stage: Referral.Stage | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


@router.get(
    "",
    response={200: ReferralListOut, 401: ErrorOut, 422: ErrorOut},
    summary="List the centre's referrals, newest first",
)
def referral_list(request: HttpRequest, filters: Query[ReferralFilter]) -> ReferralListOut:
    referrals = selectors.referral_list(health_center=request_center(request))
    if filters.stage:
        referrals = referrals.filter(stage=filters.stage)
    page = referrals[filters.offset : filters.offset + filters.limit]
    return ReferralListOut(
        items=[_referral_out(request, r) for r in page],
        total=referrals.count(),
        limit=filters.limit,
        offset=filters.offset,
    )


@router.get(
    "/{referral_id}",
    response={200: ReferralOut, 401: ErrorOut, 404: ErrorOut},
    summary="A referral, its stage and its matches",
)
def referral_detail(request: HttpRequest, referral_id: uuid.UUID) -> ReferralOut:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    return _referral_out(request, referral)


@router.get(
    "/{referral_id}/slip.pdf",
    response={200: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="The printed slip (PDF)",
    description="409 with the current `stage` while the slip is not ready yet.",
    openapi_extra={
        "responses": {200: {"description": "The slip", "content": {"application/pdf": {}}}}
    },
)
def referral_slip(request: HttpRequest, referral_id: uuid.UUID) -> FileResponse:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    if not selectors.referral_has_slip(referral):
        raise Conflict(
            f"The slip is not ready yet; the referral is at stage '{referral.stage}'.",
            code="slip_not_ready",
            extra={"stage": referral.stage},
        )
    return FileResponse(
        referral.slip.file.open("rb"),
        content_type="application/pdf",
        filename=f"tisser-{referral.code}.pdf",
    )
