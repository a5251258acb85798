"""`/catalog/...`: search the activities (any key), and an organisation's HSDS import and
export of its own catalogue (its key). The taxonomy and crosswalks, also under
`/catalog`, are `community_catalog.taxonomy_api`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from pydantic import Field

from accounts.auth import AnyKey, OrganizationKey, request_api_key, request_organization
from community_catalog import examples, refusal_examples
from community_catalog.hsds import ReadResult
from community_catalog.hsds_export import catalog_export
from community_catalog.hsds_files import (
    IMPORT_CONCURRENCY,
    IMPORT_RETRY_AFTER,
    ImportLimits,
    hsds_file_read,
    import_slot,
    import_spool,
    request_chunks,
    too_large_problem,
)
from community_catalog.hsds_import import ImportRejected, hsds_import
from community_catalog.models import Organization, Service, TaxonomyTerm
from community_catalog.schedules import next_sessions
from community_catalog.schemas import (
    ActivityListOut,
    ActivityOut,
    AddressOut,
    CapacityOut,
    ContactOut,
    CostOut,
    ImportReportOut,
    OrganizationRefOut,
    PlaceOut,
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
from core.bodies import DocumentError
from core.concurrency import Busy
from core.errors import FieldProblem, InvalidInput
from core.schemas import (
    ErrorOut,
    PageQuery,
    openapi_examples,
    openapi_refusals,
    refusal,
)

catalog_router = Router(tags=["catalogue"])

# --- Search --------------------------------------------------------------------------


# A taxonomy code as a query parameter: PostgreSQL cannot even compare a text with a NUL.
QueryCode = Annotated[str, Field(max_length=64, pattern=r"^[^\x00]*$")]


class SearchParams(PageQuery):
    need: list[QueryCode] = Field(
        [], max_length=20, description="Taxonomy codes; a code also finds the codes below it."
    )
    lat: float | None = Field(
        None, ge=-90, le=90, description="Latitude of the point to search around (with `lon`)."
    )
    lon: float | None = Field(
        None, ge=-180, le=180, description="Longitude of the point to search around (with `lat`)."
    )
    postcode: str | None = Field(
        None, max_length=16, pattern=r"^[^\x00]*$", description="Instead of lat/lon."
    )
    radius_km: float = Field(
        10,
        gt=0,
        le=200,
        description="How far from the point or postcode, in kilometres as the crow flies.",
    )
    language: str | None = Field(
        None, description="Only activities held in this language: ISO 639-1, e.g. 'en'."
    )
    weekday: Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"] | None = Field(
        None, description="Only activities with a session on this day of the week."
    )
    free: bool | None = Field(
        None, description="true: known to be free; false: paid or cost not stated."
    )
    cost: list[Literal["free", "paid", "not-stated"]] = Field(
        [], max_length=3, description="Any of these cost states."
    )
    q: str = Field(
        "",
        max_length=100,
        pattern=r"^[^\x00]*$",
        description="Words to find in the activity's name and description.",
    )
    organization: uuid.UUID | None = Field(None, description="Only this organisation's activities.")
    limit: int = Field(20, ge=1, le=100, description="How many results per page.")


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
    codes: dict[uuid.UUID, ServiceCodes],
) -> ActivityOut:
    details = found.details
    sal = found.service_at_location
    service, location = sal.service, sal.location
    visible = location_visible_to(location, viewer)
    address = details.address if visible else None
    distance = found.distance_km
    if distance is not None and not visible:
        # A confidential place is not located, even by trilateration to the metre.
        distance = float(max(1, round(distance)))
    taxonomy = found.codes if found.codes is not None else codes[service.id].codes
    return ActivityOut(
        service_at_location_id=sal.id,
        service_id=service.id,
        name=service.name,
        description=service.description,
        translations=service.translations,
        organization=OrganizationRefOut(id=service.organization.id, name=service.organization.name),
        taxonomy=list(taxonomy),
        languages=list(details.languages) or [settings.TISSER_CATALOG_LANGUAGE],
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
                for c in details.cost_options
            ],
        ),
        minimum_age=service.minimum_age,
        maximum_age=service.maximum_age,
        application_process=service.application_process,
        what_to_bring=service.what_to_bring,
        contacts=[
            ContactOut(name=c.name, email=c.email, phones=list(numbers))
            for c, numbers in details.contacts
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
            accessibility=list(details.accessibility) if visible else [],
        ),
        distance_km=round(distance, 2) if distance is not None else None,
        next_sessions=[
            SessionOut(starts_at=s.starts_at, ends_at=s.ends_at)
            for s in next_sessions(list(details.schedules), after=now, count=3)
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


@catalog_router.get(
    "/services",
    response={200: ActivityListOut, 401: ErrorOut, 422: ErrorOut},
    auth=AnyKey(),
    operation_id="catalog_search",
    summary="Search the activities",
    openapi_extra=openapi_refusals({422: refusal_examples.SEARCH_INVALID}),
)
def catalog_search_endpoint(request: HttpRequest, params: Query[SearchParams]) -> ActivityListOut:
    """Search activities: by need, near a point or a postcode, by language, weekday, cost
    and words. Each result is one activity at one place, with its distance, next
    sessions and capacity. Confidential places are never located for other parties."""
    query = _catalog_query(params)
    total, found = catalog_search(query)
    api_key = request_api_key(request)
    viewer = api_key.organization_id
    now = timezone.now()
    # What each answers to, its directory's terms read through crosswalks included (the
    # search index has them already).
    codes = service_codes([f.service_at_location.service_id for f in found if f.codes is None])
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


_IMPORT_LIMITS = ImportLimits.configured()


@catalog_router.post(
    "/import",
    response={
        200: ImportReportOut,
        400: ErrorOut,
        401: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },
    auth=OrganizationKey(),
    summary="Import an HSDS file into your catalogue",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "HSDS 3.0 JSON: a service, a list of services, a page of "
            "services ({'contents': [...]}) or an organization with its services.",
            "content": {
                "application/json": {
                    "schema": {"type": ["object", "array"]},
                    "example": examples.IMPORT_FILE,
                }
            },
        },
        **openapi_refusals(
            {
                400: refusal_examples.IMPORT_NOT_JSON,
                413: refusal(
                    "The file is larger than `TISSER_IMPORT_MAX_BYTES`, or has more than "
                    "`TISSER_IMPORT_MAX_RECORDS` records, 1,000,000 JSON values and keys, "
                    "10,000 in one record or a text of 100,000 characters, or took longer "
                    "than `TISSER_IMPORT_CHECK_SECONDS` to check. `limit` is the limit "
                    "reached.",
                    "too_large",
                    too_large_problem(_IMPORT_LIMITS).message,
                    [("body", f"at most {_IMPORT_LIMITS.max_bytes} bytes")],
                    limit=_IMPORT_LIMITS.max_bytes,
                ),
                422: refusal_examples.IMPORT_INVALID,
                429: refusal(
                    "This key's previous import is still running (`busy`: one at a time), "
                    "or the key is past its requests a minute (`rate_limited`). Try again "
                    "after `Retry-After` seconds.",
                    Busy.code,
                    Busy(limit=IMPORT_CONCURRENCY, retry_after=IMPORT_RETRY_AFTER).message,
                    limit=IMPORT_CONCURRENCY,
                    retry_after=IMPORT_RETRY_AFTER,
                ),
            }
        ),
    },
)
def catalog_import(
    request: HttpRequest,
    dry_run: bool = Query(False, description="true: report what would change, and write nothing."),
    skip_invalid: bool = Query(
        False,
        description="true: import the valid records and skip the invalid ones (listed in "
        "the report); false: any invalid record rejects the whole file.",
    ),
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
    "/export",
    response={200: dict[str, Any], 401: ErrorOut},
    auth=OrganizationKey(),
    operation_id="catalog_export",
    summary="Export your catalogue as HSDS",
    openapi_extra=openapi_examples({200: examples.EXPORT}),
)
def catalog_export_endpoint(request: HttpRequest) -> dict[str, Any]:
    """Your whole catalogue as HSDS 3.0: one page of HSDS's `service_list`."""
    organization = request_organization(request)
    return catalog_export(Service.objects.filter(organization=organization))
