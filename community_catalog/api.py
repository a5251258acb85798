"""The catalogue endpoints.

- `/catalog/...`: the taxonomy (public), search (any key), HSDS import and export (an
  organisation's key, on its own catalogue).
- `/organization/...`: an organisation keeps its own services, places, sessions and
  capacity current. Services and locations are read and written as HSDS 3.0 objects;
  ids of nested objects may be left out and are then created. Another organisation's
  objects answer 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from accounts.auth import AnyKey, OrganizationKey, request_api_key, request_organization
from community_catalog import services
from community_catalog.hsds import (
    HsdsLocation,
    HsdsSchedule,
    HsdsService,
    HsdsServiceAtLocation,
    ReadResult,
)
from community_catalog.hsds_export import (
    LOCATION_PARTS,
    catalog_export,
    location_export,
    schedule_export,
    service_at_location_export,
    service_export,
    services_for_export,
)
from community_catalog.hsds_files import (
    ImportLimits,
    hsds_file_read,
    import_slot,
    import_spool,
    request_chunks,
    too_large_problem,
)
from community_catalog.hsds_import import ImportRejected, hsds_import
from community_catalog.models import (
    Location,
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.schedules import service_at_location_sessions
from community_catalog.schemas import (
    ActivityListOut,
    ActivityOut,
    AddressOut,
    CapacityIn,
    CapacityOut,
    CloseIn,
    ContactOut,
    CostOut,
    ImportReportOut,
    OrganizationRefOut,
    PlaceOut,
    ServiceDeletedOut,
    SessionOut,
)
from community_catalog.selectors import (
    CatalogQuery,
    Found,
    catalog_search,
    location_visible_to,
    postcode_position,
)
from community_catalog.service_codes import ServiceCodes, service_codes
from community_catalog.values import language_normalize
from core.bodies import DocumentError, json_parse, validation_problems
from core.errors import FieldProblem, InvalidInput, NotFound
from core.schemas import MAX_OFFSET, ErrorOut

catalog_router = Router(tags=["catalogue"])
organization_router = Router(auth=OrganizationKey(), tags=["organisation"])

_ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
_OBJECT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


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


# --- Search --------------------------------------------------------------------------


# A taxonomy code as a query parameter: PostgreSQL cannot even compare a text with a NUL.
QueryCode = Annotated[str, Field(max_length=64, pattern=r"^[^\x00]*$")]


class SearchParams(Schema):
    need: list[QueryCode] = Field(
        [], max_length=20, description="Taxonomy codes; a code also finds the codes below it."
    )
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    postcode: str | None = Field(
        None, max_length=16, pattern=r"^[^\x00]*$", description="Instead of lat/lon."
    )
    radius_km: float = Field(10, gt=0, le=200)
    language: str | None = Field(None, description="ISO 639-1, e.g. 'en'.")
    weekday: Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"] | None = None
    free: bool | None = Field(
        None, description="true: known to be free; false: paid or cost not stated."
    )
    cost: list[Literal["free", "paid", "not-stated"]] = Field(
        [], max_length=3, description="Any of these cost states."
    )
    q: str = Field("", max_length=100, pattern=r"^[^\x00]*$")
    organization: uuid.UUID | None = None
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


def _catalog_query(params: SearchParams) -> CatalogQuery:
    problems: list[FieldProblem] = []
    if (params.lat is None) != (params.lon is None):
        problems.append(
            FieldProblem("lat" if params.lat is None else "lon", "give both lat and lon")
        )
    position = (params.lat, params.lon)
    if params.postcode:
        if params.lat is not None:
            problems.append(FieldProblem("postcode", "give a postcode or lat/lon, not both"))
        found = postcode_position(params.postcode)
        if found is None:
            problems.append(FieldProblem("postcode", f"unknown postcode {params.postcode!r}"))
        else:
            position = found
    unknown = set(params.need) - set(
        TaxonomyTerm.objects.filter(code__in=params.need).values_list("code", flat=True)
    )
    problems.extend(
        FieldProblem(f"need[{i}]", f"unknown taxonomy code {code!r}")
        for i, code in enumerate(params.need)
        if code in unknown
    )
    language = None
    if params.language:
        try:
            language = language_normalize(params.language)
        except ValueError as exc:
            problems.append(FieldProblem("language", str(exc)))
    if problems:
        raise InvalidInput("The search is not valid.", fields=problems)
    return CatalogQuery(
        needs=params.need,
        latitude=position[0],
        longitude=position[1],
        radius_km=params.radius_km,
        language=language,
        weekday=params.weekday,
        free=params.free,
        cost=tuple(params.cost),
        q=params.q.strip(),
        organization_id=params.organization,
        limit=params.limit,
        offset=params.offset,
    )


def activity_out(
    found: Found,
    *,
    viewer: uuid.UUID | None,
    now: datetime,
    codes: dict[uuid.UUID, ServiceCodes] | None = None,
) -> ActivityOut:
    sal = found.service_at_location
    service, location = sal.service, sal.location
    visible = location_visible_to(location, viewer)
    address = location.physical_address if visible else None
    distance = found.distance_km
    if distance is not None and not visible:
        # A confidential place is not located, even by trilateration to the metre.
        distance = float(max(1, round(distance)))
    languages = sorted({lang.code for lang in service.languages.all() if lang.code})
    return ActivityOut(
        service_at_location_id=sal.id,
        service_id=service.id,
        name=service.name,
        description=service.description,
        translations=service.translations,
        organization=OrganizationRefOut(id=service.organization.id, name=service.organization.name),
        taxonomy=list(codes[service.id].codes)
        if codes and service.id in codes
        else sorted(t.code for t in service.taxonomy_terms.all()),
        languages=languages or [settings.TISSER_CATALOG_LANGUAGE],
        interpretation_services=service.interpretation_services,
        cost=CostOut(
            state=service.cost,  # type: ignore[arg-type]
            free=service.cost == Service.Cost.FREE,
            fees_description=service.fees_description,
            options=[
                {
                    "option": c.option,
                    "amount": str(c.amount) if c.amount is not None else None,
                    "currency": c.currency,
                }
                for c in service.cost_options.all()
            ],
        ),
        minimum_age=service.minimum_age,
        maximum_age=service.maximum_age,
        application_process=service.application_process,
        what_to_bring=service.what_to_bring,
        contacts=[
            ContactOut(name=c.name, email=c.email, phones=[p.number for p in c.phones.all()])
            for c in service.contacts.all()
        ],
        place=PlaceOut(
            id=location.id if visible else None,
            name=location.name if visible else "",
            confidential=location.is_confidential,
            address=AddressOut(
                address_1=address.address_1,
                address_2=address.address_2,
                postal_code=address.postal_code,
                city=address.city,
                country=address.country,
            )
            if address
            else None,
            latitude=location.latitude if visible else None,
            longitude=location.longitude if visible else None,
            transportation=location.transportation if visible else "",
            accessibility=[a.description for a in location.accessibility.all()] if visible else [],
        ),
        distance_km=round(distance, 2) if distance is not None else None,
        next_sessions=[
            SessionOut(starts_at=s.starts_at, ends_at=s.ends_at)
            for s in service_at_location_sessions(sal, after=now, count=3)
        ],
        capacity=CapacityOut(
            status=sal.capacity_status,  # type: ignore[arg-type]
            available=sal.capacity_available,
            maximum=sal.capacity_maximum,
            updated=sal.capacity_updated,
        ),
        assured_date=service.assured_date,
        stale=service.is_stale(),
    )


@catalog_router.get("/services", response={200: ActivityListOut, **_ERRORS}, auth=AnyKey())
def catalog_search_endpoint(request: HttpRequest, params: Query[SearchParams]) -> ActivityListOut:
    """Search activities: by need, near a point or a postcode, by language, weekday, cost
    and words. Each result is one activity at one place, with its distance, next
    sessions and capacity. Confidential places are never located for other parties."""
    query = _catalog_query(params)
    total, found = catalog_search(query)
    api_key = request_api_key(request)
    viewer = api_key.organization_id
    now = timezone.now()
    # What each answers to, its directory's terms read through crosswalks included.
    codes = service_codes([f.service_at_location.service_id for f in found])
    return ActivityListOut(
        total=total,
        limit=query.limit,
        offset=query.offset,
        items=[activity_out(f, viewer=viewer, now=now, codes=codes) for f in found],
    )


# --- Import and export ---------------------------------------------------------------


def _document_read(request: HttpRequest) -> ReadResult:
    """The file in the body, checked. Read past DATA_UPLOAD_MAX_MEMORY_SIZE, which is
    for forms (never `request.body`), up to TISSER_IMPORT_MAX_BYTES: to a temporary
    file, shape checked before it is built, checked within TISSER_IMPORT_CHECK_SECONDS
    (`community_catalog.hsds_files`)."""
    limits = ImportLimits.configured()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_large_problem(limits)
    with import_spool(request_chunks(request, limits.max_bytes), limits) as spool:
        try:
            return hsds_file_read(spool, limits)
        except DocumentError as exc:
            raise InvalidInput(str(exc), fields=[FieldProblem("body", str(exc))]) from None


@catalog_router.post(
    "/import",
    response={200: ImportReportOut, 400: ErrorOut, 413: ErrorOut, 429: ErrorOut, **_ERRORS},
    auth=OrganizationKey(),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "HSDS 3.0 JSON: a service, a list of services, a page of "
            "services ({'contents': [...]}) or an organization with its services.",
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    },
)
def catalog_import(
    request: HttpRequest, dry_run: bool = False, skip_invalid: bool = False
) -> ImportReportOut:
    """Import an HSDS 3.0 file into your catalogue, upserting by HSDS id. All or nothing:
    any invalid record rejects the file, unless `skip_invalid=true`; the first 100
    problems are listed and the other invalid records counted. `dry_run=true` reports
    what would change and writes nothing. Refused with 413 past TISSER_IMPORT_MAX_BYTES,
    TISSER_IMPORT_MAX_RECORDS records, 1,000,000 JSON values and keys, 10,000 in one
    record, a text of 100,000 characters, or when checking takes longer than
    TISSER_IMPORT_CHECK_SECONDS; with 429 while the same key's previous import runs."""
    organization = request_organization(request)
    key_id = request.tisser_key.id  # type: ignore[attr-defined]  # kept by accounts.auth
    with import_slot(f"key:{key_id}"):
        return _import(request, organization, dry_run=dry_run, skip_invalid=skip_invalid)


