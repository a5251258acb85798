"""Importing HSDS 3.0 services: upsert by HSDS id, all or nothing.

1. `hsds_read` checks every record (schema, then Tisser's rules).
2. Ownership: an id that belongs to another organisation's service, location or
   service_at_location refuses its record; nothing of another tenant is ever changed.
3. Each service is written with its nested objects, which the file replaces (a schedule
   missing from the file is removed). Locations shared by several services are written
   once per import.
4. A service that already existed is exported before and after: if nothing changed, its
   savepoint is rolled back, so re-importing the same file writes nothing and announces
   nothing; otherwise the change is announced (`service.updated`, and `capacity.changed`
   or `service.closed` when those parts changed).

A dry run does all of it and rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from community_catalog.hsds import (
    HsdsContact,
    HsdsLanguage,
    HsdsLocation,
    HsdsPhone,
    HsdsSchedule,
    HsdsService,
    HsdsServiceAtLocation,
    ReadResult,
    RecordProblem,
)
from community_catalog.hsds_export import service_export, services_for_export
from community_catalog.models import (
    Accessibility,
    Address,
    Contact,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.schedules import schedule_weekdays
from referrals.outbox import EventDraft, events_record

# Export fields that change on every write and say nothing about the content.
_VOLATILE = ("last_modified",)


@dataclass
class ImportReport:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    services: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


class ImportRejected(Exception):
    """Some records are invalid and skipping was not asked for: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} problem(s)")
        self.report = report


def _owner_problems(
    read: ReadResult, organization: Organization | None
) -> dict[int, list[RecordProblem]]:
    """Records that would touch another organisation's data, by record index."""
    service_ids = {r.id for _, r in read.records}
    location_ids = {
        sal.target_location_id for _, r in read.records for sal in r.service_at_locations
    }
    sal_ids = {sal.id for _, r in read.records for sal in r.service_at_locations}
    service_owner = dict(
        Service.objects.filter(id__in=service_ids).values_list("id", "organization_id")
    )
    location_owner = dict(
        Location.objects.filter(id__in=location_ids).values_list("id", "organization_id")
    )
    sal_service = dict(
        ServiceAtLocation.objects.filter(id__in=sal_ids).values_list("id", "service_id")
    )
    # A place where referrals were sent cannot disappear from under them.
    referred = set(
        ServiceAtLocation.objects.filter(service_id__in=service_ids, matches__isnull=False)
        .exclude(id__in=sal_ids)
        .values_list("id", flat=True)
    )
    referred_by_service: dict[uuid.UUID, list[uuid.UUID]] = {}
    for sal_id, service_id in ServiceAtLocation.objects.filter(id__in=referred).values_list(
        "id", "service_id"
    ):
        referred_by_service.setdefault(service_id, []).append(sal_id)
    problems: dict[int, list[RecordProblem]] = {}
    for index, record in read.records:
        owner = organization.id if organization else record.owner_id

        def refuse(path: str, message: str, index: int = index) -> None:
            problems.setdefault(index, []).append(RecordProblem(index, path, message))

        if owner is None:
            refuse("organization", "each service needs its organization (or organization_id)")
            continue
        if service_owner.get(record.id, owner) != owner:
            refuse("id", "this id belongs to another organisation's service")
        for sal_id in referred_by_service.get(record.id, []):
            refuse(
                "service_at_locations",
                f"service_at_location {sal_id} is missing, but people were referred to it: "
                "keep it in the file (set the service's status to end it)",
            )
        for i, sal in enumerate(record.service_at_locations):
            if sal_service.get(sal.id, record.id) != record.id:
                refuse(f"service_at_locations[{i}].id", "this id belongs to another service")
            location_id = sal.target_location_id
            known_owner = location_owner.get(location_id)
            if known_owner is not None and known_owner != owner:
                refuse(
                    f"service_at_locations[{i}].location.id",
                    "this id belongs to another organisation's location",
                )
            elif known_owner is None and sal.location is None:
                refuse(
                    f"service_at_locations[{i}].location_id",
                    f"no location {location_id}: include the location object",
                )
    return problems


