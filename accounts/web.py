"""Who may open a page: a person signed in for a health centre or an organisation."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from accounts.models import HealthCenter, Membership
from core.errors import Problem

if TYPE_CHECKING:
    from community_catalog.models import Organization


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
