"""`any_of` against `__in` on awkward values (from the review of the import's speed-up,
issue 24 part 3): strings with commas, quotes, braces and backslashes, 50,000 ids,
integer keys, `exclude`, an OR with an empty list.
"""

from __future__ import annotations

import uuid

import pytest
from django.db.models import Q

from community_catalog.models import Organization, Service
from core.lookups import any_of
from events.models import Event
from matching.models import MatchPoint

pytestmark = pytest.mark.django_db

NASTY = [
    "a,b",
    'say "hi"',
    "{x}",
    "NULL",
    "null",
    "",
    " padded ",
    "back\\slash",
    "é—ü",
    "a'b",
    "}{",
    '\\"',
    "\t",
    "a\nb",
    "(1,2)",
    "[x]",
]


def test_strange_strings() -> None:
    org = Organization.objects.create(name="A")
    for name in NASTY:
        Service.objects.create(organization=org, name=name)
    for name in NASTY:
        got = set(Service.objects.filter(any_of("name", [name])).values_list("name", flat=True))
        assert got == {name}, name
    got = set(Service.objects.filter(any_of("name", NASTY)).values_list("name", flat=True))
    assert got == set(NASTY)


def test_integer_keys_and_negation() -> None:
    events = [
        Event.objects.create(type="x", aggregate_type="service", aggregate_id=uuid.uuid4())
        for _ in range(3)
    ]
    ids = [e.id for e in events]
    assert set(Event.objects.filter(any_of("id", [*ids[:2], 2**40, None]))) == set(events[:2])
    assert set(Event.objects.exclude(any_of("id", ids[:2]))) == set(
        Event.objects.exclude(id__in=ids[:2])
    )
    assert set(Event.objects.exclude(any_of("id", []))) == set(Event.objects.exclude(id__in=[]))
    assert set(Event.objects.filter(any_of("id", []) | Q(id=ids[2]))) == {events[2]}


def test_nullable_negated() -> None:
    org = Organization.objects.create(name="A")
    Service.objects.create(organization=org, name="a")
    mine = MatchPoint  # noqa
    # nullable column exclude
    assert set(Event.objects.exclude(any_of("organization_id", [org.id, None]))) == set(
        Event.objects.exclude(organization_id__in=[org.id, None])
    )


def test_model_instances_as_in() -> None:
    org = Organization.objects.create(name="A")
    Service.objects.create(organization=org, name="a")
    expected = set(Service.objects.filter(organization__in=[org]))
    assert set(Service.objects.filter(any_of("organization", [org]))) == expected


def test_queryset_as_in() -> None:
    org = Organization.objects.create(name="A")
    Service.objects.create(organization=org, name="a")
    expected = set(Service.objects.filter(organization__in=Organization.objects.all()))
    assert (
        set(Service.objects.filter(any_of("organization", Organization.objects.all()))) == expected
    )


def test_long_list() -> None:
    org = Organization.objects.create(name="A")
    s = Service.objects.create(organization=org, name="a")
    ids = [uuid.uuid4() for _ in range(50_000)] + [s.id]
    assert list(Service.objects.filter(any_of("id", ids))) == [s]