def _import(
    request: HttpRequest, organization: Organization, *, dry_run: bool, skip_invalid: bool
) -> ImportReportOut:
    """The import itself, while the key holds its slot."""
    read = _document_read(request)
    try:
        report = hsds_import(
            read, organization=organization, dry_run=dry_run, skip_invalid=skip_invalid
        )
    except ImportRejected as rejected:
        report = rejected.report
        unlisted = (
            f"The first {len(report.errors)} problems are listed; "
            f"{report.more_invalid_records} more record(s) have problems. "
            if report.more_invalid_records
            else ""
        )
        raise InvalidInput(
            f"{report.skipped} record(s) are invalid; nothing was imported. {unlisted}"
            "Fix them, or import the rest with skip_invalid=true.",
            code="invalid_records",
            fields=[FieldProblem(e["field"], e["message"]) for e in report.errors],
            extra={
                "records": [s for s in report.services if s["action"] == "skipped"],
                "more_invalid_records": report.more_invalid_records,
            },
        ) from None
    return ImportReportOut.model_validate(report, from_attributes=True)


@catalog_router.get(
    "/export", response={200: dict[str, Any], 401: ErrorOut}, auth=OrganizationKey()
)
def catalog_export_endpoint(request: HttpRequest) -> dict[str, Any]:
    """Your whole catalogue as HSDS 3.0: one page of HSDS's `service_list`."""
    organization = request_organization(request)
    return catalog_export(Service.objects.filter(organization=organization))


