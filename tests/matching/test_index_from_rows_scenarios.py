"""Imports that mix created and updated services around shared places: the match points
built from the rows an import wrote equal those rebuilt from the tables, and the rows
handed over are in the database (from the review of issue 24 part 3).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import ImportRejected, hsds_import
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed
from tests.matching.test_index_from_rows import (
    MONTHLY,
    WEEKLY,
    _ids,
    _place,
    _points,
    _sal,
    _same_as_the_tables,
    _service,
    _term,
)

pytestmark = pytest.mark.django_db


def _lang(code: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "code": code, "name": code}


@pytest.mark.parametrize("order", ["new_first", "existing_first"])
def test_update_and_create_sharing_changed_places(order: str, reads: set[uuid.UUID]) -> None:
    taxonomy_seed()
    org, _ = organization_create(name="Ville")
    known = _place("Maison", 45.76, 4.83, languages=[_lang("ar")])
    existing = _service(
        "Permanence",
        _sal(known, schedules=[{"id": str(uuid.uuid4()), **WEEKLY}]),
        languages=[_lang("fr")],
    )
    r = hsds_import(hsds_read([existing]), organization=org)
    assert r.created == 1
    # The same import: the known place moves and changes languages; a new shared place
    moved = {**known, "latitude": 45.70, "longitude": 4.90, "languages": [_lang("tr")]}
    fresh = _place("Jardin", 45.75, 4.84, languages=[_lang("es")])
    updated = copy.deepcopy(existing)
    updated["service_at_locations"][0]["location"] = moved
    updated["service_at_locations"].append(
        _sal(fresh, schedules=[{"id": str(uuid.uuid4()), **MONTHLY}])
    )
    new1 = _service(
        "Atelier", _sal(location_id=known["id"]), _sal(fresh), attributes=[_term("gardening")]
    )
    new2 = _service(
        "Troc", _sal(moved), _sal(fresh), schedules=[{"id": str(uuid.uuid4()), **MONTHLY}]
    )
    doc = [new1, new2, updated] if order == "new_first" else [updated, new1, new2]
    read = hsds_read(doc)
    assert not read.errors, read.errors
    try:
        report = hsds_import(read, organization=org)
    except ImportRejected as e:
        raise AssertionError(e.report.errors) from e
    assert report.created == 2, report.services
    assert report.updated == 1, report.services
    assert not _ids(report) & reads
    _same_as_the_tables()


def test_unchanged_existing_then_new_at_its_place(reads: set[uuid.UUID]) -> None:
    org, _ = organization_create(name="Ville")
    place = _place("Maison", 45.76, 4.83, languages=[_lang("ar")])
    existing = _service("Permanence", _sal(place, schedules=[{"id": str(uuid.uuid4()), **WEEKLY}]))
    assert hsds_import(hsds_read([existing]), organization=org).created == 1
    new = _service("Atelier", _sal(place))
    report = hsds_import(hsds_read([existing, new]), organization=org)
    assert report.unchanged == 1, report.services
    assert report.created == 1, report.services
    _same_as_the_tables()


def test_skip_invalid_and_operator_import(reads: set[uuid.UUID]) -> None:
    org, _ = organization_create(name="Ville")
    other, _ = organization_create(name="Autre")
    place = _place("Maison", 45.76, 4.83)
    theirs = _service("Leur service", _sal(place))
    assert hsds_import(hsds_read([theirs]), organization=other).created == 1
    ok_place = _place("Jardin", 45.75, 4.84, languages=[_lang("es")])
    doc = [
        _service(
            "Pris", _sal(location_id=place["id"]), organization_id=str(org.id)
        ),  # another organisation's place: refused
        _service(
            "Bon",
            _sal(ok_place),
            organization={"id": str(uuid.uuid4()), "name": "Nouvelle", "description": "Asso"},
        ),
        _service("Autre bon", _sal(ok_place), organization_id=str(org.id)),
    ]
    report = hsds_import(hsds_read(doc), organization=None, skip_invalid=True)
    assert report.created == 2, report.errors
    _same_as_the_tables()


def test_dry_run_leaves_points(reads: set[uuid.UUID]) -> None:
    org, _ = organization_create(name="Ville")
    before = _points()
    report = hsds_import(
        hsds_read([_service("A", _sal(_place("P", 45.0, 4.0)))]), organization=org, dry_run=True
    )
    assert report.created == 1
    assert _points() == before
