"""An organisation's pages for its catalogue: activities, their sessions and places left,
the places where they meet, confirming it is all current, and importing an HSDS file
with a preview of what it would change.

Every write goes through `community_catalog.services`, as the API's do: the same checks,
the same events, the same refresh of matching's index.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.web import organization_required, problem_message, request_organization
from community_catalog import services
from community_catalog.forms import (
    CapacityForm,
    ImportForm,
    LocationForm,
    NewServiceForm,
    ScheduleForm,
    ServiceForm,
)
from community_catalog.hsds import hsds_read
from community_catalog.hsds_files import (
    ImportLimits,
    hsds_document_load,
    hsds_file_read,
    import_slot,
    kept_file_delete,
    kept_file_open,
    kept_file_write,
    too_large_problem,
)
from community_catalog.hsds_import import ImportReport, hsds_import
from community_catalog.labels import CAPACITY, SERVICE_STATUSES, WEEKDAYS
from community_catalog.models import Location, Service, ServiceAtLocation
from community_catalog.schedules import service_at_location_sessions
from community_catalog.taxonomy import taxonomy_current
from core.bodies import DocumentError
from core.concurrency import Busy
from core.errors import Problem, TooLarge

_SESSION_IMPORT = "tisser_import"
_DAY_NAMES = dict(WEEKDAYS)


def _service(request: HttpRequest, service_id: uuid.UUID) -> Service:
    service = (
        Service.objects.filter(id=service_id, organization=request_organization(request))
        .prefetch_related(
            "taxonomy_terms",
            "foreign_terms",
            "service_at_locations__location",
            "service_at_locations__schedules",
            "service_at_locations__service__schedules",
        )
        .first()
    )
    if service is None:
        raise Http404
    return service


def _sal(request: HttpRequest, sal_id: uuid.UUID) -> ServiceAtLocation:
    sal = (
        ServiceAtLocation.objects.select_related("service", "location")
        .prefetch_related("schedules")
        .filter(id=sal_id, service__organization=request_organization(request))
        .first()
    )
    if sal is None:
        raise Http404
    return sal


def schedule_text(schedule: Any) -> str:
    days = ", ".join(
        str(_DAY_NAMES.get(d.strip()[-2:], d)) for d in (schedule.byday or "").split(",") if d
    )
    every = _("every other week") if (schedule.interval or 1) == 2 else _("every week")
    hours = ""
    if schedule.opens_at and schedule.closes_at:
        hours = _("%(start)s to %(end)s") % {
            "start": schedule.opens_at.strftime("%H:%M"),
            "end": schedule.closes_at.strftime("%H:%M"),
        }
    return " · ".join(part for part in (days, hours, every) if part)


def sal_view(sal: ServiceAtLocation) -> dict[str, Any]:
    return {
        "sal": sal,
        "capacity_label": CAPACITY.get(sal.capacity_status, sal.capacity_status),
        "full": sal.capacity_status == ServiceAtLocation.CapacityStatus.NO_CAPACITY,
        "schedules": [(s, schedule_text(s)) for s in sal.schedules.all()],
        "next_sessions": service_at_location_sessions(sal, after=timezone.now(), count=2),
        "capacity_form": CapacityForm(
            prefix=str(sal.id),
            initial={"available": sal.capacity_available, "maximum": sal.capacity_maximum},
        ),
    }


def foreign_terms_view(service: Service) -> list[dict[str, Any]]:
    """The terms of other taxonomies the service carries, and how Tisser reads them."""
    taxonomy = taxonomy_current()
    found = []
    for term in service.foreign_terms.all():
        mapped = taxonomy.mapping(term.taxonomy, term.code)
        codes = mapped[0] if mapped else ()
        found.append(
            {
                "label": term.label or term.code,
                # Mapped on purpose to nothing, or not mapped yet.
                "reviewed": mapped is not None,
                "codes": [
                    taxonomy.terms[c].label(get_language() or "fr")
                    for c in codes
                    if c in taxonomy.terms
                ],
            }
        )
    return found


def service_view(service: Service) -> dict[str, Any]:
    return {
        "service": service,
        "status_label": SERVICE_STATUSES.get(service.status, service.status),
        "stale": service.is_stale(),
        "places": [sal_view(sal) for sal in service.service_at_locations.all()],
    }


@organization_required
def activities(request: HttpRequest) -> HttpResponse:
    services_of = (
        Service.objects.filter(organization=request_organization(request))
        .exclude(status=Service.Status.DEFUNCT)
        .prefetch_related(
            "service_at_locations__location",
            "service_at_locations__schedules",
            "service_at_locations__service__schedules",
        )
        .order_by("name")
    )
    return render(
        request,
        "web/activities.html",
        {
            "items": [service_view(s) for s in services_of],
            "stale_after": settings.TISSER_STALE_AFTER_DAYS,
        },
    )


@organization_required
def activity_new(request: HttpRequest) -> HttpResponse:
    organization = request_organization(request)
    form = NewServiceForm(request.POST or None, organization=organization)
    if not form.locations:
        messages.info(request, _("Add the place where the activity meets first."))
        return redirect("web-place-new")
    if request.method == "POST" and form.is_valid():
        try:
            service = services.service_create(organization=organization, document=form.document())
        except Problem as problem:
            problem_message(request, problem)
        else:
            messages.success(
                request,
                _("“%(name)s” is in the catalogue. Add its sessions.") % {"name": service.name},
            )
            return redirect("web-activity", service_id=service.id)
    return render(
        request,
        "web/activity_new.html",
        {"form": form},
        status=422 if form.is_bound else 200,
    )


@organization_required
def activity_edit(request: HttpRequest, service_id: uuid.UUID) -> HttpResponse:
    organization = request_organization(request)
    service = _service(request, service_id)
    carried = [t.code for t in service.taxonomy_terms.all()]
    form = ServiceForm(
        request.POST or None, initial=ServiceForm.initial_of(service), carried=carried
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.service_update(
                organization=organization, service_id=service.id, changes=form.changes()
            )
        except Problem as problem:
            problem_message(request, problem)
        else:
            messages.success(request, _("Saved. The activity is marked as current."))
            return redirect("web-activity", service_id=service.id)
    return render(
        request,
        "web/activity_edit.html",
        {
            **service_view(service),
            "form": form,
            "schedule_form": ScheduleForm(),
            "foreign_terms": foreign_terms_view(service),
        },
        status=422 if form.is_bound else 200,
    )


def _back(request: HttpRequest, sal: ServiceAtLocation) -> HttpResponse:
    """After a change from the list, the list's card (htmx) or the page it came from."""
    if request.htmx:  # type: ignore[attr-defined]
        sal = _sal(request, sal.id)
        return render(request, "web/sal_capacity.html", {"place": sal_view(sal), "changed": True})
    if request.POST.get("next") == "activity":
        return redirect("web-activity", service_id=sal.service_id)
    return redirect("web-activities")