# --- An organisation's own services ---------------------------------------------------


def _service_doc(service_id: uuid.UUID) -> dict[str, Any]:
    return service_export(services_for_export(Service.objects.filter(id=service_id)).get())


# Inline, not a component: Django's nested choices are all called "Status", and two
# components of one name would document one enum for the other.
ServiceStatus = Annotated[
    Service.Status, WithJsonSchema({"type": "string", "enum": list(Service.Status.values)})
]


@organization_router.get("/services", response={200: dict[str, Any], 401: ErrorOut, 422: ErrorOut})
def own_services_list(
    request: HttpRequest,
    status: ServiceStatus | None = None,
    stale: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
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
    "/services", response={201: HsdsService, **_ERRORS}, openapi_extra=_OBJECT_BODY
)
def own_service_create(request: HttpRequest) -> Status:
    """Create a service from an HSDS service object. Nested ids may be left out;
    `"taxonomy": ["talk-group"]` is a short form for HSDS `attributes`."""
    document = _json_object(request)
    service = services.service_create(organization=request_organization(request), document=document)
    return Status(201, _service_doc(service.id))


@organization_router.get("/services/{service_id}", response={200: HsdsService, **_ERRORS})
def own_service_read(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    organization = request_organization(request)
    if not Service.objects.filter(id=service_id, organization=organization).exists():
        raise NotFound("No such service in your organisation.")
    return _service_doc(service_id)


@organization_router.patch(
    "/services/{service_id}", response={200: HsdsService, **_ERRORS}, openapi_extra=_OBJECT_BODY
)
def own_service_update(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    """Change the given top-level fields; a list given (schedules, phones…) replaces the
    old one."""
    changes = _json_object(request)
    services.service_update(
        organization=request_organization(request), service_id=service_id, changes=changes
    )
    return _service_doc(service_id)


@organization_router.delete("/services/{service_id}", response={200: ServiceDeletedOut, **_ERRORS})
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
    response={200: HsdsService, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": CloseIn.model_json_schema()}},
        }
    },
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


@organization_router.post("/services/{service_id}/reopen", response={200: HsdsService, **_ERRORS})
def own_service_reopen(request: HttpRequest, service_id: uuid.UUID) -> dict[str, Any]:
    services.service_status_set(
        organization=request_organization(request),
        service_id=service_id,
        status=Service.Status.ACTIVE,
        alert="",
    )
    return _service_doc(service_id)


@organization_router.post("/services/{service_id}/confirm", response={200: HsdsService, **_ERRORS})
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
    response={201: HsdsServiceAtLocation, **_ERRORS},
    openapi_extra=_OBJECT_BODY,
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
    "/service-at-locations/{sal_id}", response={200: HsdsServiceAtLocation, **_ERRORS}
)
def own_sal_read(request: HttpRequest, sal_id: uuid.UUID) -> dict[str, Any]:
    return _sal_doc(_own_sal_id(request, sal_id))


