"""A clinician's pages: file a referral, follow it until its slip is ready, print it, and
see what became of the centre's referrals."""

from __future__ import annotations

import json
import uuid
from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from accounts.audit import audit_ids
from accounts.web import center_required, problem_message, request_center
from core.errors import Conflict, InvalidInput, NotFound, Problem
from matching.reasons import explanation_text, reason_text
from referrals import selectors, services
from referrals.forms import CancelForm, ReferralForm, WellbeingForm
from referrals.labels import (
    PLACEMENT_REASONS,
    PLACEMENT_STATUSES,
    REFERRAL_STATUSES,
    STAGES,
    STEPS,
)
from referrals.lifecycle import OPEN, referral_cancel
from referrals.models import IdempotencyKey, Placement, Referral
from referrals.retention import referral_consent_withdraw
from referrals.schemas import ReferralIn, WellbeingIn
from referrals.wellbeing import wellbeing_record_for_center

PAGE_SIZE = 25
# Stages after which nothing more happens on its own: the page stops asking.
SETTLED = (Referral.Stage.SLIP_READY, Referral.Stage.UNMATCHED)


def referral_for_page(request: HttpRequest, referral_id: uuid.UUID) -> Referral:
    try:
        return selectors.referral_get(
            health_center=request_center(request), referral_id=referral_id
        )
    except NotFound:
        raise Http404 from None


def referral_view(referral: Referral) -> dict[str, object]:
    """What the pages show of a referral, in the reader's language."""
    language = "en" if (get_language() or "").startswith("en") else "fr"
    order: list[str] = [stage for stage, _label in STEPS]
    # An unmatched referral went as far as looking.
    reached = order.index(referral.stage) if referral.stage in order else 1
    placements = [
        {
            "activity": p.match.service_at_location.service.name,
            "organization": p.organization.name,
            "status": p.status,
            "status_label": PLACEMENT_STATUSES.get(p.status, p.status),
            "reason": PLACEMENT_REASONS.get(p.status_reason, "") if p.status_reason else "",
            "note": p.note,
            "open": p.status in OPEN,
            # What the person said on their own page (patient-reported).
            "chosen_session": p.chosen_session,
            "patient_report": p.patient_report,
        }
        for p in referral.placements.all()
    ]
    contact = getattr(referral, "contact", None)
    return {
        "referral": referral,
        "stage_label": STAGES.get(referral.stage, referral.stage),
        "status_label": REFERRAL_STATUSES.get(referral.status, referral.status),
        "steps": [
            {"label": label, "done": i <= reached} for i, (_stage, label) in enumerate(STEPS)
        ],
        "settled": referral.stage in SETTLED or referral.status != Referral.Status.ACTIVE,
        "slip_ready": selectors.referral_has_slip(referral),
        "erased": referral.purged_at is not None,
        "placements": placements,
        "other_wanted_at": contact.other_wanted_at if contact is not None else None,
        "messages_state": contact.messages_state if contact is not None else "",
        "matches": [
            {
                "match": m,
                # A confidential place is not located, even by its distance (as in the API).
                "km": max(1, round(m.distance_km))
                if m.service_at_location.location.is_confidential
                else round(m.distance_km, 1),
                "reasons": [reason_text(r, language) for r in m.reasons],
            }
            for m in referral.matches.all()
        ],
        "needs": sorted(t.label(language) for t in referral.needs.all()),
        "unmatched": explanation_text(referral.unmatched_explanation or {}, language),
    }


