"""Writing an import's valid records: the rows each service needs, written in batches with
one INSERT per table, and the events that announce each change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from community_catalog.costs import cost_state
from community_catalog.hsds_export import location_export, service_export, services_for_export
from community_catalog.hsds_records import (
    HsdsContact,
    HsdsLanguage,
    HsdsLocation,
    HsdsPhone,
    HsdsSchedule,
    HsdsService,
    HsdsServiceAtLocation,
    HsdsTaxonomyTerm,
)
from community_catalog.hsds_written import exports_from_rows
from community_catalog.models import (
    Accessibility,
    Address,
    Contact,
    CostOption,
    ForeignTerm,
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
from community_catalog.taxonomy import is_tisser_taxonomy, taxonomy_current, taxonomy_read_lock
from core.bulk import values_insert
from events.outbox import EventDraft

# Export fields that change on every write and say nothing about the content.
_VOLATILE = ("last_modified",)


class ImportRows:
    """Rows to insert, as `{attname: value}`, flushed with one INSERT per table in
    dependency order (no model instance is made for them).

    Ids are made in Python (uuid4), so rows can point at each other before any is saved.
    """

    ORDER: tuple[type[Any], ...] = (
        Location,
        Service,
        ServiceAtLocation,
        Contact,
        Phone,
        Language,
        Address,
        Accessibility,
        CostOption,
        Schedule,
        Service.taxonomy_terms.through,
        Service.foreign_terms.through,
    )

    # The tables whose rows are kept once written, for what derives from the catalogue
    # (`community_catalog.changes.rows_written`: matching's index).
    KEPT: tuple[type[Any], ...] = (
        Location,
        Service,
        ServiceAtLocation,
        Language,
        Schedule,
        Service.taxonomy_terms.through,
        Service.foreign_terms.through,
    )

    def __init__(self, *, keep_all: bool = False) -> None:
        self.pending: dict[type[Any], list[dict[str, Any]]] = {model: [] for model in self.ORDER}
        # The rows of KEPT tables written so far (of every table: `keep_all`).
        kept = self.ORDER if keep_all else self.KEPT
        self.written: dict[type[Any], list[dict[str, Any]]] = {model: [] for model in kept}

    def add(self, model: type[Any], **values: Any) -> None:
        self.pending[model].append(values)

    def __len__(self) -> int:
        return len(self.pending[Service])

    def flush(self) -> None:
        for model in self.ORDER:
            if self.pending[model]:
                values_insert(model, self.pending[model])
                if model in self.written:
                    self.written[model].extend(self.pending[model])
                self.pending[model] = []

    # Nested HSDS objects, under their owner (`service_id=…`, `location_id=…`) ----------

    def languages(self, records: list[HsdsLanguage], **owner: uuid.UUID) -> None:
        for r in records:
            self.add(
                Language,
                id=uuid.uuid4(),
                hsds_id=r.id,
                name=r.name,
                code=r.code or "",
                note=r.note,
                **owner,
            )

    def phones(self, records: list[HsdsPhone], **owner: uuid.UUID) -> None:
        for r in records:
            phone_id = uuid.uuid4()
            self.add(
                Phone,
                id=phone_id,
                hsds_id=r.id,
                number=r.number,
                extension=r.extension,
                type=r.type,
                description=r.description,
                **owner,
            )
            self.languages(r.languages, phone_id=phone_id)

    def contacts(self, records: list[HsdsContact], **owner: uuid.UUID) -> None:
        for r in records:
            contact_id = uuid.uuid4()
            self.add(
                Contact,
                id=contact_id,
                hsds_id=r.id,
                name=r.name,
                title=r.title,
                department=r.department,
                email=r.email,
                **owner,
            )
            self.phones(r.phones, contact_id=contact_id)

    def schedules(self, records: list[HsdsSchedule], **owner: uuid.UUID) -> None:
        for r in records:
            fields = r.model_dump(exclude={"id"})
            fields["freq"] = fields["freq"] or ""
            fields["wkst"] = fields["wkst"] or ""
            fields["weekdays"] = schedule_weekdays(r)
            self.add(Schedule, id=uuid.uuid4(), hsds_id=r.id, **fields, **owner)

    def location_children(self, data: HsdsLocation, location_id: uuid.UUID) -> None:
        self.languages(data.languages, location_id=location_id)
        for a in data.addresses:
            self.add(
                Address,
                id=uuid.uuid4(),
                hsds_id=a.id,
                location_id=location_id,
                **a.model_dump(exclude={"id"}),
            )
        for access in data.accessibility:
            self.add(
                Accessibility,
                id=uuid.uuid4(),
                hsds_id=access.id,
                location_id=location_id,
                **access.model_dump(exclude={"id"}),
            )
        self.phones(data.phones, location_id=location_id)
        self.contacts(data.contacts, location_id=location_id)
        self.schedules(data.schedules, location_id=location_id)


_SERVICE_FIELDS = {
    "name",
    "alternate_name",
    "description",
    "url",
    "email",
    "status",
    "interpretation_services",
    "application_process",
    "what_to_bring",
    "fees_description",
    "wait_time",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "assured_date",
    "alert",
    "translations",
}
_LOCATION_FIELDS = {
    "location_type",
    "url",
    "name",
    "alternate_name",
    "description",
    "transportation",
    "latitude",
    "longitude",
}
_TERMS = Service.taxonomy_terms.through
_FOREIGN_TERMS = Service.foreign_terms.through
# New services are inserted in batches of this many.
_BATCH = 500


def _places(export: dict[str, Any]) -> list[dict[str, Any]]:
    places = export.get("service_at_locations")
    return [p for p in places if isinstance(p, dict)] if isinstance(places, list) else []


class ImportWriter:
    """Writes records. New services are batched; a service that exists is replaced in a
    savepoint and compared with what it was. Locations are written once per import."""

    def __init__(
        self,
        *,
        organization: Organization | None,
        known_locations: set[uuid.UUID],
        exports: bool = False,
    ) -> None:
        self.organization = organization
        # Locations already in the database among those the file names.
        self.known_locations = known_locations
        self.organizations: dict[uuid.UUID, Organization] = {}
        # The locations this import has met: the first data given for each.
        self.locations: dict[uuid.UUID, HsdsLocation | None] = {}
        self.terms = {t.code: t for t in TaxonomyTerm.objects.all()}
        self.taxonomy = taxonomy_current()
        # Terms of other taxonomies, by (taxonomy, code); how many services carry each
        # unmapped one in this file.
        self.foreign: dict[tuple[str, str], ForeignTerm] = {}
        self.unmapped: dict[tuple[str, str], int] = {}
        # `exports`: what each service written came to, as HSDS (`exports`), is asked for.
        self.rows = ImportRows(keep_all=exports)
        # The exports of services that existed, made when they were compared, and the
        # record each was compared at (`written_at` says when a place or an
        # organisation was last written: an export made before is out of date).
        self.after: dict[uuid.UUID, dict[str, Any]] = {}
        self.after_at: dict[uuid.UUID, int] = {}
        self.written_at: dict[uuid.UUID, int] = {}
        self.record_number = 0
        self.replacing: set[uuid.UUID] = set()
        self.locations_changed: set[uuid.UUID] = set()
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
                self.written_at[owner_id] = self.record_number
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
        self.written_at[organization.id] = self.record_number

    # 2. A new service: rows for the next batch ------------------------------------

    def service_add(self, record: HsdsService) -> dict[str, Any]:
        self.record_number += 1
        owner = self._owner(record)
        self.rows.add(
            Service, id=record.id, organization_id=owner.id, **self._service_fields(record)
        )
        self._service_children(record, record.id, owner)
        self.events.append(_event("service.updated", record.id, owner.id, {"action": "created"}))
        if len(self.rows) >= _BATCH:
            self.rows.flush()
        return {"id": str(record.id), "name": record.name, "action": "created"}

    def _service_fields(self, record: HsdsService) -> dict[str, Any]:
        fields = record.model_dump(include=_SERVICE_FIELDS)
        fields["last_modified"] = record.last_modified or self.now
        fields["cost_declared"] = record.cost or ""
        fields["cost"] = cost_state(
            declared=record.cost,
            amounts=[c.amount for c in record.cost_options],
            fees=[
                record.fees_description,
                *(t.get("fees_description", "") for t in record.translations.values()),
            ],
        )
        return fields

    def _service_children(
        self, record: HsdsService, service_id: uuid.UUID, owner: Organization
    ) -> None:
        rows = self.rows
        rows.phones(record.phones, service_id=service_id)
        rows.contacts(record.contacts, service_id=service_id)
        rows.schedules(record.schedules, service_id=service_id)
        rows.languages(record.languages, service_id=service_id)
        for c in record.cost_options:
            # HSDS lets currency be left out; the column keeps "" for "not given".
            fields = c.model_dump(exclude={"id"})
            fields["currency"] = fields["currency"] or ""
            rows.add(CostOption, id=uuid.uuid4(), hsds_id=c.id, service_id=service_id, **fields)
        tisser_terms, foreign_terms = self._terms(record)
        for term in tisser_terms:
            rows.add(_TERMS, service_id=service_id, taxonomyterm_id=term.id)
        for foreign in foreign_terms:
            rows.add(_FOREIGN_TERMS, service_id=service_id, foreignterm_id=foreign.id)
        for sal in record.service_at_locations:
            self._service_at_location_add(sal, service_id, owner)

    def _service_at_location_add(
        self, record: HsdsServiceAtLocation, service_id: uuid.UUID, owner: Organization
    ) -> None:
        fields: dict[str, Any] = {
            "service_id": service_id,
            "location_id": self._location(record, owner),
            "description": record.description,
        }
        if record.capacity is not None:
            fields.update(
                capacity_status=record.capacity.status,
                capacity_available=record.capacity.available,
                capacity_maximum=record.capacity.maximum,
                capacity_updated=record.capacity.updated,
            )
        existing = (
            ServiceAtLocation.objects.filter(id=record.id, service_id=service_id)
            if service_id in self.replacing
            else None
        )
        if existing is not None and existing.exists():
            # Updated in place: referrals point at it (matches protect it from deletion).
            existing.update(**fields)
            sal = existing.get()
            for related in (sal.phones, sal.contacts, sal.schedules):
                related.all().delete()
        else:
            self.rows.add(ServiceAtLocation, id=record.id, **fields)
        self.rows.phones(record.phones, service_at_location_id=record.id)
        self.rows.contacts(record.contacts, service_at_location_id=record.id)
        self.rows.schedules(record.schedules, service_at_location_id=record.id)

    def _location(self, record: HsdsServiceAtLocation, owner: Organization) -> uuid.UUID:
        """The id of a service_at_location's location: written the first time this import
        describes it (created, or replaced when it exists), reused afterwards. One given
        by id alone exists (`hsds_import` refuses the record otherwise)."""
        data, location_id = record.location, record.target_location_id
        described = self.locations.get(location_id) is not None
        if location_id in self.locations and (data is None or described):
            first = self.locations[location_id]
            if data is not None and first is not None and data != first:
                self.warnings.append(
                    {
                        "field": f"location {location_id}",
                        "message": "this location appears more than once with different "
                        "data; the first was kept",
                    }
                )
            return location_id
        if data is not None and location_id in self.known_locations:
            self.rows.flush()
            before = location_export(Location.objects.get(id=location_id))
            location = location_write(data, owner)
            self.written_at[location_id] = self.record_number
            if location_export(location) != before:
                self.locations_changed.add(location_id)
        elif data is not None:
            self.written_at[location_id] = self.record_number
            self.rows.add(
                Location,
                id=data.id,
                organization_id=owner.id,
                is_confidential=data.confidential,
                **data.model_dump(include=_LOCATION_FIELDS),
            )
            self.rows.location_children(data, data.id)
        self.locations[location_id] = data
        return location_id

    def exports(self, created: list[uuid.UUID], others: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The HSDS exports of services this import wrote (the writer was made with
        `exports`): those it `created` made from the rows written where it can
        (`hsds_written`), those that existed (`others`) as they were compared, the rest
        read back."""
        organizations = dict(self.organizations)
        if self.organization is not None:
            organizations[self.organization.id] = self.organization
        made = (
            exports_from_rows(
                self.rows.written,
                created,
                organizations=organizations,
                terms={t.id: t for t in self.terms.values()},
                foreign_terms={t.id: t for t in self.foreign.values()},
            )
            if created
            else {}
        )
        made |= {i: after for i in others if (after := self._after_current(i)) is not None}
        missing = [i for i in [*created, *others] if i not in made]
        if missing:
            self.rows.flush()
            read = services_for_export(Service.objects.filter(id__in=missing))
            made |= {s.id: service_export(s) for s in read}
        return made

    def _after_current(self, service_id: uuid.UUID) -> dict[str, Any] | None:
        """The export a service's comparison made, unless a later record of the file
        wrote its organisation or one of its places again (changed or not: a value equal
        in Python may not be stored alike, such as -0.0): then None, to read it back."""
        after = self.after.get(service_id)
        if after is None:
            return None
        written = [after.get("organization_id"), *(p.get("location_id") for p in _places(after))]
        compared = self.after_at[service_id]
        for found in written:
            try:
                key = uuid.UUID(str(found))
            except ValueError:
                return None
            if self.written_at.get(key, 0) > compared:
                return None
        return after

    def location_changes_announce(self) -> None:
        """A changed place changes every service met there, not only those in the file."""
        announced = {e.aggregate_id for e in self.events}
        others = (
            ServiceAtLocation.objects.filter(location_id__in=self.locations_changed)
            .exclude(service_id__in=announced)
            .values_list("service_id", flat=True)
            .distinct()
        )
        service_ids = sorted(set(others))
        # Their `last_modified` moves with the place (`modified_after` sees it).
        Service.objects.filter(id__in=service_ids).update(last_modified=self.now)
        for service_id in service_ids:
            self.events.append(
                EventDraft(
                    type="service.updated",
                    aggregate_type="service",
                    aggregate_id=service_id,
                    payload={"action": "updated", "changes": ["location"]},
                )
            )

    # 3. A service that exists: replace, compare, announce what changed ------------

    def service_write(self, record: HsdsService) -> dict[str, Any]:
        self.record_number += 1
        self.rows.flush()
        existing = services_for_export(Service.objects.filter(id=record.id)).get()
        before = service_export(existing)
        written = {model: len(rows) for model, rows in self.rows.written.items()}
        savepoint = transaction.savepoint()
        service = self._service_replace(record)
        outcome: dict[str, Any] = {"id": str(service.id), "name": service.name}
        after = service_export(services_for_export(Service.objects.filter(id=service.id)).get())
        changes = sorted(
            k
            for k in before.keys() | after.keys()
            if k not in _VOLATILE and before.get(k) != after.get(k)
        )
        if not changes:
            transaction.savepoint_rollback(savepoint)
            for model, count in written.items():  # rolled back: not written
                del self.rows.written[model][count:]
            self.after[service.id], self.after_at[service.id] = before, self.record_number
            return {**outcome, "action": "unchanged"}
        transaction.savepoint_commit(savepoint)
        self.after[service.id], self.after_at[service.id] = after, self.record_number
        self.events.append(
            _event(
                "service.updated",
                service.id,
                service.organization_id,
                {"action": "updated", "changes": changes},
            )
        )
        if "service_at_locations" in changes and _capacities(before) != _capacities(after):
            self.events.append(
                _event(
                    "capacity.changed", service.id, service.organization_id, {"source": "import"}
                )
            )
        if after["status"] != before["status"] and after["status"] != Service.Status.ACTIVE:
            self.events.append(
                _event(
                    "service.closed",
                    service.id,
                    service.organization_id,
                    {"status": after["status"]},
                )
            )
        return {**outcome, "action": "updated", "changes": changes}

    def _service_replace(self, record: HsdsService) -> Service:
        owner = self._owner(record)
        service, _ = Service.objects.update_or_create(
            id=record.id, defaults={**self._service_fields(record), "organization": owner}
        )
        for related in (service.phones, service.contacts, service.schedules, service.languages):
            related.all().delete()
        service.cost_options.all().delete()
        service.taxonomy_terms.clear()
        service.foreign_terms.clear()
        kept = [sal.id for sal in record.service_at_locations]
        service.service_at_locations.exclude(id__in=kept).delete()
        self.replacing.add(service.id)
        self._service_children(record, service.id, owner)
        self.rows.flush()
        self.replacing.discard(service.id)
        return service

    def foreign_terms_prepare(self, records: Iterable[HsdsService]) -> None:
        """The rows of the other taxonomies' terms these records carry, created when new
        (in the import's transaction: a dry run creates none). A label the directory
        gives later fills one that was empty."""
        wanted: dict[tuple[str, str], str] = {}
        for record in records:
            for attribute in record.attributes:
                term = attribute.taxonomy_term
                if term is not None and not self._is_tisser(term):
                    key = (term.taxonomy_key, term.term_code)
                    if key[1] and not wanted.get(key):
                        wanted[key] = " ".join(term.name.split())[:300]
        if not wanted:
            return
        taxonomy_read_lock()
        # The crosswalks as they are now that no change can be under way: read again.
        self.taxonomy = taxonomy_current()
        found = self._foreign_rows(wanted)
        missing = sorted(k for k in wanted if k not in found)
        if missing:
            ForeignTerm.objects.bulk_create(
                [ForeignTerm(taxonomy=t, code=c, label=wanted[(t, c)]) for t, c in missing],
                ignore_conflicts=True,  # another import may create the same term meanwhile
            )
            found = self._foreign_rows(wanted)
        for key, row in found.items():
            if not row.label and wanted[key]:
                row.label = wanted[key]
                row.save(update_fields=["label"])
        self.foreign = found

    @staticmethod
    def _foreign_rows(wanted: dict[tuple[str, str], str]) -> dict[tuple[str, str], ForeignTerm]:
        """The rows, held until the import commits: a crosswalk change to one of these
        terms waits for it, and then sees its services (`community_catalog.crosswalks`).
        Always in the same order, so two writers never wait on each other."""
        rows = (
            ForeignTerm.objects.select_for_update()
            .filter(taxonomy__in={t for t, _ in wanted}, code__in={c for _, c in wanted})
            .order_by("taxonomy", "code")
        )
        return {(r.taxonomy, r.code): r for r in rows if (r.taxonomy, r.code) in wanted}

    def _is_tisser(self, term: HsdsTaxonomyTerm) -> bool:
        """A term of Tisser's own taxonomy: named so with a code Tisser knows, or a known
        code with no taxonomy named (Tisser's earlier files, hand-written ones)."""
        taxonomy = term.taxonomy_key
        if taxonomy and not is_tisser_taxonomy(taxonomy):
            return False
        return term.code in self.terms

    def _terms(self, record: HsdsService) -> tuple[list[TaxonomyTerm], list[ForeignTerm]]:
        """Tisser's terms the record carries, and every term of another taxonomy (or a
        code Tisser does not know), kept whether or not a crosswalk maps it."""
        terms: dict[str, TaxonomyTerm] = {}
        foreign: dict[tuple[str, str], ForeignTerm] = {}
        for attribute in record.attributes:
            term = attribute.taxonomy_term
            if term is None:
                continue
            if self._is_tisser(term):
                terms[term.code] = self.terms[term.code]
                continue
            key = (term.taxonomy_key, term.term_code)
            row = self.foreign.get(key)
            if row is None:
                continue  # no code and no name: nothing to keep
            foreign[key] = row
            if self.taxonomy.mapping(*key) is None:
                self.unmapped[key] = self.unmapped.get(key, 0) + 1
        return list(terms.values()), list(foreign.values())

    def unmapped_report(self) -> list[dict[str, Any]]:
        return [
            {
                "taxonomy": taxonomy,
                "code": code,
                "label": self.foreign[(taxonomy, code)].label,
                "services": count,
            }
            for (taxonomy, code), count in sorted(self.unmapped.items())
        ]


def location_write(data: HsdsLocation, owner: Organization) -> Location:
    """Create or replace a location and everything nested in it."""
    location, created = Location.objects.update_or_create(
        id=data.id,
        defaults={
            "organization": owner,
            "is_confidential": data.confidential,
            **data.model_dump(include=_LOCATION_FIELDS),
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
    rows = ImportRows()
    rows.location_children(data, location.id)
    rows.flush()
    return location


def _event(
    type: str, service_id: uuid.UUID, organization_id: uuid.UUID, payload: dict[str, Any]
) -> EventDraft:
    """An event of a service, for its organisation's feed and webhooks."""
    return EventDraft(
        type=type,
        aggregate_type="service",
        aggregate_id=service_id,
        payload=payload,
        organization_id=organization_id,
    )


def _capacities(exported: dict[str, Any]) -> list[Any]:
    return [sal.get("capacity") for sal in exported.get("service_at_locations", [])]
