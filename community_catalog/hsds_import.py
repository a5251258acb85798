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

from community_catalog.changes import rows_written
from community_catalog.hsds import (
    PROBLEMS_LISTED,
    ReadResult,
    RecordProblem,
)
from community_catalog.hsds_writer import ImportWriter
from community_catalog.models import (
    Location,
    Organization,
    Service,
    ServiceAtLocation,
)
from community_catalog.selectors import IDS_PER_QUERY
from core.collector import collection_paused
from core.lookups import any_of
from events.outbox import events_record


@dataclass
class ImportReport:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    # One entry per record imported, and per invalid record whose problems are listed.
    services: list[dict[str, Any]] = field(default_factory=list)
    # The first problems (PROBLEMS_LISTED); the invalid records none of whose problems
    # are listed are only counted.
    errors: list[dict[str, Any]] = field(default_factory=list)
    more_invalid_records: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    more_warnings: int = 0
    # Terms of other taxonomies the file's services carry that nothing maps to Tisser's
    # codes yet: kept, and listed for an operator (`tisser crosswalk unmapped`).
    unmapped_terms: list[dict[str, Any]] = field(default_factory=list)
    # With `exports`: each service written (created, updated or unchanged), as HSDS.
    exports: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict, repr=False)


class ImportRejected(Exception):
    """Some records are invalid and skipping was not asked for: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} problem(s)")
        self.report = report


def _pairs(
    rows: Any, *, where: str, ids: set[uuid.UUID], key: str, value: str | tuple[str, ...]
) -> dict[Any, Any]:
    """`{key: value}` for the rows whose `where` column is in `ids`, in chunks of ids
    (several value columns give a tuple of values)."""
    found: dict[Any, Any] = {}
    listed = list(ids)
    for start in range(0, len(listed), IDS_PER_QUERY):
        chunk = listed[start : start + IDS_PER_QUERY]
        if isinstance(value, str):
            found.update(rows.filter(any_of(where, chunk)).values_list(key, value))
        else:
            for found_key, *values in rows.filter(any_of(where, chunk)).values_list(key, *value):
                found[found_key] = tuple(values)
    return found


@dataclass
class _Known:
    """What the database already holds of a document's ids."""

    service_owner: dict[uuid.UUID, uuid.UUID]
    location_owner: dict[uuid.UUID, uuid.UUID]
    # service_at_location id → (service id, location id)
    sals: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]]
    # A place referrals were sent to, by its service: it cannot disappear from under them.
    referred_by_service: dict[uuid.UUID, list[uuid.UUID]]


def _known(read: ReadResult) -> _Known:
    service_ids = {r.id for _, r in read.records}
    location_ids = {
        sal.target_location_id for _, r in read.records for sal in r.service_at_locations
    }
    sal_ids = {sal.id for _, r in read.records for sal in r.service_at_locations}
    service_owner = _pairs(
        Service.objects, where="id", ids=service_ids, key="id", value="organization_id"
    )
    sals = _pairs(
        ServiceAtLocation.objects,
        where="id",
        ids=sal_ids,
        key="id",
        value=("service_id", "location_id"),
    )
    # Only services already there can have places people were referred to.
    referred = _pairs(
        ServiceAtLocation.objects.filter(matches__isnull=False).distinct(),
        where="service_id",
        ids=set(service_owner),
        key="id",
        value="service_id",
    )
    referred_by_service: dict[uuid.UUID, list[uuid.UUID]] = {}
    for sal_id, service_id in referred.items():
        if sal_id not in sal_ids:
            referred_by_service.setdefault(service_id, []).append(sal_id)
    return _Known(
        service_owner=service_owner,
        location_owner=_pairs(
            Location.objects, where="id", ids=location_ids, key="id", value="organization_id"
        ),
        sals=sals,
        referred_by_service=referred_by_service,
    )


def _owner_problems(
    read: ReadResult, organization: Organization | None, known: _Known
) -> dict[int, list[RecordProblem]]:
    """Records that would touch another organisation's data, by record index."""
    service_owner, location_owner = known.service_owner, known.location_owner
    referred_by_service = known.referred_by_service
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
            service_id, location_id = known.sals.get(sal.id, (record.id, sal.target_location_id))
            if service_id != record.id:
                refuse(f"service_at_locations[{i}].id", "this id belongs to another service")
            elif location_id != sal.target_location_id:
                # A service at a place is that place: referrals point at it.
                refuse(
                    f"service_at_locations[{i}].location_id",
                    "a service_at_location cannot move to another location; give the new "
                    "place a new service_at_location",
                )
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


@collection_paused()
def hsds_import(
    read: ReadResult,
    *,
    organization: Organization | None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int], object] | None = None,
    exports: bool = False,
) -> ImportReport:
    """Import the checked records of a document for `organization` (None: an operator's
    import, where each service names its organization, created when new). `exports`:
    the report gives each service written as HSDS, as it now is (a harvest's baseline),
    made from what was written rather than read back where it can be."""
    report = ImportReport(dry_run=dry_run)
    known = _known(read)
    owner_problems = _owner_problems(read, organization, known)
    invalid = read.invalid | owner_problems.keys()
    _problems_list(
        report, read, [p for found in owner_problems.values() for p in found], invalid=invalid
    )
    report.skipped = len(invalid)
    if invalid and not skip_invalid:
        report.warnings, report.more_warnings = _listed([w.as_dict() for w in read.warnings])
        raise ImportRejected(report)

    records = [(i, r) for i, r in read.records if i not in invalid]
    existing = known.service_owner.keys()
    writer = ImportWriter(
        organization=organization, known_locations=set(known.location_owner), exports=exports
    )
    with transaction.atomic():
        writer.foreign_terms_prepare(r for _, r in records)
        for index, record in records:
            if record.id in existing:
                outcome = writer.service_write(record)
            else:
                outcome = writer.service_add(record)
            report.services.append({"record": index, **outcome})
            setattr(report, outcome["action"], getattr(report, outcome["action"]) + 1)
            if progress:
                progress(1)
        writer.rows.flush()
        writer.location_changes_announce()
        if exports:
            created = [r.id for _, r in records if r.id not in existing]
            report.exports = writer.exports(created, [r.id for _, r in records if r.id in existing])
        if writer.events:
            # What derives from the catalogue builds from the rows written, not read back.
            with rows_written(writer.rows.written):
                events_record(writer.events)
        if dry_run:
            transaction.set_rollback(True)
    report.warnings, report.more_warnings = _listed(
        [w.as_dict() for w in read.warnings] + writer.warnings
    )
    report.unmapped_terms = writer.unmapped_report()
    report.services.sort(key=lambda s: s["record"])
    return report


def _problems_list(
    report: ImportReport,
    read: ReadResult,
    owner_problems: list[RecordProblem],
    *,
    invalid: set[int],
) -> None:
    """The first problems of the file, whether found reading or checking ownership, and
    an entry in `services` for each record they name; the other invalid records are
    counted."""
    listed = sorted(read.errors + owner_problems, key=lambda p: p.record)[:PROBLEMS_LISTED]
    report.errors = [p.as_dict() for p in listed]
    named = sorted({p.record for p in listed})
    for index in named:
        record_id, name = read.labels.get(index, ("", ""))
        report.services.append(
            {"record": index, "id": record_id, "name": name, "action": "skipped"}
        )
    report.more_invalid_records = len(invalid) - len(named)


def _listed(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The first PROBLEMS_LISTED items, and how many more there are."""
    return items[:PROBLEMS_LISTED], max(len(items) - PROBLEMS_LISTED, 0)
