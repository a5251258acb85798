"""A place a file names by id alone, then describes in full later in the same file: the
description is written (found in review: it was dropped without a word).

Written before the fix: the place takes the later record's position, the service met
there first is announced with the rest, and its match point stands at the new position.
"""

from __future__ import annotations

import copy

import pytest

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Location
from community_catalog.services import organization_create
from matching.models import MatchPoint
from tests.matching.test_index_from_rows import _place, _sal, _service

pytestmark = pytest.mark.django_db


def test_a_place_named_by_id_then_described_takes_the_description() -> None:
    organization, _key = organization_create(name="Ville")
    place = _place("Maison", 45.76, 4.83)
    existing = _service("Permanence", _sal(place))
    assert hsds_import(hsds_read([existing]), organization=organization).created == 1
    moved = copy.deepcopy(existing)
    moved["service_at_locations"][0]["location"] = {**place, "latitude": 45.70}
    atelier = _service("Atelier", _sal(location_id=place["id"]))

    report = hsds_import(hsds_read([atelier, moved]), organization=organization)

    assert report.created == 1
    assert report.updated == 1
    assert not report.warnings
    assert Location.objects.get(id=place["id"]).latitude == 45.70
    assert set(MatchPoint.objects.values_list("latitude", flat=True)) == {45.70}
