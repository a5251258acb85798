"""`/organization/...`: an organisation keeps its own services, places, sessions and
capacity current. Services and locations are read and written as HSDS 3.0 objects; ids of
nested objects may be left out and are then created. Another organisation's objects
answer 404."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from pydantic import ValidationError as PydanticValidationError
from pydantic import WithJsonSchema

from accounts.auth import OrganizationKey, request_organization
from community_catalog import examples, refusal_examples, services
from community_catalog.hsds_export import (
    LOCATION_PARTS,
    location_export,
    schedule_export,
    service_at_location_export,
    service_export,
    services_for_export,
)
from community_catalog.hsds_records import (
    HsdsLocation,
    HsdsSchedule,
    HsdsService,
    HsdsServiceAtLocation,
)
from community_catalog.models import Location, Schedule, Service, ServiceAtLocation
from community_catalog.schemas import CapacityIn, CapacityOut, CloseIn, ServiceDeletedOut
from core.bodies import json_parse, validation_problems
from core.errors import FieldProblem, InvalidInput, NotFound
from core.schemas import BODY_NOT_JSON, MAX_OFFSET, ErrorOut, openapi_examples, openapi_refusals

organization_router = Router(auth=OrganizationKey(), tags=["organisation"])

# What the operations answer besides success: reads (a missing object, a malformed id)
# and writes of a JSON body read by hand (`_json_object`: 400 when not JSON), some of
# which may also conflict (409).
_READ: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
_WRITE: dict[int, Any] = {400: ErrorOut, **_READ}
_WRITE_CONFLICT: dict[int, Any] = {**_WRITE, 409: ErrorOut}


def _json_object(request: HttpRequest, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object. Endpoints taking HSDS objects read it themselves: the
    nested rules and paths of HSDS are checked by `hsds_read`, with ids optional."""
    if optional and (not request.body or "json" not in (request.content_type or "")):
        return {}
    body = json_parse(request.body or b"null", what="body")
    if not isinstance(body, dict):
        raise InvalidInput(
            "Expected a JSON object.", fields=[FieldProblem("body", "expected a JSON object")]
        )
    return body


# --- An organisation's own services ---------------------------------------------------


def _service_doc(service_id: uuid.UUID) -> dict[str, Any]:
    return service_export(services_for_export(Service.objects.filter(id=service_id)).get())


# Inline, not a component: Django's nested choices are all called "Status", and two
# components of one name would document one enum for the other.
ServiceStatus = Annotated[
    Service.Status, WithJsonSchema({"type": "string", "enum": list(Service.Status.values)})
]


