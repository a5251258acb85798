"""Staff's pages of outreach: the person no longer wants messages (a clinician), and when
Tisser e-mails a member (everyone)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Membership
from accounts.views import email_configured
from accounts.web import center_required, membership_of, request_center
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


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def notifications_view(request: HttpRequest) -> HttpResponse:
    """A member chooses when Tisser e-mails them: at once, once a day, or never."""
    membership = membership_of(request)
    if membership is None:
        return render(request, "web/no_party.html", status=403)
    choices = Membership.Notify.values
    if request.method == "POST":
        chosen = request.POST.get("notify", "")
        if chosen not in choices:
            messages.error(request, _("Choose one of the three."))
            return redirect("web-notifications")
        Membership.objects.filter(id=membership.id).update(notify=chosen)
        messages.success(request, _("Saved."))
        return redirect("web-notifications")
    context = {
        "notify": membership.notify,
        "email": request.user.email if request.user.is_authenticated else "",
        "email_configured": email_configured(),
        "labels": {
            Membership.Notify.IMMEDIATE: _("At once, one e-mail each time"),
            Membership.Notify.DAILY: _("Once a day, at 8:00, in one e-mail"),
            Membership.Notify.NONE: _("Never"),
        },
    }
    return render(request, "web/notifications.html", context)
