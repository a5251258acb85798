"""Web pages for people, signed in with a login an operator created (`tisser create-user`).
Each person acts for one health centre or one organisation (`Membership`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from referrals.models import Membership


def membership_of(request: HttpRequest) -> Membership | None:
    if not request.user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("health_center", "organization")
        .filter(user=request.user)
        .first()
    )


def root(request: HttpRequest) -> HttpResponse:
    return redirect("web-home")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = membership_of(request)
    if membership is None:
        # An account for no party (an operator's superuser): the admin is theirs.
        return render(request, "web/no_party.html", status=403)
    return render(request, "web/home.html", {"membership": membership})
