"""An organisation's inbox: the people referred to its activities, and its answers.

It shows of each person only what the API's inbox shows: first name, language, needs,
accessibility needs, whether not to contact them, the clinician's note for the
organisation and the code on their slip.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import audit_ids
from accounts.web import organization_required, request_organization
from community_catalog.labels import ACCESSIBILITY
from core.errors import Conflict, InvalidInput, NotFound, Problem
from core.forms import PlainForm
from referrals import selectors
from referrals.forms import WellbeingForm, language_choices
from referrals.labels import ACTIONS, PLACEMENT_REASONS, PLACEMENT_STATUSES
from referrals.lifecycle import (
    OPEN,
    ORGANIZATION_ACTIONS,
    REJECTION_REASONS,
    allowed_actions,
    person_shown_to_organization,
    placement_act,
)
from referrals.models import Placement
from referrals.schemas import WellbeingIn
from referrals.wellbeing import wellbeing_record

PAGE_SIZE = 25
SHOWS = {
    "todo": (gettext_lazy("To do"), OPEN),
    "waiting": (gettext_lazy("Waiting for your answer"), (Placement.Status.REQUESTED,)),
    "closed": (
        gettext_lazy("Closed"),
        tuple(s for s in Placement.Status.values if s not in OPEN),
    ),
    "all": (gettext_lazy("Everyone"), tuple(Placement.Status.values)),
}


class AnswerForm(PlainForm):
    reason = forms.ChoiceField(
        label=gettext_lazy("Why"),
        choices=[(r, PLACEMENT_REASONS[r]) for r in REJECTION_REASONS],
        required=False,
    )
    note = forms.CharField(
        label=gettext_lazy("A word for the health centre (optional)"),
        max_length=500,
        required=False,
    )


def placement_view(placement: Placement) -> dict[str, Any]:
    referral = placement.referral
    language = "en" if (get_language() or "").startswith("en") else "fr"
    languages = dict(language_choices())
    waiting = placement.status == Placement.Status.REQUESTED
    shown = person_shown_to_organization(placement)
    return {
        "placement": placement,
        "shown": shown,
        "first_name": referral.first_name if shown else "",
        "code": referral.code,
        "language": languages.get(referral.preferred_language, referral.preferred_language)
        if shown
        else "",
        "needs": sorted(t.label(language) for t in referral.needs.all()) if shown else [],
        "accessibility": [ACCESSIBILITY.get(a, a) for a in referral.accessibility_needs]
        if shown
        else [],
        "do_not_contact": referral.do_not_contact and shown,
        "note": referral.note_for_organization if shown else "",
        "center": referral.health_center,
        "activity": placement.match.service_at_location.service.name,
        "place": placement.match.service_at_location.location.name,
        "status_label": PLACEMENT_STATUSES.get(placement.status, placement.status),
        "reason": PLACEMENT_REASONS.get(placement.status_reason, "")
        if placement.status_reason
        else "",
        "respond_by": placement.requested_at + timedelta(days=settings.TISSER_PLACEMENT_EXPIRY_DAYS)
        if waiting
        else None,
        "actions": [
            (action, ACTIONS[action])
            for action in allowed_actions(placement.status, ORGANIZATION_ACTIONS)
            if action != "reject"
        ],
        "can_reject": "reject" in allowed_actions(placement.status, ORGANIZATION_ACTIONS),
        "form": AnswerForm(prefix=str(placement.id)),
        "wellbeing_form": WellbeingForm(prefix=f"wb-{placement.id}")
        if _wellbeing_wanted(placement)
        else None,
    }


def _wellbeing_wanted(placement: Placement) -> bool:
    """The person completed, their centre records wellbeing, and nobody has noted their
    answers for this activity yet."""
    return (
        placement.status == Placement.Status.COMPLETED
        and placement.referral.health_center.records_wellbeing
        and placement.referral.purged_at is None
        and not placement.has_wellbeing  # type: ignore[attr-defined]
    )


@organization_required
def inbox(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "todo")
    if show not in SHOWS:
        show = "todo"
    placements = selectors.inbox(request_organization(request)).filter(status__in=SHOWS[show][1])
    page = Paginator(placements, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_ids(request, (p.referral_id for p in page.object_list))
    return render(
        request,
        "web/inbox.html",
        {
            "page": page,
            "cards": [placement_view(p) for p in page.object_list],
            "show": show,
            "filter": urlencode({"show": show}),
            "shows": [(code, label) for code, (label, _statuses) in SHOWS.items()],
        },
    )


@organization_required
@require_POST
def placement_answer(request: HttpRequest, placement_id: uuid.UUID, action: str) -> HttpResponse:
    organization = request_organization(request)
    if action not in ORGANIZATION_ACTIONS:
        raise Http404
    try:
        selectors.inbox_get(organization, placement_id)
    except NotFound:
        raise Http404 from None
    form = AnswerForm(request.POST, prefix=str(placement_id))
    form.is_valid()
    reason = form.cleaned_data.get("reason", "") if action == "reject" else ""
    error = ""
    try:
        placement_act(
            organization=organization,
            placement_id=placement_id,
            action=action,
            reason=reason,
            note=form.cleaned_data.get("note", ""),
        )
    except InvalidInput:
        error = _("Say why you decline.")
    except Conflict:
        error = _("Someone changed this placement meanwhile; here is where it is now.")
    placement = selectors.inbox_get(organization, placement_id)
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request,
            "web/inbox_card.html",
            {"card": placement_view(placement), "error": error, "answered": not error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("%(name)s: %(status)s.")
            % {
                "name": placement.referral.first_name
                if person_shown_to_organization(placement)
                else placement.referral.code,
                "status": PLACEMENT_STATUSES[placement.status],
            },
        )
    return redirect("web-inbox")


@organization_required
@require_POST
def placement_wellbeing(request: HttpRequest, placement_id: uuid.UUID) -> HttpResponse:
    """The person's answers to the four wellbeing questions at the end of the activity.
    The organisation notes them once and never sees them again."""
    organization = request_organization(request)
    try:
        placement = selectors.inbox_get(organization, placement_id)
    except NotFound:
        raise Http404 from None
    form = WellbeingForm(request.POST, prefix=f"wb-{placement_id}")
    error = ""
    if not form.is_valid():
        error = _("Answer all four questions, from 0 to 10.")
    else:
        try:
            with transaction.atomic():
                wellbeing_record(
                    referral=placement.referral,
                    scores=WellbeingIn(**form.scores()),
                    timepoint="follow_up",
                    recorded_by="organization",
                    placement=placement,
                )
        except Conflict:
            error = _("The answers for this activity are already recorded.")
        except Problem as problem:
            error = problem.message
    placement = selectors.inbox_get(organization, placement_id)
    if request.htmx:  # type: ignore[attr-defined]
        card = placement_view(placement)
        if error and card["wellbeing_form"] is not None:
            card["wellbeing_form"] = form
        return render(
            request,
            "web/inbox_card.html",
            {"card": card, "error": error, "answered": not error, "wellbeing_saved": not error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("The answers are recorded. Thank you."))
    return redirect("web-inbox")
