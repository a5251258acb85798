"""The slip endpoints: one referral's slip (PDF, or its HTML to preview) and a day's slips
in one document. Mounted at the API's root: the paths are `/referrals/{id}/slip.pdf`,
`/referrals/{id}/slip.html` and `/slips.pdf`."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.audit import audit_ids
from accounts.auth import HealthCenterKey, request_center
from core.concurrency import Busy
from core.errors import Conflict, Gone, NotFound
from core.schemas import MAX_OFFSET, ErrorOut, openapi_merged, openapi_refusals, refusal
from referrals import examples, selectors
from referrals.models import Referral
from slips.batch import (
    BATCH_CONCURRENCY,
    BATCH_MAX_SLIPS,
    BATCH_RETRY_AFTER,
    batch_etag,
    batch_get,
    batch_response,
    day_slip_referrals,
)
from slips.content import slip_html
from slips.renderer import preview_stylesheet

router = Router(auth=HealthCenterKey(), tags=["referrals"])


def slip_check(referral: Referral) -> None:
    """Refuse when there is no slip to hand over: not rendered yet (409), or erased with
    the referral's personal data (410)."""
    if referral.purged_at is not None:
        raise Gone(
            "The slip was erased with the referral's personal data "
            "(consent withdrawn, or the retention period ended).",
            code="personal_data_erased",
        )
    if not selectors.referral_has_slip(referral):
        raise Conflict(
            f"The slip is not ready yet; the referral is at stage '{referral.stage}'.",
            code="slip_not_ready",
            extra={"stage": referral.stage},
        )


_SLIP_REFUSALS = {
    404: examples.REFERRAL_NOT_FOUND,
    409: examples.SLIP_NOT_READY,
    410: examples.SLIP_ERASED,
}


@router.get(
    "/referrals/{referral_id}/slip.pdf",
    response={200: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 410: ErrorOut, 422: ErrorOut},
    summary="The printed slip (PDF)",
    description="409 with the current `stage` while the slip is not ready yet.",
    openapi_extra=openapi_merged(
        {"responses": {200: {"description": "The slip", "content": {"application/pdf": {}}}}},
        openapi_refusals(_SLIP_REFUSALS),
    ),
)
def referral_slip(request: HttpRequest, referral_id: uuid.UUID) -> FileResponse:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    slip_check(referral)
    return FileResponse(
        referral.slip.file.open("rb"),
        content_type="application/pdf",
        filename=f"tisser-{referral.code}.pdf",
    )


