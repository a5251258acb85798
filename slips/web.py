"""A clinician's slip pages: one referral's slip, and today's slips in one PDF."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.translation import gettext as _

from accounts.audit import audit_ids
from accounts.web import center_required, request_center
from core.concurrency import Busy
from referrals import selectors
from referrals.web_center import referral_for_page
from slips.batch import (
    BATCH_MAX_SLIPS,
    batch_etag,
    batch_get,
    batch_response,
    day_slip_referrals,
)


@center_required
def referral_slip(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponseBase:
    referral = referral_for_page(request, referral_id)
    if not selectors.referral_has_slip(referral):
        messages.error(
            request,
            _("The slip was erased with the person's data.")
            if referral.purged_at
            else _("The slip is not ready yet."),
        )
        return redirect("web-referral", referral_id=referral.id)
    download = request.GET.get("download") == "1"
    return FileResponse(
        referral.slip.file.open("rb"),
        content_type="application/pdf",
        as_attachment=download,
        filename=f"tisser-{referral.code}.pdf",
    )


@center_required
def slips_today(request: HttpRequest) -> HttpResponse:
    """Today's slips in one PDF, to print in one go (the first BATCH_MAX_SLIPS): the
    stored slips put together (`slips.batch`), a couple at a time per person."""
    center, day = request_center(request), timezone.localdate()
    referrals = day_slip_referrals(center, day)
    chosen = referrals[:BATCH_MAX_SLIPS]
    if not chosen:
        messages.info(request, _("No slip was printed today yet."))
        return redirect("web-referrals")
    etag = batch_etag(center, day, chosen, total=len(referrals))
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return batch_response(unchanged, etag)
    try:
        batch = batch_get(center, day, chosen, etag=etag, caller=f"user:{request.user.pk}")
    except Busy as busy:
        page = render(request, "web/slips_busy.html", status=busy.status)
        page["Retry-After"] = str(busy.retry_after)
        return page
    if batch.missing:
        messages.warning(
            request,
            _("These slips could not be read and are not in the document: %(codes)s.")
            % {"codes": ", ".join(batch.missing)},
        )
    if batch.pdf is None:
        return redirect("web-referrals")
    audit_ids(request, batch.printed)
    response = batch_response(HttpResponse(batch.pdf, content_type="application/pdf"), etag)
    response["Content-Disposition"] = f'inline; filename="tisser-{day.isoformat()}.pdf"'
    return response