@organization_router.get(
    "/services",
    response={200: dict[str, Any], 401: ErrorOut, 422: ErrorOut},
    summary="Your services, as a page of HSDS services",
    openapi_extra=openapi_examples({200: examples.SERVICE_PAGE}),
)
def own_services_list(
    request: HttpRequest,
    status: ServiceStatus | None = Query(  # noqa: B008 (ninja's way to describe it)
        None, description="Only the services in this status."
    ),
    stale: bool | None = Query(
        None,
        description="true: only the services to confirm (not confirmed for "
        "`TISSER_STALE_AFTER_DAYS`); false: only the others.",
    ),
    limit: int = Query(50, ge=1, le=500, description="How many services per page."),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Skip this many services."),
) -> dict[str, Any]:
    """Your services, any status, as a page of HSDS services (`contents`).
    `stale=true` lists those to confirm (not confirmed for `TISSER_STALE_AFTER_DAYS`)."""
    organization = request_organization(request)
    services_qs = Service.objects.filter(organization=organization)
    if status:
        services_qs = services_qs.filter(status=status)
    if stale is not None:
        cutoff = timezone.localdate() - timedelta(days=settings.TISSER_STALE_AFTER_DAYS)
        old = Q(assured_date__isnull=True) | Q(assured_date__lt=cutoff)
        services_qs = services_qs.filter(old) if stale else services_qs.exclude(old)
    total = services_qs.count()
    page = services_for_export(services_qs)[offset : offset + limit]
    contents = [service_export(s) for s in page]
    return {
        "total_items": total,
        "size": limit,
        "page_number": offset // limit + 1,
        "total_pages": max(1, -(-total // limit)),
        "first_page": offset == 0,
        "last_page": offset + limit >= total,
        "empty": not contents,
        "contents": contents,
    }


@organization_router.post(
    "/services",
    response={201: HsdsService, 400: ErrorOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Create a service",
    openapi_extra=openapi_examples(
        {201: examples.SERVICE},
        examples.SERVICE_IN,
        refusals={
            400: BODY_NOT_JSON,
            409: refusal_examples.SERVICE_EXISTS,
            422: refusal_examples.SERVICE_CREATE_INVALID,
        },
    ),
)
def own_service_create(request: HttpRequest) -> Status:
    """Create a service from an HSDS service object. Nested ids may be left out;
    `"taxonomy": ["talk-group"]` is a short form for HSDS `attributes`."""
    document = _json_object(request)
    service = services.service_create(organization=request_organization(request), document=document)
    return Status(201, _service_doc(service.id))


@organization_router.get(
    "/services/{service_id}",
    response={200: HsdsService, **_READ},
    summary="One of your services, as an HSDS service",
    openapi_extra=openapi_examples(
        {200: examples.SERVICE}, refusals={404: refusal_examples.SERVICE_NOT_FOUND}
    ),
)
def own_service_read(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    organization = request_organization(request)
    if not Service.objects.filter(id=service_id, organization=organization).exists():
        raise NotFound("No such service in your organisation.")
    return _service_doc(service_id)


@organization_router.patch(
    "/services/{service_id}",
    response={200: HsdsService, **_WRITE_CONFLICT},
    summary="Change some of a service's fields",
    openapi_extra=openapi_examples(
        {200: examples.SERVICE},
        examples.SERVICE_PATCH,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.SERVICE_NOT_FOUND,
            409: refusal_examples.CHANGE_CONFLICT,
            422: refusal_examples.SERVICE_UPDATE_INVALID,
        },
    ),
)
def own_service_update(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    """Change the given top-level fields; a list given (schedules, phones…) replaces the
    old one."""
    changes = _json_object(request)
    services.service_update(
        organization=request_organization(request), service_id=service_id, changes=changes
    )
    return _service_doc(service_id)


@organization_router.delete(
    "/services/{service_id}",
    response={200: ServiceDeletedOut, **_READ},
    summary="Delete a service (or deactivate one people were referred to)",
    openapi_extra=openapi_refusals({404: refusal_examples.SERVICE_NOT_FOUND}),
)
def own_service_delete(request: HttpRequest, service_id: uuid.UUID) -> ServiceDeletedOut:
    """Delete a service. If people were referred to it, it is deactivated instead
    (`deleted: false`), so their referrals still show what they were offered."""
    result = services.service_delete(
        organization=request_organization(request), service_id=service_id
    )
    message = (
        "Deleted."
        if result["deleted"]
        else f"Not deleted: {result['live_referrals']} referral(s) point at this service, "
        "so it was set inactive instead and is no longer proposed."
    )
    return ServiceDeletedOut(**result, message=message)


@organization_router.post(
    "/services/{service_id}/close",
    response={200: HsdsService, **_WRITE},
    summary="Close a service for a while",
    openapi_extra=openapi_examples(
        {200: examples.SERVICE_CLOSED},
        examples.CLOSE_IN,
        body_schema=CloseIn.model_json_schema(),
        body_required=False,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.SERVICE_NOT_FOUND,
            422: refusal_examples.CLOSE_INVALID,
        },
    ),
)
def own_service_close(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    """Close a service for a while: it is not proposed until reopened. An optional
    `{"alert": "…"}` tells people why and until when."""
    try:
        body = CloseIn.model_validate(_json_object(request, optional=True))
    except PydanticValidationError as exc:
        raise InvalidInput(
            "The request is not valid.",
            fields=[FieldProblem(f or "body", m) for f, m in validation_problems(exc)],
        ) from None
    services.service_status_set(
        organization=request_organization(request),
        service_id=service_id,
        status=Service.Status.TEMPORARILY_CLOSED,
        alert=body.alert,
    )
    return _service_doc(service_id)


@organization_router.post(
    "/services/{service_id}/reopen",
    response={200: HsdsService, **_READ},
    summary="Reopen a closed service",
    openapi_extra=openapi_examples(
        {200: examples.SERVICE}, refusals={404: refusal_examples.SERVICE_NOT_FOUND}
    ),
)
def own_service_reopen(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    services.service_status_set(
        organization=request_organization(request),
        service_id=service_id,
        status=Service.Status.ACTIVE,
        alert="",
    )
    return _service_doc(service_id)


@organization_router.post(
    "/services/{service_id}/confirm",
    response={200: HsdsService, **_READ},
    summary="Confirm a service's details are current",
    openapi_extra=openapi_examples(
        {200: examples.SERVICE}, refusals={404: refusal_examples.SERVICE_NOT_FOUND}
    ),
)
def own_service_confirm(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    """Say the service's details are current (sets `assured_date` to today)."""
    services.service_confirm(organization=request_organization(request), service_id=service_id)
    return _service_doc(service_id)


# --- Service at location, schedules, capacity ---------------------------------------


def _sal_doc(sal_id: uuid.UUID) -> dict[str, Any]:
    sal = (
        ServiceAtLocation.objects.select_related("location")
        .prefetch_related(
            "schedules", "contacts__phones", "phones", "location__addresses", "location__languages"
        )
        .get(id=sal_id)
    )
    return service_at_location_export(sal)


@organization_router.post(
    "/services/{service_id}/service-at-locations",
    response={201: HsdsServiceAtLocation, **_WRITE_CONFLICT},
    summary="Offer a service at one of your locations",
    openapi_extra=openapi_examples(
        {201: examples.SAL},
        examples.SAL_IN,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.SERVICE_NOT_FOUND,
            409: refusal_examples.SAL_EXISTS,
            422: refusal_examples.SAL_CREATE_INVALID,
        },
    ),
)
def own_sal_create(request: HttpRequest, service_id: uuid.UUID) -> Status:
    """Offer a service at one of your locations: `location_id`, and optionally
    `description`, `schedules` and `capacity`."""
    data = _json_object(request)
    sal = services.service_at_location_create(
        organization=request_organization(request), service_id=service_id, data=data
    )
    return Status(201, _sal_doc(sal.id))


def _own_sal_id(request: HttpRequest, sal_id: uuid.UUID) -> uuid.UUID:
    if not ServiceAtLocation.objects.filter(
        id=sal_id, service__organization=request_organization(request)
    ).exists():
        raise NotFound("No such service_at_location in your organisation.")
    return sal_id


@organization_router.get(
    "/service-at-locations/{sal_id}",
    response={200: HsdsServiceAtLocation, **_READ},
    summary="A service at one of your locations",
    openapi_extra=openapi_examples(
        {200: examples.SAL}, refusals={404: refusal_examples.SAL_NOT_FOUND}
    ),
)
def own_sal_read(request: HttpRequest, sal_id: uuid.UUID) -> dict[str, Any]:
    return _sal_doc(_own_sal_id(request, sal_id))


@organization_router.patch(
    "/service-at-locations/{sal_id}",
    response={200: HsdsServiceAtLocation, **_WRITE_CONFLICT},
    summary="Change a service at a location",
    openapi_extra=openapi_examples(
        {200: examples.SAL},
        examples.SAL_PATCH,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.SAL_NOT_FOUND,
            409: refusal_examples.CHANGE_CONFLICT,
            422: refusal_examples.SAL_UPDATE_INVALID,
        },
    ),
)
def own_sal_update(request: HttpRequest, sal_id: uuid.UUID) -> dict[str, Any]:
    changes = _json_object(request)
    services.service_at_location_update(
        organization=request_organization(request), sal_id=sal_id, changes=changes
    )
    return _sal_doc(sal_id)


@organization_router.delete(
    "/service-at-locations/{sal_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Stop offering a service at a location",
    openapi_extra=openapi_refusals(
        {404: refusal_examples.SAL_NOT_FOUND, 409: refusal_examples.SAL_REFERRED}
    ),
)
def own_sal_delete(request: HttpRequest, sal_id: uuid.UUID) -> Status:
    services.service_at_location_delete(organization=request_organization(request), sal_id=sal_id)
    return Status(204, None)


@organization_router.patch(
    "/service-at-locations/{sal_id}/capacity",
    response={200: CapacityOut, **_READ},
    summary="Set the places left",
    openapi_extra=openapi_refusals(
        {404: refusal_examples.SAL_NOT_FOUND, 422: refusal_examples.CAPACITY_INVALID}
    ),
)
def own_capacity_set(request: HttpRequest, sal_id: uuid.UUID, body: CapacityIn) -> CapacityOut:
    """Places left, in one small PATCH: `{"available": 0}` marks it full,
    `{"available": 4}` open again; or set `status` (e.g. `waitlist`)."""
    sal = services.capacity_set(
        organization=request_organization(request),
        sal_id=sal_id,
        status=body.status,
        available=body.available,
        maximum=body.maximum,
        fields_set=set(body.model_fields_set),
    )
    return CapacityOut(
        status=sal.capacity_status,  # type: ignore[arg-type]
        available=sal.capacity_available,
        maximum=sal.capacity_maximum,
        updated=sal.capacity_updated,
    )


def _schedule_doc(sal_id: uuid.UUID, schedule_id: uuid.UUID) -> dict[str, Any]:
    schedule = Schedule.objects.filter(service_at_location_id=sal_id, hsds_id=schedule_id).first()
    if schedule is None:
        raise NotFound("No such schedule.")
    return schedule_export(schedule)


@organization_router.get(
    "/service-at-locations/{sal_id}/schedules",
    response={200: list[HsdsSchedule], **_READ},
    summary="The schedules of a service at a location",
    openapi_extra=openapi_examples(
        {200: [examples.SCHEDULE]}, refusals={404: refusal_examples.SAL_NOT_FOUND}
    ),
)
def own_schedules_list(request: HttpRequest, sal_id: uuid.UUID) -> list[dict[str, Any]]:
    _own_sal_id(request, sal_id)
    return [schedule_export(s) for s in Schedule.objects.filter(service_at_location_id=sal_id)]


@organization_router.post(
    "/service-at-locations/{sal_id}/schedules",
    response={201: HsdsSchedule, **_WRITE_CONFLICT},
    summary="Add a schedule",
    openapi_extra=openapi_examples(
        {201: examples.SCHEDULE},
        examples.SCHEDULE_IN,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.SAL_NOT_FOUND,
            409: refusal_examples.CHANGE_CONFLICT,
            422: refusal_examples.SCHEDULE_INVALID,
        },
    ),
)
def own_schedule_create(request: HttpRequest, sal_id: uuid.UUID) -> Status:
    """Add a schedule in HSDS's iCal-style fields, e.g. `{"freq": "MONTHLY", "byday":
    "2TU", "opens_at": "14:00", "closes_at": "16:00"}`."""
    data = _json_object(request)
    data.pop("id", None)
    schedule_id = services.schedule_save(
        organization=request_organization(request), sal_id=sal_id, schedule_id=None, data=data
    )
    return Status(201, _schedule_doc(sal_id, schedule_id))


@organization_router.get(
    "/service-at-locations/{sal_id}/schedules/{schedule_id}",
    response={200: HsdsSchedule, **_READ},
    summary="One schedule",
    openapi_extra=openapi_examples(
        {200: examples.SCHEDULE}, refusals={404: refusal_examples.SCHEDULE_NOT_FOUND}
    ),
)
def own_schedule_read(
    request: HttpRequest, sal_id: uuid.UUID, schedule_id: uuid.UUID
) -> dict[str, Any]:
    return _schedule_doc(_own_sal_id(request, sal_id), schedule_id)


@organization_router.patch(
    "/service-at-locations/{sal_id}/schedules/{schedule_id}",
    response={200: HsdsSchedule, **_WRITE_CONFLICT},
    summary="Change a schedule",
    openapi_extra=openapi_examples(
        {200: examples.SCHEDULE},
        examples.SCHEDULE_PATCH,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.SCHEDULE_NOT_FOUND,
            409: refusal_examples.CHANGE_CONFLICT,
            422: refusal_examples.SCHEDULE_INVALID,
        },
    ),
)
def own_schedule_update(
    request: HttpRequest, sal_id: uuid.UUID, schedule_id: uuid.UUID
) -> dict[str, Any]:
    changes = _json_object(request)
    changes.pop("id", None)
    services.schedule_save(
        organization=request_organization(request),
        sal_id=sal_id,
        schedule_id=schedule_id,
        data=changes,
    )
    return _schedule_doc(sal_id, schedule_id)


@organization_router.delete(
    "/service-at-locations/{sal_id}/schedules/{schedule_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Remove a schedule",
    openapi_extra=openapi_refusals(
        {404: refusal_examples.SCHEDULE_NOT_FOUND, 409: refusal_examples.CHANGE_CONFLICT}
    ),
)
def own_schedule_delete(request: HttpRequest, sal_id: uuid.UUID, schedule_id: uuid.UUID) -> Status:
    services.schedule_save(
        organization=request_organization(request),
        sal_id=sal_id,
        schedule_id=schedule_id,
        data=None,
    )
    return Status(204, None)


# --- Locations -----------------------------------------------------------------------


def _location_doc(location_id: uuid.UUID) -> dict[str, Any]:
    location = Location.objects.prefetch_related(*LOCATION_PARTS).get(id=location_id)
    return location_export(location)


@organization_router.get(
    "/locations",
    response={200: list[HsdsLocation], 401: ErrorOut},
    summary="Your locations, as HSDS locations",
    openapi_extra=openapi_examples({200: [examples.LOCATION]}),
)
def own_locations_list(request: HttpRequest) -> list[dict[str, Any]]:
    locations = Location.objects.filter(
        organization=request_organization(request)
    ).prefetch_related(*LOCATION_PARTS)
    return [location_export(location) for location in locations]


@organization_router.post(
    "/locations",
    response={201: HsdsLocation, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut},
    summary="Add a location",
    openapi_extra=openapi_examples(
        {201: examples.LOCATION},
        examples.LOCATION_IN,
        refusals={400: BODY_NOT_JSON, 422: refusal_examples.LOCATION_INVALID},
    ),
)
def own_location_create(request: HttpRequest) -> Status:
    """A place, as an HSDS location with its `addresses`; `"confidential": true` for a
    shelter or a private home (never shown to others; the slip says to call)."""
    document = _json_object(request)
    location = services.location_save(
        organization=request_organization(request), location_id=None, changes=document
    )
    return Status(201, _location_doc(location.id))


@organization_router.get(
    "/locations/{location_id}",
    response={200: HsdsLocation, **_READ},
    summary="One of your locations",
    openapi_extra=openapi_examples(
        {200: examples.LOCATION}, refusals={404: refusal_examples.LOCATION_NOT_FOUND}
    ),
)
def own_location_read(request: HttpRequest, location_id: uuid.UUID) -> dict[str, Any]:
    if not Location.objects.filter(
        id=location_id, organization=request_organization(request)
    ).exists():
        raise NotFound("No such location in your organisation.")
    return _location_doc(location_id)


@organization_router.patch(
    "/locations/{location_id}",
    response={200: HsdsLocation, **_WRITE},
    summary="Change some of a location's fields",
    openapi_extra=openapi_examples(
        {200: examples.LOCATION},
        examples.LOCATION_PATCH,
        refusals={
            400: BODY_NOT_JSON,
            404: refusal_examples.LOCATION_NOT_FOUND,
            422: refusal_examples.LOCATION_INVALID,
        },
    ),
)
def own_location_update(request: HttpRequest, location_id: uuid.UUID) -> dict[str, Any]:
    changes = _json_object(request)
    services.location_save(
        organization=request_organization(request), location_id=location_id, changes=changes
    )
    return _location_doc(location_id)


@organization_router.delete(
    "/locations/{location_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Delete a location no service meets at",
    openapi_extra=openapi_refusals(
        {404: refusal_examples.LOCATION_NOT_FOUND, 409: refusal_examples.LOCATION_IN_USE}
    ),
)
def own_location_delete(request: HttpRequest, location_id: uuid.UUID) -> Status:
    """Delete a place no service meets at any more (409 lists those that still do)."""
    services.location_delete(organization=request_organization(request), location_id=location_id)
    return Status(204, None)
