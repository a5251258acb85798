"""Web pages for people, signed in with a login an operator created (`tisser create-user`).
Each person acts for one health centre or one organisation (`Membership`): a clinician
sees their centre's referrals, an organisation's member its activities and its inbox.

Pages write through the same services as the API, so every change writes its event in
the same transaction whichever way it came in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render

from accounts.models import HealthCenter, Membership
from community_catalog.models import Organization, Service
from core.errors import Problem
from referrals.models import Placement, Referral

View = Callable[..., HttpResponseBase]


def membership_of(request: HttpRequest) -> Membership | None:
    if not request.user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("health_center", "organization")
        .filter(user=request.user)
        .first()
    )


def _for_party(party: str) -> Callable[[View], View]:
    """A page for the members of one kind of party: `request.center` or
    `request.organization` is set; anyone else gets 403 with a way back."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = membership_of(request)
            if membership is None:
                return render(request, "web/no_party.html", status=403)
            owner = getattr(membership, party)
            if owner is None:
                return render(request, "web/wrong_party.html", status=403)
            setattr(request, party, owner)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


center_required = _for_party("health_center")
organization_required = _for_party("organization")


def request_center(request: HttpRequest) -> HealthCenter:
    center: HealthCenter = request.health_center  # type: ignore[attr-defined]
    return center


def request_organization(request: HttpRequest) -> Organization:
    organization: Organization = request.organization  # type: ignore[attr-defined]
    return organization


def problem_message(request: HttpRequest, problem: Problem) -> None:
    """A refusal from a service, shown to the person at the top of the next page."""
    details = "; ".join(f"{f.field}: {f.message}" for f in problem.fields)
    messages.error(request, f"{problem.message} {details}".strip())


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
