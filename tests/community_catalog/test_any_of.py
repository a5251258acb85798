"""`core.lookups.any_of`: the rows `__in` finds, with the list one parameter on PostgreSQL.

Written before it ran: for ids of a UUID key, a foreign key and a text column, with a
duplicate, a None and an id that matches nothing, `any_of` finds exactly what `__in`
finds; an empty list finds nothing without a query; model instances and a queryset are
taken as `__in` takes them; on PostgreSQL the statement holds
one placeholder whatever the list's length, elsewhere it is `IN`.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community_catalog.models import Organization, Service, TaxonomyTerm
from core.lookups import any_of

pytestmark = pytest.mark.django_db


def test_any_of_finds_what_in_finds() -> None:
    first, second = Organization.objects.create(name="A"), Organization.objects.create(name="B")
    services = [
        Service.objects.create(organization=org, name=f"Atelier {i}")
        for i, org in enumerate([first, first, second])
    ]
    ids = [services[0].id, services[0].id, services[2].id, uuid.uuid4(), None]
    for name, values in (
        ("id", ids),
        ("organization_id", [first.id, None, uuid.uuid4()]),
        ("name", ["Atelier 1", "Atelier 2", "Atelier 9"]),
    ):
        expected = set(Service.objects.filter(**{f"{name}__in": values}))
        assert set(Service.objects.filter(any_of(name, values))) == expected, name
        assert expected  # each case finds something
    with CaptureQueriesContext(connection) as captured:
        assert list(Service.objects.filter(any_of("id", []))) == []
        assert list(Service.objects.filter(any_of("id", [None]))) == []
    assert captured.captured_queries == []
    # Instances and querysets, as `__in` takes them.
    assert set(Service.objects.filter(any_of("organization", [first]))) == set(services[:2])
    chosen = Organization.objects.filter(name="B")
    assert set(Service.objects.filter(any_of("organization", chosen))) == {services[2]}


def test_the_list_is_one_parameter_on_postgresql() -> None:
    ids = [uuid.uuid4() for _ in range(500)]
    query = Service.objects.filter(any_of("id", ids)).query
    sql, params = query.get_compiler(connection=connection).as_sql()
    if connection.vendor == "postgresql":
        # UUIDs go as their hex, cast by the server (psycopg adapts each UUID in Python).
        assert "= ANY(%s::uuid[])" in sql
        assert len(params) == 1
        assert [uuid.UUID(hex=h) for h in params[0]] == ids
        codes = TaxonomyTerm.objects.filter(any_of("code", ["gardening", "cooking"])).query
        sql, params = codes.get_compiler(connection=connection).as_sql()
        assert "= ANY(%s)" in sql
        assert list(params[0]) == ["gardening", "cooking"]
    else:
        assert " IN (" in sql
        assert len(params) == 500
