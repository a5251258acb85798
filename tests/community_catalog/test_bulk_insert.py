"""`core.bulk.rows_insert`, the catalogue's bulk writer: the rows it writes read back
exactly as those Django's `bulk_create` writes, on both backends.

Written before it ran: a twin of each object, one written by `bulk_create`, the other by
`rows_insert`, reads back field for field the same (UUIDs, dates, a decimal, JSON, an
empty string, a null foreign key); a model whose key the database makes (a many-to-many
row) gets one; an `auto_now_add` date is set; the objects are marked saved, so `save()`
afterwards updates them instead of inserting them a second time.
"""

from __future__ import annotations

import uuid
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
from django.db import models

from community_catalog.models import (
    CostOption,
    ForeignTerm,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
)
from core.bulk import rows_insert, values_insert

pytestmark = pytest.mark.django_db


def _values(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    fresh = type(obj)._default_manager.get(pk=obj.pk)
    return {
        f.attname: getattr(fresh, f.attname)
        for f in type(obj)._meta.concrete_fields
        if f.attname not in ("id", *exclude)
    }


def _twins(make: Any) -> tuple[Any, Any]:
    return make(), make()


def test_rows_read_back_as_bulk_create_writes_them() -> None:
    organization = Organization.objects.create(name="Jardins partagés")
    services = _twins(
        lambda: Service(
            organization=organization,
            name="Potager du mercredi",
            description="Jardiner ensemble.",
            translations={"en": {"name": "Wednesday garden"}},
            cost=Service.Cost.PAID,
            minimum_age=16,
            assured_date=date(2026, 11, 30),
        )
    )
    locations = _twins(
        lambda: Location(organization=organization, name="Serre", latitude=45.75, longitude=4.85)
    )
    Service.objects.bulk_create([services[0]])
    Location.objects.bulk_create([locations[0]])
    rows_insert(Service, [services[1]])
    rows_insert(Location, [locations[1]])
    sals = (
        ServiceAtLocation(service=services[0], location=locations[0]),
        ServiceAtLocation(service=services[1], location=locations[1]),
    )
    ServiceAtLocation.objects.bulk_create([sals[0]])
    rows_insert(ServiceAtLocation, [sals[1]])
    costs = (
        CostOption(service=services[0], amount=Decimal("2.50"), currency="EUR"),
        CostOption(service=services[1], amount=Decimal("2.50"), currency="EUR"),
    )
    CostOption.objects.bulk_create([costs[0]])
    rows_insert(CostOption, [costs[1]])
    made = [
        Schedule(
            service_at_location=sal,
            freq="WEEKLY",
            byday="WE",
            weekdays="WE",
            opens_at=time(14),
            closes_at=time(16, 30),
            valid_to=date(2027, 6, 30),
        )
        for sal in sals
    ]
    schedules = (made[0], made[1])
    Schedule.objects.bulk_create([schedules[0]])
    rows_insert(Schedule, [schedules[1]])

    def differing(twins: tuple[Any, Any], *owners: str) -> dict[str, Any]:
        a, b = twins
        left, right = _values(a, ("hsds_id", *owners)), _values(b, ("hsds_id", *owners))
        return {k: (left[k], right[k]) for k in left if left[k] != right[k]}

    assert differing(services, "created_at", "updated_at", "last_modified") == {}
    assert differing(locations) == {}
    assert differing(sals, "service_id", "location_id") == {}
    assert differing(costs, "service_id") == {}
    assert differing(schedules, "service_at_location_id") == {}
    assert CostOption.objects.get(pk=costs[1].pk).amount == Decimal("2.50")


def test_a_key_the_database_makes_and_a_date_set_on_insert() -> None:
    organization = Organization.objects.create(name="Ateliers")
    service = Service(organization=organization, name="Couture")
    term = ForeignTerm(taxonomy="https://annuaire.example.org", code="couture")
    rows_insert(Service, [service])
    rows_insert(ForeignTerm, [term])
    through = Service.foreign_terms.through

    rows_insert(through, [through(service_id=service.id, foreignterm_id=term.id)])

    assert ForeignTerm.objects.get(pk=term.pk).created_at is not None
    row = through.objects.get(service_id=service.id)
    assert row.pk is not None
    assert list(service.foreign_terms.all()) == [term]


def test_keys_the_database_makes_name_the_rows_written() -> None:
    """Written before it ran: each instance gets the key of its own row (as
    `bulk_create` sets them), in the order given, above every key used before, even one
    whose row was deleted; a row created afterwards gets a larger one still."""
    from events.models import Event

    def event(n: int) -> Event:
        return Event(
            type="service.updated", aggregate_type="service", aggregate_id=uuid.UUID(int=n)
        )

    before = [Event.objects.create(type="x", aggregate_type="service", aggregate_id=uuid.uuid4())]
    before.append(
        Event.objects.create(type="x", aggregate_type="service", aggregate_id=uuid.uuid4())
    )
    highest = before[-1].pk
    before[-1].delete()
    events = [event(n) for n in range(1, 251)]

    rows_insert(Event, events)

    keys = [e.pk for e in events]
    assert keys == sorted(keys)
    assert len(set(keys)) == 250
    assert keys[0] > highest
    stored = dict(Event.objects.filter(pk__in=keys).values_list("pk", "aggregate_id"))
    assert stored == {e.pk: e.aggregate_id for e in events}
    later = Event.objects.create(type="x", aggregate_type="service", aggregate_id=uuid.uuid4())
    assert later.pk > keys[-1]


def test_objects_written_are_saved_ones() -> None:
    organization = Organization.objects.create(name="Marche")
    service = Service(organization=organization, name="Marche du lundi")
    rows_insert(Service, [service])

    service.name = "Marche du mardi"
    service.save()

    assert Service.objects.filter(organization=organization).count() == 1
    assert Service.objects.get(pk=service.pk).name == "Marche du mardi"
    rows_insert(Service, [])  # nothing to write: no statement
    assert isinstance(service.pk, uuid.UUID)


def test_rows_given_as_values_read_back_as_bulk_create_writes_them() -> None:
    """`values_insert`: the same rows given as `{attname: value}`, the columns left out
    taking their defaults (an empty string, `{}`, a made id, the time of writing), read
    back as `bulk_create`'s twin; values of other types than the column's (a string for
    a UUID, an int for a float, a date as text) are prepared as Django prepares them."""
    organization = Organization.objects.create(name="Cuisine solidaire")
    made = Service(
        organization=organization,
        name="Atelier soupe",
        minimum_age=12,
        assured_date=date(2026, 12, 1),
    )
    Service.objects.bulk_create([made])
    given_id = uuid.uuid4()
    values_insert(
        Service,
        [
            {
                "id": given_id,
                "organization_id": str(organization.id),
                "name": "Atelier soupe",
                "minimum_age": 12,
                "assured_date": "2026-12-01",
            }
        ],
    )
    written = Service.objects.get(pk=given_id)
    expected = Service.objects.get(pk=made.pk)
    for field in Service._meta.concrete_fields:
        if field.attname in ("id", "created_at", "updated_at", "last_modified"):
            continue
        assert getattr(written, field.attname) == getattr(expected, field.attname), field.attname
    assert written.translations == {}
    assert written.last_modified is not None
    # `auto_now_add` and `auto_now` dates are set, over a value given (as `save()` does).
    org_id = uuid.uuid4()
    values_insert(Organization, [{"id": org_id, "name": "Jardin", "created_at": None}])
    org = Organization.objects.get(pk=org_id)
    assert org.created_at is not None
    assert org.updated_at is not None

    location_id = uuid.uuid4()
    values_insert(
        Location,
        [
            {
                "id": location_id,
                "organization_id": organization.id,
                "name": "Cuisine",
                "latitude": 45,
            }
        ],
    )
    assert Location.objects.get(pk=location_id).latitude == 45.0
    assert isinstance(Location.objects.get(pk=location_id).latitude, float)


def test_a_value_for_no_column_is_refused_before_anything_is_written() -> None:
    organization = Organization.objects.create(name="Chorale")
    with pytest.raises(TypeError, match="organisation"):
        values_insert(
            Service,
            [
                {"organization_id": organization.id, "name": "Chorale du jeudi"},
                {"organisation_id": organization.id, "name": "Chorale du vendredi"},
            ],
        )
    assert not Service.objects.filter(organization=organization).exists()
    values_insert(Service, [])  # nothing to write: no statement


def test_keys_given_by_some_rows_only_are_refused() -> None:
    """An auto-increment key given by some rows and not others would hand the database
    NULL keys: refused, as a whole, before anything is written."""
    organization = Organization.objects.create(name="Randonnée")
    service = Service.objects.create(organization=organization, name="Marche")
    term = ForeignTerm.objects.create(taxonomy="https://annuaire.example.org", code="marche")
    through = Service.foreign_terms.through
    with pytest.raises(ValueError, match="every row's key, or none"):
        values_insert(
            through,
            [
                {"id": 10_000, "service_id": service.id, "foreignterm_id": term.id},
                {"service_id": service.id, "foreignterm_id": term.id},
            ],
        )
    assert not through.objects.filter(service_id=service.id).exists()
    # None given for every row: the database makes them.
    values_insert(through, [{"id": None, "service_id": service.id, "foreignterm_id": term.id}])
    assert through.objects.get(service_id=service.id).pk is not None


@pytest.mark.django_db(transaction=True)
def test_what_the_process_keeps_holds_no_connection() -> None:
    """Found in review: each table's prepared columns were kept for the process with
    the connection of the thread that first wrote it (kept open, and used by every
    other thread). A thread writes first here; what is kept afterwards names no
    connection."""
    import threading

    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    from core import bulk

    bulk._tables.clear()

    def work() -> None:
        values_insert(Organization, [{"id": uuid.uuid4(), "name": "Atelier vélo"}])
        connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()

    def wrappers(value: Any, depth: int = 0) -> list[Any]:
        if isinstance(value, BaseDatabaseWrapper):
            return [value]
        if depth > 4:
            return []
        found = []
        if isinstance(value, list | tuple):
            for item in value:
                found += wrappers(item, depth + 1)
        for cell in getattr(value, "__closure__", None) or ():
            found += wrappers(cell.cell_contents, depth + 1)
        for inner in getattr(value, "__dict__", {}).values():
            if callable(inner) or isinstance(inner, list):
                for item in inner if isinstance(inner, list) else [inner]:
                    found += wrappers(item, depth + 1)
        return found

    kept = list(bulk._tables.values())
    assert kept
    assert [w for table in kept for w in wrappers(table)] == []
    values_insert(Organization, [{"id": uuid.uuid4(), "name": "Atelier couture"}])
    assert Organization.objects.filter(name__startswith="Atelier").count() == 2


def test_the_insert_is_seen_as_a_query_and_refused_in_a_broken_transaction() -> None:
    """Found in review: PostgreSQL's COPY went to the driver's cursor, unseen by
    Django's query log, and ran in a broken transaction with the driver's error."""
    from django.db import connection, transaction
    from django.db.transaction import TransactionManagementError
    from django.test.utils import CaptureQueriesContext

    organization = Organization.objects.create(name="Chant")
    with CaptureQueriesContext(connection) as queries:
        values_insert(Service, [{"organization_id": organization.id, "name": "Chorale"}])
    assert any("community_catalog_service" in q["sql"] for q in queries.captured_queries)

    with transaction.atomic():
        transaction.set_rollback(True)  # as after an error inside the block
        with pytest.raises(TransactionManagementError):
            values_insert(Service, [{"organization_id": organization.id, "name": "Chorale"}])


def test_a_column_of_mixed_values_is_prepared_value_by_value() -> None:
    """A column is prepared whole when its values' types are all taken as they are;
    one value of another type (a UUID as text, an int for a name, None beside UUIDs)
    sends the column through Django's preparation, and every row reads back right."""
    organization = Organization.objects.create(name="Maison des familles")
    ids = [uuid.uuid4() for _ in range(4)]
    values_insert(
        Service,
        [
            {"id": ids[0], "organization_id": organization.id, "name": "Atelier"},
            {"id": str(ids[1]), "organization_id": organization.id, "name": 1234},
            {"id": ids[2], "organization_id": str(organization.id).upper(), "name": "Chant"},
            {"id": ids[3].hex, "organization_id": organization.id, "name": "Marche"},
        ],
    )
    read = dict(Service.objects.filter(id__in=ids).values_list("id", "name"))
    assert read == {ids[0]: "Atelier", ids[1]: "1234", ids[2]: "Chant", ids[3]: "Marche"}
    assert set(Service.objects.filter(id__in=ids).values_list("organization_id", flat=True)) == {
        organization.id
    }
    location_id = uuid.uuid4()
    values_insert(
        Location,
        [{"id": location_id, "organization_id": organization.id, "name": "Salle"}],
    )
    values_insert(
        Phone,
        [
            {"id": uuid.uuid4(), "number": "+33478000000", "service_id": ids[0], "location_id": c}
            for c in (None, location_id)
        ],
    )
    by_service = Phone.objects.filter(service_id=ids[0])
    assert sorted(str(p.location_id) for p in by_service) == sorted(["None", str(location_id)])
