"""`any_of` against `__in` with values of mixed kinds (from the review of issue 24 part 3):
choice values beside plain strings, UUIDs as text and as objects.
"""

from __future__ import annotations

import uuid

import pytest

from community_catalog.models import Organization, Service
from core.lookups import any_of
from events.models import Event

pytestmark = pytest.mark.django_db


def test_choices_member_beside_a_plain_string() -> None:
    values = [Service.Status.ACTIVE, "inactive"]
    org = Organization.objects.create(name="A")
    Service.objects.create(organization=org, name="a")
    assert set(Service.objects.filter(any_of("status", values))) == set(
        Service.objects.filter(status__in=values)
    )


def test_ints_of_different_sizes() -> None:
    e = Event.objects.create(type="x", aggregate_type="service", aggregate_id=uuid.uuid4())
    values = [e.id, 2**40, True]
    assert set(Event.objects.filter(any_of("id", values))) == set(
        Event.objects.filter(id__in=values)
    )


def test_uuid_strings_and_uuids() -> None:
    org = Organization.objects.create(name="A")
    s = Service.objects.create(organization=org, name="a")
    values = [str(s.id), uuid.uuid4(), s.id.hex]
    assert set(Service.objects.filter(any_of("id", values))) == {s}