@router.get(
    "/referrals/{referral_id}/slip.html",
    response={200: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 410: ErrorOut, 422: ErrorOut},
    summary="The slip's HTML (preview)",
    description=(
        "The HTML the PDF is made from, drawn now from the current catalogue (the next "
        "sessions move on with time), with the slip's stylesheet inlined; the page loads "
        "nothing, fonts included. 409 with the current `stage` while the slip is not ready "
        "yet."
    ),
    openapi_extra=openapi_merged(
        {
            "responses": {
                200: {
                    "description": "The slip as HTML",
                    "content": {
                        "text/html": {
                            "example": '<!DOCTYPE html>\n<html lang="fr">\n<head>\n'
                            '<meta charset="utf-8">\n<title>Tisser GM9-KXC</title>\n'
                            "<style>@page { size: A4; } …</style>\n</head>\n<body>\n"
                            "<h1>Camille, voici des activités près de chez vous</h1>\n…"
                            "\n</body>\n</html>\n"
                        }
                    },
                }
            }
        },
        openapi_refusals(_SLIP_REFUSALS),
    ),
)
def referral_slip_html(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponse:
    referral = selectors.referral_get(
        health_center=request_center(request), referral_id=referral_id
    )
    slip_check(referral)
    html = slip_html(referral).replace(
        "</head>", f"<style>{preview_stylesheet()}</style>\n</head>", 1
    )
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # Catalogue text is escaped; this keeps a browser from fetching anything even so.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class SlipBatchQuery(Schema):
    date: dt.date | None = Field(
        default=None,
        ge=dt.date(2000, 1, 1),
        le=dt.date(2999, 12, 31),
        description="The day the referrals were filed (local time); today if absent.",
    )
    offset: int = Field(
        default=0, ge=0, le=MAX_OFFSET, description="Skip this many slips of the day."
    )


@router.get(
    "/slips.pdf",
    response={200: None, 304: None, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="All of a day's slips in one PDF",
    description=(
        "Every slip of the referrals the centre filed that day, in the order they were "
        "filed, each from a new page, as one document to print in one go: the slips as "
        "they were printed, put one after the other. Cancelled and purged referrals are "
        "left out; a slip whose file cannot be read is left out and its referral code "
        f"listed in `X-Missing-Slips`. At most {BATCH_MAX_SLIPS} slips per document: "
        '`X-Total-Count` gives the day\'s total and a `Link: rel="next"` header the rest. '
        "404 when the day has no slip. The `ETag` changes when a slip of the batch does: "
        "send it back in `If-None-Match` for a 304. At most "
        f"{BATCH_CONCURRENCY} batches at a time per key: 429 with `Retry-After` past that."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "The slips",
                "content": {"application/pdf": {}},
                "headers": {
                    "X-Total-Count": {
                        "description": "How many slips the day has in all.",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                        "example": 132,
                    },
                    "Link": {
                        "description": 'The rest of the day\'s slips (`rel="next"`), when '
                        f"it has more than {BATCH_MAX_SLIPS}.",
                        "required": False,
                        "schema": {"type": "string"},
                        "example": "</api/v1/slips.pdf?date=2026-11-25"
                        f'&offset={BATCH_MAX_SLIPS}>; rel="next"',
                    },
                    "ETag": {
                        "description": "Send it back in `If-None-Match` for a 304.",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    "X-Missing-Slips": {
                        "description": "The codes of the referrals whose slip could not be "
                        "read, comma-separated.",
                        "required": False,
                        "schema": {"type": "string"},
                        "example": "GM9-KXC, T4R-QAE",
                    },
                },
            },
            304: {"description": "The batch is the one with this ETag"},
            404: refusal(
                "The centre has no slip for that day (none filed, all cancelled or erased), "
                "or none past `offset`; `total` is how many the day has.",
                "no_slips",
                "No slips for 2026-11-25.",
                date="2026-11-25",
                total=0,
            ),
            429: refusal(
                f"{BATCH_CONCURRENCY} batches of this key are still being put together "
                "(`busy`), or the key is past its requests a minute (`rate_limited`). Try "
                "again after `Retry-After` seconds.",
                Busy.code,
                Busy(limit=BATCH_CONCURRENCY, retry_after=BATCH_RETRY_AFTER).message,
                limit=BATCH_CONCURRENCY,
                retry_after=BATCH_RETRY_AFTER,
            ),
        }
    },
)
def slips_of_day(request: HttpRequest, query: Query[SlipBatchQuery]) -> HttpResponse:
    center = request_center(request)
    day = query.date or timezone.localdate()
    referrals = day_slip_referrals(center, day)
    chosen = referrals[query.offset : query.offset + BATCH_MAX_SLIPS]
    if not chosen:
        raise _no_slips(day, query.offset, len(referrals))
    etag = batch_etag(center, day, chosen, total=len(referrals))
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return batch_response(unchanged, etag)
    batch = batch_get(center, day, chosen, etag=etag, caller=f"key:{_key_id(request)}")
    if batch.pdf is None:
        raise _no_slips(day, query.offset, len(referrals), missing=batch.missing)
    audit_ids(request, batch.printed)
    response = batch_response(HttpResponse(batch.pdf, content_type="application/pdf"), etag)
    response["Content-Disposition"] = f'inline; filename="tisser-slips-{day.isoformat()}.pdf"'
    response["X-Total-Count"] = str(len(referrals))
    if batch.missing:
        response["X-Missing-Slips"] = ", ".join(batch.missing)
    following = query.offset + len(chosen)
    if following < len(referrals):
        response["Link"] = (
            f'</api/v1/slips.pdf?date={day.isoformat()}&offset={following}>; rel="next"'
        )
    return response


def _no_slips(
    day: dt.date, offset: int, total: int, *, missing: list[str] | None = None
) -> NotFound:
    extra: dict[str, object] = {"date": day.isoformat(), "total": total}
    if missing:
        extra["missing"] = missing  # every slip of the part, unreadable
    return NotFound(
        f"No slips for {day.isoformat()}" + (f" after the first {offset}." if offset else "."),
        code="no_slips",
        extra=extra,
    )


def _key_id(request: HttpRequest) -> int:
    """The id of the key that called (`accounts.auth` keeps it on the request)."""
    api_key = request.tisser_key  # type: ignore[attr-defined]
    return int(api_key.id)