@center_required
def referral_list(request: HttpRequest) -> HttpResponse:
    referrals = selectors.referral_list(health_center=request_center(request)).order_by(
        "-created_at"
    )
    stage = request.GET.get("stage", "")
    if stage in STAGES:
        referrals = referrals.filter(stage=stage)
    # "Who needs me?": a first name (any part of it) or a referral's code, as printed
    # on the slip (with or without its dash, in any case).
    search = " ".join(request.GET.get("q", "").split())[:80]
    if search:
        code = search.upper().replace("-", "").replace(" ", "")
        coded = f"{code[:3]}-{code[3:]}" if len(code) == 6 else search.upper()
        referrals = referrals.filter(Q(first_name__icontains=search) | Q(code=coded))
    page = Paginator(referrals, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_ids(request, (r.id for r in page.object_list))
    return render(
        request,
        "web/referral_list.html",
        {
            "page": page,
            "rows": [referral_view(r) for r in page.object_list],
            "stage": stage,
            "search": search,
            "filter": urlencode({"stage": stage, **({"q": search} if search else {})}),
            "stages": list(STAGES.items()),
            "today": timezone.localdate(),
        },
    )


@center_required
def referral_new(request: HttpRequest) -> HttpResponse:
    center = request_center(request)
    form = ReferralForm(request.POST or None, wellbeing=center.records_wellbeing)
    if request.method == "POST" and form.is_valid():
        user = cast(User, request.user)
        document = form.referral_document(
            clinician_name=user.get_full_name() or user.get_username()
        )
        try:
            data = ReferralIn.model_validate(document)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [str(part) for part in error["loc"]]
                # contact.email → the form's contact_email
                field = "_".join(loc[:2]) if loc[:1] == ["contact"] else (loc[0] if loc else "")
                form.add_error(field if field in form.fields else None, error["msg"])
            return render(request, "web/referral_new.html", {"form": form}, status=422)
        key = f"web:{user.pk}:{form.cleaned_data['token']}"
        # The same form sent twice (a double click, a reload) files one referral. The
        # consent time differs between the two sends; the rest is the same body.
        body = json.dumps(
            {
                **document,
                "consent": {**document["consent"], "at": None},
                "contact": {**document["contact"], "messages_consent": None},
            }
        )
        try:
            answer = services.referral_submit_once(
                health_center=center,
                data=data,
                key=key,
                body=body.encode(),
                respond=lambda referral: {"id": str(referral.id)},
            )
        except InvalidInput as problem:
            for problem_field in problem.fields:
                if problem_field.field == "postcode":
                    form.add_error(
                        "postcode",
                        _("We do not know this postcode. Check it, or ask your coordinator."),
                    )
                else:
                    form.add_error(None, f"{problem_field.field}: {problem_field.message}")
            return render(request, "web/referral_new.html", {"form": form}, status=422)
        except Conflict:
            # The form was changed and sent again: the first send filed the referral.
            first = IdempotencyKey.objects.get(health_center=center, key=key)
            messages.info(request, _("This form was already sent: here is its referral."))
            return redirect("web-referral", referral_id=first.referral_id)
        if answer.replayed:
            messages.info(request, _("This form was already sent: here is its referral."))
        else:
            messages.success(request, _("Referral filed. Tisser is looking for activities."))
        return redirect("web-referral", referral_id=answer.body["id"])
    status = 422 if form.is_bound else 200
    return render(request, "web/referral_new.html", {"form": form}, status=status)


@center_required
def referral_detail(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponse:
    referral = referral_for_page(request, referral_id)
    context = {**referral_view(referral), "cancel_form": CancelForm()}
    if request.htmx and request.GET.get("part") == "progress":  # type: ignore[attr-defined]
        return render(request, "web/referral_progress.html", context)
    context["wellbeing_due"] = _wellbeing_due(referral)
    return render(request, "web/referral_detail.html", context)


def _wellbeing_due(
    referral: Referral, form: WellbeingForm | None = None
) -> list[dict[str, object]]:
    """The completed placements still waiting for the person's answers, each with its
    form (`form` replaces the one that was just sent with errors)."""
    if not referral.health_center.records_wellbeing or referral.purged_at is not None:
        return []
    return [
        {
            "placement": p,
            "activity": p.match.service_at_location.service.name,
            "form": form
            if form is not None and form.prefix == str(p.id)
            else WellbeingForm(prefix=str(p.id)),
        }
        for p in referral.placements.filter(
            status=Placement.Status.COMPLETED, wellbeing__isnull=True
        ).select_related("match__service_at_location__service")
    ]


@center_required
@require_POST
def referral_wellbeing_view(
    request: HttpRequest, referral_id: uuid.UUID, placement_id: uuid.UUID
) -> HttpResponse:
    referral = referral_for_page(request, referral_id)
    form = WellbeingForm(request.POST, prefix=str(placement_id))
    if not form.is_valid():
        context = {
            **referral_view(referral),
            "cancel_form": CancelForm(),
            "wellbeing_due": _wellbeing_due(referral, form),
        }
        return render(request, "web/referral_detail.html", context, status=422)
    try:
        with transaction.atomic():
            wellbeing_record_for_center(
                referral=referral,
                scores=WellbeingIn(**form.scores()),
                timepoint="follow_up",
                placement_id=placement_id,
            )
    except Problem as problem:
        problem_message(request, problem)
    else:
        messages.success(request, _("The answers are recorded."))
    return redirect("web-referral", referral_id=referral.id)


@center_required
@require_POST
def referral_cancel_view(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponse:
    referral = referral_for_page(request, referral_id)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        referral_cancel(
            health_center=request_center(request), referral_id=referral.id, reason=reason
        )
    except Conflict:
        messages.error(request, _("This referral is already closed."))
    else:
        messages.success(request, _("Referral cancelled. The organisations have been told."))
    return redirect("web-referral", referral_id=referral.id)


@center_required
@require_POST
def referral_consent_withdraw_view(request: HttpRequest, referral_id: uuid.UUID) -> HttpResponse:
    """The person withdraws consent: the referral is cancelled, the organisations told,
    and the person's data erased at once (`referrals.retention`)."""
    referral = referral_for_page(request, referral_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm: this cannot be undone."))
        return redirect("web-referral", referral_id=referral.id)
    referral_consent_withdraw(health_center=request_center(request), referral_id=referral.id)
    messages.success(
        request, _("Consent withdrawn. The referral is cancelled and the person's data erased.")
    )
    return redirect("web-referral", referral_id=referral.id)
