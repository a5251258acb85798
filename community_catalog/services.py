"""Writes on the catalogue. Every change writes its event in the same transaction.

The organisation API speaks HSDS: a service is created or changed by writing its HSDS
document through the same path as a file import (`hsds_import`), so one set of rules
checks both, and a change is announced only when something really changed.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from accounts.keys import api_key_create
from community_catalog.changes import services_changed
from community_catalog.costs import cost_state
from community_catalog.hsds import hsds_read
from community_catalog.hsds_export import (
    LOCATION_PARTS,
    location_export,
    service_export,
    services_for_export,
    taxonomy_term_export,
)
from community_catalog.hsds_import import ImportRejected, hsds_import
from community_catalog.hsds_records import HsdsLocation
from community_catalog.hsds_writer import location_write
from community_catalog.models import (
    Location,
    Organization,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.taxonomy import is_tisser_taxonomy, taxonomy_current
from core.bodies import validation_problems
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from events.outbox import EventDraft, event_record, events_record

# Lists of nested HSDS objects whose members need an id; the API fills missing ones.
NESTED_LISTS = (
    "phones",
    "contacts",
    "schedules",
    "languages",
    "cost_options",
    "addresses",
    "accessibility",
    "service_at_locations",
    "attributes",
)
# Fields an organisation cannot set through the API: the server keeps them.
_SERVER_FIELDS = ("id", "organization", "organization_id", "last_modified", "assured_date")


def service_derived_refresh(service: Service) -> None:
    """Decide a service's cost state again from what it holds, and rebuild its points in
    matching's index: for writes that bypass the importer (the admin)."""
    texts = [service.fees_description] + [
        t.get("fees_description", "") for t in service.translations.values() if isinstance(t, dict)
    ]
    cost = cost_state(
        declared=service.cost_declared or None,
        amounts=list(service.cost_options.values_list("amount", flat=True)),
        fees=texts,
    )
    if cost != service.cost:
        service.cost = cost
        service.save(update_fields=["cost"])
    services_changed([service.id])


def organization_create(*, name: str) -> tuple[Organization, str]:
    """Create an organisation and its first API key, which is returned once."""
    with transaction.atomic():
        organization = Organization.objects.create(name=name)
        key = api_key_create(organization=organization, name="created with the organisation")
    return organization, key


# --- Documents from the API ----------------------------------------------------------