@organization_required
@require_POST
def capacity_quick(request: HttpRequest, sal_id: uuid.UUID, state: str) -> HttpResponse:
    """One click: the group is full, or has places again."""
    sal = _sal(request, sal_id)
    full = state == "full"
    if state not in ("full", "open"):
        raise Http404
    fields = {"status"}
    available = sal.capacity_available
    if full and available is not None:
        available, fields = 0, {"status", "available"}
    elif not full and available == 0:
        # Places again, but how many is not known: better unknown than a wrong zero.
        available, fields = None, {"status", "available"}
    services.capacity_set(
        organization=request_organization(request),
        sal_id=sal.id,
        status=ServiceAtLocation.CapacityStatus.NO_CAPACITY
        if full
        else ServiceAtLocation.CapacityStatus.HAS_CAPACITY,
        available=available,
        maximum=sal.capacity_maximum,
        fields_set=fields,
    )
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(
            request,
            (_("“%(name)s” is marked full.") if full else _("“%(name)s” has places again."))
            % {"name": sal.service.name},
        )
    return _back(request, sal)


@organization_required
@require_POST
def capacity_save(request: HttpRequest, sal_id: uuid.UUID) -> HttpResponse:
    sal = _sal(request, sal_id)
    form = CapacityForm(request.POST, prefix=str(sal.id))
    if form.is_valid():
        try:
            services.capacity_set(
                organization=request_organization(request),
                sal_id=sal.id,
                status=None,
                available=form.cleaned_data["available"],
                maximum=form.cleaned_data["maximum"],
                fields_set={"available", "maximum"},
            )
        except Problem:
            messages.error(request, _("There cannot be more places left than places in all."))
        else:
            messages.success(request, _("Places saved."))
    else:
        messages.error(request, _("Give whole numbers of places, or leave them empty."))
    return redirect("web-activity", service_id=sal.service_id)