def hsds_import(
    read: ReadResult,
    *,
    organization: Organization | None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import the checked records of a document for `organization` (None: an operator's
    import, where each service names its organization, created when new)."""
    report = ImportReport(dry_run=dry_run)
    report.warnings = [w.as_dict() for w in read.warnings]
    problems: dict[int, list[RecordProblem]] = {}
    for error in read.errors:
        problems.setdefault(error.record, []).append(error)
    for index, found in _owner_problems(read, organization).items():
        problems.setdefault(index, []).extend(found)
    for index, found in sorted(problems.items()):
        report.errors.extend(p.as_dict() for p in found)
        record_id, name = read.labels.get(index, ("", ""))
        report.services.append(
            {"record": index, "id": record_id, "name": name, "action": "skipped"}
        )
    report.skipped = len(problems)
    if problems and not skip_invalid:
        raise ImportRejected(report)

    writer = _Writer(organization=organization)
    with transaction.atomic():
        for index, record in read.records:
            if index in problems:
                continue
            outcome = writer.service_write(record)
            report.services.append({"record": index, **outcome})
            setattr(report, outcome["action"], getattr(report, outcome["action"]) + 1)
            if progress:
                progress(1)
        if writer.events:
            events_record(writer.events)
        if dry_run:
            transaction.set_rollback(True)
    report.warnings.extend(writer.warnings)
    report.services.sort(key=lambda s: s["record"])
    return report


class _Writer:
    """Writes records; remembers which locations this import already wrote."""

    def __init__(self, *, organization: Organization | None) -> None:
        self.organization = organization
        self.organizations: dict[uuid.UUID, Organization] = {}
        self.locations_written: dict[uuid.UUID, HsdsLocation] = {}
        self.terms = {t.code: t for t in TaxonomyTerm.objects.all()}
        self.events: list[EventDraft] = []
        self.warnings: list[dict[str, Any]] = []
        self.now = timezone.now()

    # 1. The owner ----------------------------------------------------------------

    def _owner(self, record: HsdsService) -> Organization:
        if self.organization is not None:
            given = record.organization
            if given and given.id == self.organization.id:
                self._organization_update(self.organization, record)
            return self.organization
        owner_id = record.owner_id
        assert owner_id is not None
        if owner_id not in self.organizations:
            if record.organization is not None:
                org, _ = Organization.objects.update_or_create(
                    id=owner_id, defaults=record.organization.model_dump(exclude={"id"})
                )
            else:
                org = Organization.objects.get(id=owner_id)
            self.organizations[owner_id] = org
        return self.organizations[owner_id]

    def _organization_update(self, organization: Organization, record: HsdsService) -> None:
        if record.organization is None or organization.id in self.organizations:
            return
        for name, value in record.organization.model_dump(exclude={"id"}).items():
            setattr(organization, name, value)
        organization.save()
        self.organizations[organization.id] = organization

    # 2. A service and everything in it -------------------------------------------

    def service_write(self, record: HsdsService) -> dict[str, Any]:
        existing = services_for_export(Service.objects.filter(id=record.id)).first()
        before = service_export(existing) if existing else None
        savepoint = transaction.savepoint()
        service = self._service_upsert(record)
        outcome: dict[str, Any] = {"id": str(service.id), "name": service.name}
        if before is None:
            transaction.savepoint_commit(savepoint)
            self.events.append(_event("service.updated", service, {"action": "created"}))
            return {**outcome, "action": "created"}
        after = service_export(services_for_export(Service.objects.filter(id=service.id)).get())
        changes = sorted(
            k
            for k in before.keys() | after.keys()
            if k not in _VOLATILE and before.get(k) != after.get(k)
        )
        if not changes:
            transaction.savepoint_rollback(savepoint)
            return {**outcome, "action": "unchanged"}
        transaction.savepoint_commit(savepoint)
        self.events.append(
            _event("service.updated", service, {"action": "updated", "changes": changes})
        )
        if "service_at_locations" in changes and _capacities(before) != _capacities(after):
            self.events.append(_event("capacity.changed", service, {"source": "import"}))
        if after["status"] != before["status"] and after["status"] != Service.Status.ACTIVE:
            self.events.append(_event("service.closed", service, {"status": after["status"]}))
        return {**outcome, "action": "updated", "changes": changes}

    def _service_upsert(self, record: HsdsService) -> Service:
        owner = self._owner(record)
        fields = record.model_dump(
            include={
                "name",
                "alternate_name",
                "description",
                "url",
                "email",
                "status",
                "interpretation_services",
                "application_process",
                "fees_description",
                "wait_time",
                "eligibility_description",
                "minimum_age",
                "maximum_age",
                "assured_date",
                "alert",
                "translations",
            }
        )
        fields["last_modified"] = record.last_modified or self.now
        amounts = [c.amount for c in record.cost_options]
        fields["is_free"] = bool(amounts) and all(a == 0 for a in amounts)
        service, created = Service.objects.update_or_create(
            id=record.id, defaults={**fields, "organization": owner}
        )
        if not created:
            for related in (service.phones, service.contacts, service.schedules, service.languages):
                related.all().delete()
            service.cost_options.all().delete()
        _phones_create(record.phones, service=service)
        _contacts_create(record.contacts, service=service)
        _schedules_create(record.schedules, service=service)
        _languages_create(record.languages, service=service)
        CostOption.objects.bulk_create(
            CostOption(hsds_id=c.id, service=service, **c.model_dump(exclude={"id"}))
            for c in record.cost_options
        )
        service.taxonomy_terms.set(self._terms(record))

        kept = [sal.id for sal in record.service_at_locations]
        service.service_at_locations.exclude(id__in=kept).delete()
        for sal in record.service_at_locations:
            self._service_at_location_write(sal, service, owner)
        return service

    def _terms(self, record: HsdsService) -> list[TaxonomyTerm]:
        terms = []
        for i, attribute in enumerate(record.attributes):
            term = attribute.taxonomy_term
            if term is None:
                continue
            if term.code in self.terms:
                terms.append(self.terms[term.code])
            else:
                self.warnings.append(
                    {
                        "field": f"service {record.id}.attributes[{i}].taxonomy_term.code",
                        "message": f"{term.code!r} is not a Tisser taxonomy code; ignored "
                        "(GET /api/v1/catalog/taxonomy lists them)",
                    }
                )
        return terms

    def _service_at_location_write(
        self, record: HsdsServiceAtLocation, service: Service, owner: Organization
    ) -> None:
        location = self._location_write(record, owner)
        capacity = record.capacity
        fields: dict[str, Any] = {
            "service": service,
            "location": location,
            "description": record.description,
        }
        if capacity is not None:
            fields.update(
                capacity_status=capacity.status,
                capacity_available=capacity.available,
                capacity_maximum=capacity.maximum,
                capacity_updated=capacity.updated,
            )
        sal, created = ServiceAtLocation.objects.update_or_create(id=record.id, defaults=fields)
        if not created:
            for related in (sal.phones, sal.contacts, sal.schedules):
                related.all().delete()
        _phones_create(record.phones, service_at_location=sal)
        _contacts_create(record.contacts, service_at_location=sal)
        _schedules_create(record.schedules, service_at_location=sal)

    def _location_write(self, record: HsdsServiceAtLocation, owner: Organization) -> Location:
        data = record.location
        if data is None or data.id in self.locations_written:
            if data is not None and data != self.locations_written[data.id]:
                self.warnings.append(
                    {
                        "field": f"location {data.id}",
                        "message": "this location appears more than once with different "
                        "data; the first was kept",
                    }
                )
            return Location.objects.get(id=record.target_location_id)
        self.locations_written[data.id] = data
        return location_write(data, owner)


def location_write(data: HsdsLocation, owner: Organization) -> Location:
    """Create or replace a location and everything nested in it."""
    location, created = Location.objects.update_or_create(
        id=data.id,
        defaults={
            "organization": owner,
            "is_confidential": data.confidential,
            **data.model_dump(
                include={
                    "location_type",
                    "url",
                    "name",
                    "alternate_name",
                    "description",
                    "transportation",
                    "latitude",
                    "longitude",
                }
            ),
        },
    )
    if not created:
        for related in (
            location.languages,
            location.addresses,
            location.accessibility,
            location.phones,
            location.contacts,
            location.schedules,
        ):
            related.all().delete()
    _languages_create(data.languages, location=location)
    Address.objects.bulk_create(
        Address(hsds_id=a.id, location=location, **a.model_dump(exclude={"id"}))
        for a in data.addresses
    )
    Accessibility.objects.bulk_create(
        Accessibility(hsds_id=a.id, location=location, **a.model_dump(exclude={"id"}))
        for a in data.accessibility
    )
    _phones_create(data.phones, location=location)
    _contacts_create(data.contacts, location=location)
    _schedules_create(data.schedules, location=location)
    return location


def _event(type: str, service: Service, payload: dict[str, Any]) -> EventDraft:
    return EventDraft(type=type, aggregate_type="service", aggregate_id=service.id, payload=payload)


def _capacities(exported: dict[str, Any]) -> list[Any]:
    return [sal.get("capacity") for sal in exported.get("service_at_locations", [])]


def _languages_create(records: list[HsdsLanguage], **owner: Any) -> None:
    Language.objects.bulk_create(
        Language(hsds_id=r.id, name=r.name, code=r.code or "", note=r.note, **owner)
        for r in records
    )


def _phones_create(records: list[HsdsPhone], **owner: Any) -> None:
    for r in records:
        phone = Phone.objects.create(
            hsds_id=r.id,
            number=r.number,
            extension=r.extension,
            type=r.type,
            description=r.description,
            **owner,
        )
        _languages_create(r.languages, phone=phone)


def _contacts_create(records: list[HsdsContact], **owner: Any) -> None:
    for r in records:
        contact = Contact.objects.create(
            hsds_id=r.id,
            name=r.name,
            title=r.title,
            department=r.department,
            email=r.email,
            **owner,
        )
        _phones_create(r.phones, contact=contact)


def _schedules_create(records: list[HsdsSchedule], **owner: Any) -> None:
    schedules = [Schedule(hsds_id=r.id, **r.model_dump(exclude={"id"}), **owner) for r in records]
    for schedule in schedules:
        schedule.freq = schedule.freq or ""
        schedule.wkst = schedule.wkst or ""
        schedule.weekdays = schedule_weekdays(schedule)
    Schedule.objects.bulk_create(schedules)