def ids_fill(document: Any) -> Any:
    """Give every nested HSDS object without an id a new one (clients need not invent
    uuids for a new phone or schedule)."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key in NESTED_LISTS and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        item.setdefault("id", str(uuid.uuid4()))
            if key in ("location", "taxonomy_term") and isinstance(value, dict):
                value.setdefault("id", str(uuid.uuid4()))
            ids_fill(value)
    elif isinstance(document, list):
        for item in document:
            ids_fill(item)
    return document


def _taxonomy_to_attributes(document: dict[str, Any]) -> None:
    """`"taxonomy": ["talk-group"]`, the short form, becomes HSDS `attributes`: it
    replaces the Tisser terms the service carries, and keeps the terms of other
    taxonomies it came with (a directory's own classification)."""
    codes = document.pop("taxonomy", None)
    if codes is None:
        return
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise InvalidInput(
            "taxonomy must be a list of codes",
            fields=[FieldProblem("taxonomy", "expected a list of taxonomy codes")],
        )
    taxonomy = taxonomy_current()
    attributes = [a for a in document.get("attributes") or [] if isinstance(a, dict)]
    own = [a for a in attributes if _is_tisser_attribute(a, taxonomy.terms)]
    # A code the service already carries may stay on it, even once deactivated.
    carried = {a["taxonomy_term"]["code"] for a in own}
    terms = {t.code: t for t in TaxonomyTerm.objects.filter(code__in=codes)}
    unknown = [
        FieldProblem(f"taxonomy[{i}]", f"unknown taxonomy code {code!r}")
        if code not in terms
        else FieldProblem(f"taxonomy[{i}]", f"{code!r} is no longer in use")
        for i, code in enumerate(codes)
        if code not in terms or not (terms[code].active or code in carried)
    ]
    if unknown:
        raise InvalidInput("Unknown taxonomy codes.", fields=unknown)
    document["attributes"] = [
        {"id": str(uuid.uuid4()), "taxonomy_term": taxonomy_term_export(terms[c])} for c in codes
    ] + [a for a in attributes if a not in own]


def _is_tisser_attribute(attribute: dict[str, Any], codes: Any) -> bool:
    term = attribute.get("taxonomy_term")
    if not isinstance(term, dict):
        return False
    named = term.get("taxonomy") or ""
    if named and not (isinstance(named, str) and is_tisser_taxonomy(named)):
        return False
    return term.get("code") in codes


def _problems(report_errors: list[dict[str, Any]]) -> list[FieldProblem]:
    return [
        FieldProblem(e["field"].removeprefix("[0]").removeprefix("."), e["message"])
        for e in report_errors
    ]


def _service_write(organization: Organization, document: dict[str, Any]) -> Service:
    """Write one service document for `organization`; 422 naming the fields at fault."""
    read = hsds_read([document])
    if read.errors:
        raise InvalidInput(
            "The service is not valid.", fields=_problems([e.as_dict() for e in read.errors])
        )
    if read.warnings:
        # From a file, a wrong position is dropped with a warning; through the API the
        # sender is there to correct it.
        raise InvalidInput(
            "The service is not valid.",
            fields=_problems([w.as_dict() for w in read.warnings]),
        )
    try:
        report = hsds_import(read, organization=organization)
    except ImportRejected as rejected:
        raise Conflict(
            "The change would touch data it cannot.", fields=_problems(rejected.report.errors)
        ) from None
    if report.warnings:
        raise InvalidInput("The service is not valid.", fields=_problems(report.warnings))
    return Service.objects.get(id=document["id"])


def _own_service(organization: Organization, service_id: uuid.UUID) -> Service:
    service = services_for_export(
        Service.objects.filter(id=service_id, organization=organization)
    ).first()
    if service is None:
        raise NotFound("No such service in your organisation.")
    return service


def service_create(*, organization: Organization, document: dict[str, Any]) -> Service:
    document = ids_fill(copy.deepcopy(document))
    for name in _SERVER_FIELDS:
        if name != "id":
            document.pop(name, None)
    document.setdefault("id", str(uuid.uuid4()))
    document.setdefault("status", Service.Status.ACTIVE)
    if Service.objects.filter(id=_uuid(document["id"], "id")).exists():
        raise Conflict(
            "A service with this id exists; change it with PATCH.",
            fields=[FieldProblem("id", "already exists")],
        )
    _taxonomy_to_attributes(document)
    document["organization_id"] = str(organization.id)
    # Creating a service is its organisation saying it is current.
    document["assured_date"] = timezone.localdate().isoformat()
    with transaction.atomic():
        return _service_write(organization, document)


def service_update(
    *, organization: Organization, service_id: uuid.UUID, changes: dict[str, Any]
) -> Service:
    """Replace the given top-level fields of a service (PATCH semantics)."""
    changes = ids_fill(copy.deepcopy(changes))
    refused = [FieldProblem(name, "set by Tisser") for name in _SERVER_FIELDS if name in changes]
    if refused:
        raise InvalidInput("Some fields cannot be changed.", fields=refused)
    return _service_edit(organization, service_id, lambda doc: doc.update(changes))


def _service_edit(
    organization: Organization, service_id: uuid.UUID, edit: Callable[[dict[str, Any]], None]
) -> Service:
    with transaction.atomic():
        service = _own_service(organization, service_id)
        document = service_export(service)
        # The server keeps these: a change gets a new last_modified.
        for name in ("organization", "last_modified"):
            document.pop(name, None)
        edit(document)
        _taxonomy_to_attributes(document)
        before = service.last_modified
        service = _service_write(organization, document)
        if service.last_modified != before:
            # An organisation editing its service is also saying the rest is current.
            service.assured_date = timezone.localdate()
            service.save(update_fields=["assured_date"])
            # The import's event refreshed matching's index before this date was set.
            services_changed([service.id])
        return service


def _uuid(value: Any, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(
            f"{field} is not a uuid", fields=[FieldProblem(field, "expected a uuid")]
        ) from None


def _own_service_locked(organization: Organization, service_id: uuid.UUID) -> Service:
    """The service, locked for the caller's transaction; 404 if it is not theirs."""
    service = (
        Service.objects.select_for_update().filter(id=service_id, organization=organization).first()
    )
    if service is None:
        raise NotFound("No such service in your organisation.")
    return service


def service_delete(*, organization: Organization, service_id: uuid.UUID) -> dict[str, Any]:
    """Delete a service; one that people were referred to is deactivated instead, so
    their referrals keep pointing at what they were offered."""
    with transaction.atomic():
        service = _own_service_locked(organization, service_id)
        referred = service.service_at_locations.aggregate(
            n=Count("matches__referral", distinct=True)
        )["n"]
        if referred:
            service.status = Service.Status.INACTIVE
            service.last_modified = timezone.now()
            service.save(update_fields=["status", "last_modified"])
            event_record(
                type="service.closed",
                aggregate_type="service",
                aggregate_id=service.id,
                payload={"status": service.status, "reason": "deleted-with-live-referrals"},
            )
            return {"deleted": False, "status": service.status, "live_referrals": referred}
        event_record(
            type="service.updated",
            aggregate_type="service",
            aggregate_id=service.id,
            payload={"action": "deleted"},
        )
        service.delete()
        return {"deleted": True, "status": None, "live_referrals": 0}


def service_status_set(
    *, organization: Organization, service_id: uuid.UUID, status: str, alert: str | None
) -> Service:
    """Close a service for a while (`temporarily closed`) or open it again (`active`)."""
    with transaction.atomic():
        service = _own_service_locked(organization, service_id)
        if service.status == status and (alert is None or alert == service.alert):
            return service
        service.status = status
        if alert is not None:
            service.alert = alert
        service.last_modified = timezone.now()
        service.save(update_fields=["status", "alert", "last_modified"])
        event_record(
            type="service.closed" if status != Service.Status.ACTIVE else "service.updated",
            aggregate_type="service",
            aggregate_id=service.id,
            payload={"status": status, "changes": ["status"]},
        )
    return service


def service_confirm(*, organization: Organization, service_id: uuid.UUID) -> Service:
    """The organisation says the service is current: it is no longer stale."""
    with transaction.atomic():
        service = _own_service_locked(organization, service_id)
        service.assured_date = timezone.localdate()
        service.save(update_fields=["assured_date"])
        event_record(
            type="service.updated",
            aggregate_type="service",
            aggregate_id=service.id,
            payload={"action": "confirmed", "changes": ["assured_date"]},
        )
    return service


# --- Service at location, schedules, capacity ---------------------------------------


def _own_service_at_location(organization: Organization, sal_id: uuid.UUID) -> ServiceAtLocation:
    sal = (
        ServiceAtLocation.objects.select_related("service")
        .filter(id=sal_id, service__organization=organization)
        .first()
    )
    if sal is None:
        raise NotFound("No such service_at_location in your organisation.")
    return sal


def _sal_in(document: dict[str, Any], sal_id: uuid.UUID) -> dict[str, Any]:
    for sal in document.get("service_at_locations", []):
        if sal["id"] == str(sal_id):
            sal.pop("location", None)
            return sal
    raise NotFound("No such service_at_location.")


def service_at_location_create(
    *, organization: Organization, service_id: uuid.UUID, data: dict[str, Any]
) -> ServiceAtLocation:
    # Whose the service is comes first: another organisation learns nothing from the body.
    if not Service.objects.filter(id=service_id, organization=organization).exists():
        raise NotFound("No such service in your organisation.")
    data = ids_fill(copy.deepcopy(data))
    location_id = _uuid(data.get("location_id"), "location_id")
    if not Location.objects.filter(id=location_id, organization=organization).exists():
        raise InvalidInput(
            "No such location in your organisation.",
            fields=[FieldProblem("location_id", "no such location in your organisation")],
        )
    if ServiceAtLocation.objects.filter(service_id=service_id, location_id=location_id).exists():
        raise Conflict(
            "The service is already offered at this location.",
            fields=[FieldProblem("location_id", "already linked to this service")],
        )
    new_id = str(uuid.uuid4())

    def add(document: dict[str, Any]) -> None:
        for sal in document.get("service_at_locations", []):
            sal.pop("location", None)
        document.setdefault("service_at_locations", []).append(
            {**data, "id": new_id, "location_id": str(location_id)}
        )

    _service_edit(organization, service_id, add)
    return ServiceAtLocation.objects.get(id=new_id)


def service_at_location_update(
    *, organization: Organization, sal_id: uuid.UUID, changes: dict[str, Any]
) -> ServiceAtLocation:
    changes = ids_fill(copy.deepcopy(changes))
    if {"id", "location_id", "location"} & set(changes):
        raise InvalidInput(
            "The location of a service_at_location cannot change; create another one.",
            fields=[FieldProblem("location_id", "cannot change")],
        )
    sal = _own_service_at_location(organization, sal_id)
    _service_edit(organization, sal.service_id, lambda doc: _sal_in(doc, sal_id).update(changes))
    return ServiceAtLocation.objects.get(id=sal_id)


def service_at_location_delete(*, organization: Organization, sal_id: uuid.UUID) -> None:
    sal = _own_service_at_location(organization, sal_id)

    def remove(document: dict[str, Any]) -> None:
        _sal_in(document, sal_id)
        document["service_at_locations"] = [
            s for s in document["service_at_locations"] if s["id"] != str(sal_id)
        ]

    _service_edit(organization, sal.service_id, remove)


def schedule_save(
    *,
    organization: Organization,
    sal_id: uuid.UUID,
    schedule_id: uuid.UUID | None,
    data: dict[str, Any] | None,
) -> uuid.UUID:
    """Add (`schedule_id` None), change or (`data` None) remove one schedule of a
    service_at_location. Returns the schedule's id."""
    sal = _own_service_at_location(organization, sal_id)
    target = str(schedule_id or uuid.uuid4())

    def edit(document: dict[str, Any]) -> None:
        at = _sal_in(document, sal_id)
        schedules = at.setdefault("schedules", [])
        index = next((i for i, s in enumerate(schedules) if s["id"] == target), None)
        if schedule_id is not None and index is None:
            raise NotFound("No such schedule.")
        if data is None:
            assert index is not None
            schedules.pop(index)
        elif index is None:
            schedules.append({**data, "id": target})
        else:
            schedules[index] = {**schedules[index], **data, "id": target}

    _service_edit(organization, sal.service_id, edit)
    return uuid.UUID(target)


def capacity_set(
    *,
    organization: Organization,
    sal_id: uuid.UUID,
    status: str | None,
    available: int | None,
    maximum: int | None,
    fields_set: set[str],
) -> ServiceAtLocation:
    """Set places left and the capacity status. Giving only `available` sets the status
    too: 0 is `no-capacity`, more is `has-capacity`."""
    with transaction.atomic():
        sal = (
            ServiceAtLocation.objects.select_for_update()
            .filter(id=sal_id, service__organization=organization)
            .first()
        )
        if sal is None:
            raise NotFound("No such service_at_location in your organisation.")
        before = (sal.capacity_status, sal.capacity_available, sal.capacity_maximum)
        if "maximum" in fields_set:
            sal.capacity_maximum = maximum
        if "available" in fields_set:
            sal.capacity_available = available
        if status is not None:
            sal.capacity_status = status
        elif "available" in fields_set and available is not None:
            sal.capacity_status = (
                ServiceAtLocation.CapacityStatus.NO_CAPACITY
                if available == 0
                else ServiceAtLocation.CapacityStatus.HAS_CAPACITY
            )
        if (
            sal.capacity_available is not None
            and sal.capacity_maximum is not None
            and sal.capacity_available > sal.capacity_maximum
        ):
            raise InvalidInput(
                "available cannot exceed maximum.",
                fields=[FieldProblem("available", "exceeds maximum")],
            )
        sal.capacity_updated = timezone.now()
        sal.save()
        after = (sal.capacity_status, sal.capacity_available, sal.capacity_maximum)
        if after != before:
            event_record(
                type="capacity.changed",
                aggregate_type="service",
                aggregate_id=sal.service_id,
                payload={
                    "service_at_location_id": str(sal.id),
                    "status": sal.capacity_status,
                    "available": sal.capacity_available,
                    "maximum": sal.capacity_maximum,
                },
            )
    return sal


# --- Locations -----------------------------------------------------------------------


def location_save(
    *,
    organization: Organization,
    location_id: uuid.UUID | None,
    changes: dict[str, Any],
) -> Location:
    """Create a location (`location_id` None) or change the given fields of one."""
    changes = ids_fill(copy.deepcopy(changes))
    if "id" in changes:
        raise InvalidInput("The id is set by Tisser.", fields=[FieldProblem("id", "read-only")])
    with transaction.atomic():
        before: dict[str, Any] | None = None
        if location_id is None:
            document: dict[str, Any] = {"id": str(uuid.uuid4()), **changes}
        else:
            before = location_export(_own_location(organization, location_id))
            document = {**before, **changes}
        warnings: list[tuple[str, str]] = []
        try:
            data = HsdsLocation.model_validate(document, context={"warnings": warnings})
        except PydanticValidationError as exc:
            raise InvalidInput(
                "The location is not valid.",
                fields=[FieldProblem(f or "body", m) for f, m in validation_problems(exc)],
            ) from None
        if warnings:
            raise InvalidInput(
                "The location is not valid.",
                fields=[FieldProblem(f.rsplit(".", 1)[-1], m) for f, m in warnings],
            )
        location = location_write(data, organization)
        changed = location_id is None or location_export(location) != before
        service_ids = set(location.service_at_locations.values_list("service_id", flat=True))
        if service_ids and changed:
            # A place is part of every service met there: their `last_modified` moves
            # with it, so that a harvester asking for `modified_after` sees the change.
            Service.objects.filter(id__in=service_ids).update(last_modified=timezone.now())
            events_record(
                [
                    EventDraft(
                        type="service.updated",
                        aggregate_type="service",
                        aggregate_id=service_id,
                        payload={"action": "updated", "changes": ["location"]},
                    )
                    for service_id in sorted(service_ids)
                ]
            )
    return location


def _own_location(organization: Organization, location_id: uuid.UUID) -> Location:
    location = (
        Location.objects.filter(id=location_id, organization=organization)
        .prefetch_related(*LOCATION_PARTS)
        .first()
    )
    if location is None:
        raise NotFound("No such location in your organisation.")
    return location


def location_delete(*, organization: Organization, location_id: uuid.UUID) -> None:
    with transaction.atomic():
        location = _own_location(organization, location_id)
        used = list(
            location.service_at_locations.values_list("service__name", flat=True).order_by(
                "service__name"
            )
        )
        if used:
            raise Conflict(
                f"Services still meet here: {', '.join(used)}. Remove them from this "
                "location first.",
                extra={"services": used},
            )
        location.delete()
