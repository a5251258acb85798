"""The HSDS export of services an import has just created, made from the rows it wrote
rather than read back from the database: what a harvest keeps as the baseline of each
field (`harvest.runs`), at a fraction of the cost of reading a service's seventeen
tables again.

The export is `hsds_export.service_export` itself, given objects made from the rows
(each row completed with its columns' defaults, as stored) where it is usually given
model instances: the same code makes both. What the database would hand back
differently is made the same first, or the service is left to be read back:

- a decimal (a cost's amount) is what the column keeps (at most its decimal places; one
  with more, which the database would round, is read back);
- a moment is in UTC, as the database hands it back; one without a time zone (the
  database would read it in the server's) is read back, and so is a -0.0 (SQLite
  keeps 0.0);
- related objects come in the order of their model's `Meta.ordering`, as prefetching
  reads them (the relation to the owner is the same for all, the rest are ids and codes).

Only services whose every row is among those written can be made so: a service met at
a place that was in the catalogue before the import is read back (the place's other
parts are not among the rows).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from django.db import models

from community_catalog.changes import row_completed
from community_catalog.hsds_export import service_export
from community_catalog.models import Location, Service, ServiceAtLocation

Rows = Mapping[type[models.Model], Sequence[Mapping[str, Any]]]


class _NotAsStored(Exception):
    """A value the database would not hand back as it was written."""


def _stored_value(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a value of `field` comes back from the database, for the types where that is
    not the value written (None: as written)."""
    if isinstance(field, models.DecimalField):
        places = field.decimal_places

        def decimal(value: Any) -> Any:
            if value is None:
                return None
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
            exponent = number.as_tuple().exponent
            if not isinstance(exponent, int) or exponent < -places:
                raise _NotAsStored(field.name)
            return number

        return decimal
    if isinstance(field, models.FloatField):

        def number(value: Any) -> Any:
            if isinstance(value, float) and value == 0.0 and math.copysign(1.0, value) < 0:
                raise _NotAsStored(field.name)  # -0.0: SQLite keeps 0.0, PostgreSQL -0.0
            return value

        return number
    if isinstance(field, models.DateTimeField):

        def moment(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise _NotAsStored(field.name)
            return value.astimezone(UTC)

        return moment
    return None


class _Objects:
    """The rows of one table as stored objects, by id, each with empty lists of the
    related objects `hsds_export` reads ahead (filled in by `_Graph`)."""

    def __init__(self, model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
        complete = row_completed(model)
        stored = [
            (f.attname, convert)
            for f in model._meta.concrete_fields
            if (convert := _stored_value(f)) is not None
        ]
        self.model = model
        self.objects: list[SimpleNamespace] = []
        # Rows whose values would not come back as written: their services are read back.
        self.inexact: list[SimpleNamespace] = []
        for row in rows:
            obj = complete(row)
            try:
                for name, convert in stored:
                    setattr(obj, name, convert(getattr(obj, name)))
            except _NotAsStored:
                self.inexact.append(obj)
            self.objects.append(obj)


def _order(model: type[models.Model]) -> Callable[[Any], tuple[Any, ...]]:
    """The key of `model`'s default ordering, without the relations in it (each list is
    of one owner's objects, which share it)."""
    ordering = list(model._meta.ordering or ())
    if any(not isinstance(name, str) or name.startswith("-") for name in ordering):
        raise ValueError(f"{model.__name__}: only ascending fields are followed")
    fields = [cast(Any, model._meta.get_field(cast(str, name))) for name in ordering]
    names = [f.attname for f in fields if not f.is_relation]
    # A UUID by its number: compared in C (UUID's own comparison runs in Python).
    return lambda obj: tuple(
        value.int if type(value) is uuid.UUID else value
        for value in (getattr(obj, name) for name in names)
    )


class _Graph:
    """The objects of the rows written, each holding its related objects as
    `<relation>_listed`, as `hsds_export.services_for_export` reads them ahead."""

    def __init__(
        self,
        rows: Rows,
        *,
        organizations: Mapping[uuid.UUID, Any],
        terms: Mapping[uuid.UUID, Any],
        foreign_terms: Mapping[uuid.UUID, Any],
    ) -> None:
        tables = {
            model: _Objects(model, table_rows)
            for model, table_rows in rows.items()
            if not model._meta.auto_created
        }
        # By the number of their id: found by a foreign key's number, hashed in C (a
        # UUID's own hash runs in Python).
        self.by_id: dict[type[models.Model], dict[int, SimpleNamespace]] = {
            model: {obj.id.int: obj for obj in table.objects} for model, table in tables.items()
        }
        self.inexact: set[int] = {id(obj) for t in tables.values() for obj in t.inexact}
        # Every reverse relation read ahead starts empty, for every object.
        for model, table in tables.items():
            ordered = sorted(table.objects, key=_order(model))
            for field in model._meta.concrete_fields:
                related_name = _listed_name(field)
                if related_name is None:
                    continue
                owners = self.by_id.get(cast(Any, field).related_model, {})
                for owner in owners.values():
                    owner.__dict__.setdefault(related_name, [])
                for obj in ordered:
                    key = getattr(obj, field.attname)
                    found = None if key is None else owners.get(key.int)
                    if found is not None:
                        found.__dict__[related_name].append(obj)
        for service in self.by_id.get(Service, {}).values():
            service.organization = organizations.get(service.organization_id)
            service.taxonomy_terms_listed = []
            service.foreign_terms_listed = []
        self._terms(rows, Service.taxonomy_terms.through, "taxonomyterm_id", terms)
        self._terms(rows, Service.foreign_terms.through, "foreignterm_id", foreign_terms)
        locations = self.by_id.get(Location, {})
        for sal in self.by_id.get(ServiceAtLocation, {}).values():
            sal.location = locations.get(sal.location_id.int)

    def _terms(
        self,
        rows: Rows,
        through: type[models.Model],
        column: str,
        terms: Mapping[uuid.UUID, Any],
    ) -> None:
        """Each service's terms, as `taxonomy_terms_listed` or `foreign_terms_listed`
        (the export sorts them)."""
        services = self.by_id.get(Service, {})
        listed = {"taxonomyterm_id": "taxonomy_terms_listed"}.get(column, "foreign_terms_listed")
        for row in rows.get(through, ()):
            service = services.get(row["service_id"].int)
            if service is not None:
                service.__dict__[listed].append(terms.get(row[column]))

    def exportable(self, service: SimpleNamespace) -> bool:
        """Whether everything the service's export reads is among the rows, as stored."""
        if service.organization is None or id(service) in self.inexact:
            return False
        if None in service.taxonomy_terms_listed or None in service.foreign_terms_listed:
            return False
        if any(sal.location is None for sal in service.service_at_locations_listed):
            return False  # a place that was there before: its parts are not among the rows
        return not self._inexact_below(service)

    def _inexact_below(self, obj: SimpleNamespace) -> bool:
        """Whether an object the export reads from `obj` down is inexact (a place's
        other services are met too, which at worst reads one back needlessly)."""
        if not self.inexact:
            return False
        seen, todo = {id(obj)}, [obj]
        while todo:
            current = todo.pop()
            below = [
                child
                for name, value in vars(current).items()
                if name.endswith("_listed") and isinstance(value, list)
                for child in value
            ]
            below.append(getattr(current, "location", None))  # a service_at_location's
            for child in below:
                if isinstance(child, SimpleNamespace) and id(child) not in seen:
                    if id(child) in self.inexact:
                        return True
                    seen.add(id(child))
                    todo.append(child)
        return False


def _listed_name(field: models.Field[Any, Any]) -> str | None:
    """`<related_name>_listed` for a foreign key read ahead by the export."""
    if not isinstance(field, models.ForeignKey):
        return None
    related_name = field.remote_field.related_name
    return f"{related_name}_listed" if related_name and related_name != "+" else None


def exports_from_rows(
    rows: Rows,
    service_ids: Iterable[uuid.UUID],
    *,
    organizations: Mapping[uuid.UUID, Any],
    terms: Mapping[uuid.UUID, Any],
    foreign_terms: Mapping[uuid.UUID, Any],
) -> dict[uuid.UUID, dict[str, Any]]:
    """The exports of those of `service_ids` that can be made from `rows` (all the rows
    an import wrote, by model); the others are not in the result, to be read back.
    `organizations`, `terms` and `foreign_terms` are the objects the rows point at, by
    id (they are not among the rows: the import met them, or made them first)."""
    graph = _Graph(rows, organizations=organizations, terms=terms, foreign_terms=foreign_terms)
    services = graph.by_id.get(Service, {})
    exports = {}
    for service_id in service_ids:
        service = services.get(service_id.int)
        if service is not None and graph.exportable(service):
            exports[service_id] = service_export(cast(Service, service))
    return exports
