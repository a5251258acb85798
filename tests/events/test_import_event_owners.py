"""An import's events name the organisation the outbox would have found for them, whether
written by `bulk_create` (fewer than 100) or `rows_insert` (from the review of issue 24
part 3).
"""

from __future__ import annotations

import copy
import uuid

import pytest

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.selectors import service_owners
from community_catalog.services import organization_create
from events.models import Event
from tests.matching.test_index_from_rows import _place, _sal, _service

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("many", [False, True])
def test_events_name_the_organisation_the_tables_give(many: bool) -> None:
    org, _ = organization_create(name="Ville")
    new_org = {"id": str(uuid.uuid4()), "name": "Nouvelle", "description": "Asso"}
    place = _place("Maison", 45.76, 4.83)
    first = [
        _service(
            f"S{i}",
            _sal(place) if i == 0 else _sal(location_id=place["id"]),
            organization_id=str(org.id),
        )
        for i in range(1)
    ]
    hsds_import(hsds_read(first), organization=None)
    changed = copy.deepcopy(first[0])
    changed["status"] = "inactive"
    changed["service_at_locations"][0]["location"] = {**place, "latitude": 45.7}
    n = 120 if many else 3
    doc = [changed] + [
        _service(f"N{i}", _sal(_place(f"P{i}", 45.0, 4.0)), organization=new_org) for i in range(n)
    ]
    Event.objects.all().delete()
    report = hsds_import(hsds_read(doc), organization=None)
    assert report.created == n, report.errors
    assert report.updated == 1, report.errors
    events = list(Event.objects.filter(aggregate_type="service"))
    owners = service_owners([e.aggregate_id for e in events])
    assert events
    assert all(e.organization_id == owners[e.aggregate_id] for e in events)
    assert {e.type for e in events} >= {"service.updated", "service.closed"}
