"""The clinician's side on Tisser's own pages: the person no longer wants messages."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.web import center_required, request_center
from core.errors import Conflict
from outreach.services import contact_withdraw
from referrals.web_center import referral_for_page


@center_required
@require_POST
def messages_withdraw_view(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponse:
    """As `POST /api/v1/referrals/{id}/contact/withdraw`: no more messages, the page
    closed, the e-mail address and phone number erased; the referral goes on."""
    referral = referral_for_page(request, referral_id)
    try:
        contact_withdraw(health_center=request_center(request), referral_id=referral.id)
    except Conflict:
        messages.error(request, _("The person had not agreed to messages."))
    else:
        messages.success(
            request,
            _("No more messages: the person's page is closed and their address erased."),
        )
    return redirect("web-referral", referral_id=referral.id)