@organization_required
@require_POST
def activity_confirm(request: HttpRequest, service_id: uuid.UUID) -> HttpResponse:
    service = services.service_confirm(
        organization=request_organization(request), service_id=_service(request, service_id).id
    )
    messages.success(request, _("“%(name)s” is confirmed as current.") % {"name": service.name})
    if request.POST.get("next") == "activity":
        return redirect("web-activity", service_id=service.id)
    return redirect("web-activities")


@organization_required
@require_POST
def schedule_add(request: HttpRequest, sal_id: uuid.UUID) -> HttpResponse:
    sal = _sal(request, sal_id)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        try:
            services.schedule_save(
                organization=request_organization(request),
                sal_id=sal.id,
                schedule_id=None,
                data=form.document(),
            )
        except Problem as problem:
            problem_message(request, problem)
        else:
            messages.success(request, _("Session added."))
    else:
        errors = "; ".join(
            f"{form.fields[f].label}: {' '.join(str(m) for m in e)}" for f, e in form.errors.items()
        )
        messages.error(request, _("The session was not added. %(errors)s") % {"errors": errors})
    return redirect("web-activity", service_id=sal.service_id)


@organization_required
@require_POST
def schedule_delete(
    request: HttpRequest, sal_id: uuid.UUID, schedule_id: uuid.UUID
) -> HttpResponse:
    sal = _sal(request, sal_id)
    schedule = sal.schedules.filter(id=schedule_id).first()
    if schedule is None:
        raise Http404
    try:
        services.schedule_save(
            organization=request_organization(request),
            sal_id=sal.id,
            schedule_id=schedule.hsds_id,
            data=None,
        )
    except Problem as problem:
        problem_message(request, problem)
    else:
        messages.success(request, _("Session removed."))
    return redirect("web-activity", service_id=sal.service_id)


# --- Places ----------------------------------------------------------------------------


@organization_required
def places(request: HttpRequest) -> HttpResponse:
    locations = (
        Location.objects.filter(organization=request_organization(request))
        .prefetch_related("addresses", "service_at_locations__service")
        .order_by("name")
    )
    return render(request, "web/places.html", {"locations": locations})


