"""Web pages for people, signed in with a login an operator created (`tisser create-user`).
Each person acts for one health centre or one organisation (`Membership`): a clinician
sees their centre's referrals, an organisation's member its activities and its inbox.

Pages write through the same services as the API, so every change writes its event in
the same transaction whichever way it came in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.web import membership_of
from community_catalog.models import Service
from referrals.models import Placement, Referral


def root(request: HttpRequest) -> HttpResponse:
    return redirect("web-home")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = membership_of(request)
    if membership is None:
        # An account for no party (an operator's superuser): the admin is theirs.
        return render(request, "web/no_party.html", status=403)
    context: dict[str, Any] = {"membership": membership}
    if membership.health_center is not None:
        referrals = Referral.objects.filter(health_center=membership.health_center)
        context["active"] = referrals.filter(status=Referral.Status.ACTIVE).count()
        context["waiting_slip"] = referrals.filter(
            status=Referral.Status.ACTIVE,
            stage__in=[Referral.Stage.SUBMITTED, Referral.Stage.MATCHING],
        ).count()
    else:
        organization = membership.organization
        context["waiting"] = Placement.objects.filter(
            organization=organization, status=Placement.Status.REQUESTED
        ).count()
        context["stale"] = sum(
            1 for s in Service.objects.filter(organization=organization) if s.is_stale()
        )
    return render(request, "web/home.html", context)