@organization_router.patch(
    "/service-at-locations/{sal_id}",
    response={200: HsdsServiceAtLocation, **_ERRORS},
    openapi_extra=_OBJECT_BODY,
)
def own_sal_update(request: HttpRequest, sal_id: uuid.UUID) -> dict[str, Any]:
    changes = _json_object(request)
    services.service_at_location_update(
        organization=request_organization(request), sal_id=sal_id, changes=changes
    )
    return _sal_doc(sal_id)


@organization_router.delete("/service-at-locations/{sal_id}", response={204: None, **_ERRORS})
def own_sal_delete(request: HttpRequest, sal_id: uuid.UUID) -> Status:
    services.service_at_location_delete(organization=request_organization(request), sal_id=sal_id)
    return Status(204, None)


@organization_router.patch(
    "/service-at-locations/{sal_id}/capacity", response={200: CapacityOut, **_ERRORS}
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
    "/service-at-locations/{sal_id}/schedules", response={200: list[HsdsSchedule], **_ERRORS}
)
def own_schedules_list(request: HttpRequest, sal_id: uuid.UUID) -> list[dict[str, Any]]:
    _own_sal_id(request, sal_id)
    return [schedule_export(s) for s in Schedule.objects.filter(service_at_location_id=sal_id)]


@organization_router.post(
    "/service-at-locations/{sal_id}/schedules",
    response={201: HsdsSchedule, **_ERRORS},
    openapi_extra=_OBJECT_BODY,
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
    response={200: HsdsSchedule, **_ERRORS},
)
def own_schedule_read(
    request: HttpRequest, sal_id: uuid.UUID, schedule_id: uuid.UUID
) -> dict[str, Any]:
    return _schedule_doc(_own_sal_id(request, sal_id), schedule_id)


@organization_router.patch(
    "/service-at-locations/{sal_id}/schedules/{schedule_id}",
    response={200: HsdsSchedule, **_ERRORS},
    openapi_extra=_OBJECT_BODY,
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
    "/service-at-locations/{sal_id}/schedules/{schedule_id}", response={204: None, **_ERRORS}
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


@organization_router.get("/locations", response={200: list[HsdsLocation], 401: ErrorOut})
def own_locations_list(request: HttpRequest) -> list[dict[str, Any]]:
    locations = Location.objects.filter(
        organization=request_organization(request)
    ).prefetch_related(*LOCATION_PARTS)
    return [location_export(location) for location in locations]


@organization_router.post(
    "/locations", response={201: HsdsLocation, **_ERRORS}, openapi_extra=_OBJECT_BODY
)
def own_location_create(request: HttpRequest) -> Status:
    """A place, as an HSDS location with its `addresses`; `"confidential": true` for a
    shelter or a private home (never shown to others; the slip says to call)."""
    document = _json_object(request)
    location = services.location_save(
        organization=request_organization(request), location_id=None, changes=document
    )
    return Status(201, _location_doc(location.id))


@organization_router.get("/locations/{location_id}", response={200: HsdsLocation, **_ERRORS})
def own_location_read(request: HttpRequest, location_id: uuid.UUID) -> dict[str, Any]:
    if not Location.objects.filter(
        id=location_id, organization=request_organization(request)
    ).exists():
        raise NotFound("No such location in your organisation.")
    return _location_doc(location_id)


@organization_router.patch(
    "/locations/{location_id}", response={200: HsdsLocation, **_ERRORS}, openapi_extra=_OBJECT_BODY
)
def own_location_update(request: HttpRequest, location_id: uuid.UUID) -> dict[str, Any]:
    changes = _json_object(request)
    services.location_save(
        organization=request_organization(request), location_id=location_id, changes=changes
    )
    return _location_doc(location_id)


@organization_router.delete("/locations/{location_id}", response={204: None, **_ERRORS})
def own_location_delete(request: HttpRequest, location_id: uuid.UUID) -> Status:
    """Delete a place no service meets at any more (409 lists those that still do)."""
    services.location_delete(organization=request_organization(request), location_id=location_id)
    return Status(204, None)