@organization_required
def place_edit(request: HttpRequest, location_id: uuid.UUID | None = None) -> HttpResponse:
    organization = request_organization(request)
    location = None
    if location_id is not None:
        location = (
            Location.objects.filter(id=location_id, organization=organization)
            .prefetch_related("addresses")
            .first()
        )
        if location is None:
            raise Http404
    form = LocationForm(
        request.POST or None, initial=LocationForm.initial_of(location) if location else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.location_save(
                organization=organization,
                location_id=location.id if location else None,
                changes=form.changes(location),
            )
        except Problem as problem:
            problem_message(request, problem)
        else:
            messages.success(request, _("“%(name)s” saved.") % {"name": saved.name})
            return redirect("web-places")
    return render(
        request,
        "web/place_edit.html",
        {"form": form, "location": location},
        status=422 if form.is_bound else 200,
    )


# --- Import ----------------------------------------------------------------------------


def _report_view(report: ImportReport) -> dict[str, Any]:
    return {
        "report": report,
        "changed": [s for s in report.services if s.get("action") in ("created", "updated")],
        "skipped": [s for s in report.services if s.get("action") == "skipped"],
    }


@organization_required
def catalog_import(request: HttpRequest) -> HttpResponse:
    """Step 1: choose a file; Tisser shows what it would change (a dry run). Step 2:
    apply exactly that file: it waits in a private folder, and the session keeps only
    its name and hash (`community_catalog.hsds_files`). One import at a time per person."""
    form = ImportForm(request.POST or None, request.FILES or None)
    limits = ImportLimits.configured()
    if getattr(request, "upload_too_large", False):  # see ImportUploadHandler
        form.is_valid()
        form.errors["file"] = form.error_class([_refusal(too_large_problem(limits))])
        return render(request, "web/import.html", {"form": form}, status=413)
    if request.method == "POST" and form.is_valid():
        try:
            with import_slot(f"user:{request.user.pk}"):
                return _import_preview(request, form, limits)
        except Busy as busy:
            return _import_busy(request, form, busy)
    status = 422 if form.is_bound else 200
    return render(request, "web/import.html", {"form": form}, status=status)


def _import_preview(request: HttpRequest, form: ImportForm, limits: ImportLimits) -> HttpResponse:
    """Keep the chosen file, check it, and show what importing it would change."""
    context: dict[str, Any] = {"form": form}
    upload = form.cleaned_data["file"]
    _kept_forget(request)  # the file previewed before, if any
    kept = None
    try:
        kept = kept_file_write(upload.chunks(), limits)
        with kept.path.open("rb") as stream:
            read = hsds_file_read(stream, limits)
    except (Problem, DocumentError) as exc:
        if kept is not None:
            kept_file_delete(kept.name)
        form.add_error("file", _refusal(exc))
        status = 413 if isinstance(exc, TooLarge) else 422
        return render(request, "web/import.html", context, status=status)
    # Invalid records are left out and listed, never a reason to refuse the preview.
    organization = request_organization(request)
    report = hsds_import(read, organization=organization, dry_run=True, skip_invalid=True)
    request.session[_SESSION_IMPORT] = {"file": kept.name, "digest": kept.digest}
    context.update({**_report_view(report), "digest": kept.digest, "name": upload.name})
    return render(request, "web/import.html", context)


def _import_busy(request: HttpRequest, form: ImportForm, busy: Busy) -> HttpResponse:
    """The person's previous import is still running: this one is refused, not queued
    behind it on the server's threads."""
    form.is_valid()
    form.errors["file"] = form.error_class(
        [_("Your previous import is still running: try again in a few seconds.")]
    )
    page = render(request, "web/import.html", {"form": form}, status=busy.status)
    page["Retry-After"] = str(busy.retry_after)
    return page


def _refusal(exc: Exception) -> str:
    """Why a file is refused, in the person's language."""
    if not isinstance(exc, Problem) or exc.code == "invalid_json":
        return _("This is not an HSDS JSON file: %(error)s") % {"error": exc}
    limit = exc.extra.get("limit", 0)
    field = exc.fields[0].field if exc.fields else ""
    if exc.code == "too_many_records":
        return _("The file holds more than %(limit)s activities: split it into several files.") % {
            "limit": limit
        }
    if exc.code == "too_many_values":
        return _(
            "The file holds more than one import can check (%(limit)s values): split it "
            "into several files."
        ) % {"limit": limit}
    if exc.code == "record_too_large":
        return _("%(field)s holds more than %(limit)s values: more than one activity can.") % {
            "field": field,
            "limit": limit,
        }
    if exc.code == "too_long_to_check":
        return _(
            "The file is too large to check in one go (in %(seconds)s seconds): split it "
            "into several files."
        ) % {"seconds": f"{limit:g}"}
    if exc.code == "text_too_long":
        return _("%(field)s holds a text of more than %(limit)s characters.") % {
            "field": field,
            "limit": limit,
        }
    return _("The file is larger than %(size)s.") % {"size": filesizeformat(limit)}


def _kept_forget(request: HttpRequest) -> None:
    """Drop the previewed file of this session, and its mention."""
    kept = request.session.pop(_SESSION_IMPORT, None) or {}
    kept_file_delete(kept.get("file", ""))


@organization_required
@require_POST
def catalog_import_apply(request: HttpRequest) -> HttpResponse:
    try:
        with import_slot(f"user:{request.user.pk}"):
            return _import_apply(request)
    except Busy as busy:
        return _import_busy(request, ImportForm(), busy)


def _import_apply(request: HttpRequest) -> HttpResponse:
    """Import the file previewed, if it is still the one previewed. Not bounded in time
    as the preview is: its bytes are those checked then (their hash says so)."""
    kept = request.session.get(_SESSION_IMPORT) or {}
    digest = kept.get("digest")
    stream = None
    if digest and digest == request.POST.get("digest"):
        stream = kept_file_open(kept.get("file", ""), digest)
        if stream is None:  # gone, expired, or no longer the file previewed
            _kept_forget(request)
    if stream is None:
        messages.error(request, _("Choose the file again: the preview has expired."))
        return redirect("web-import")
    try:
        with stream:
            read = hsds_read(hsds_document_load(stream, ImportLimits.configured()))
    except Problem as problem:  # the limits were lowered since the preview
        _kept_forget(request)
        messages.error(request, _refusal(problem))
        return redirect("web-import")
    report = hsds_import(read, organization=request_organization(request), skip_invalid=True)
    _kept_forget(request)
    messages.success(
        request,
        _(
            "Import done. New: %(created)d; changed: %(updated)d; unchanged: "
            "%(unchanged)d; left out: %(skipped)d."
        )
        % {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "skipped": report.skipped,
        },
    )
    return redirect("web-activities")
