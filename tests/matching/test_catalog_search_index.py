"""Catalogue search near a point reads matching's index (issue 24, part 3): the same
answers as the catalogue's tables, from one query on the index.

Written before the change ran: on the demo catalogue and on data·inclusion's export of
`tests/harvest/data_inclusion_lyon` harvested beside it (another directory's terms,
OpenStreetMap opening hours, a monthly session, a service with no place), every search
of the grid below finds exactly what the tables find, in the same order, with the same
distances. Then what only the index states plainly: a weekday means a day the activity
still meets on (a schedule that ended does not count, a day whose times are not known
does), and the index follows a closure or a new schedule in the change's transaction.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from community_catalog import selectors
from community_catalog.demo_data import demo_catalog_load
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Service
from community_catalog.selectors import CatalogQuery, catalog_search
from community_catalog.services import organization_create, service_status_set
from tests.conftest import module_transaction

pytestmark = pytest.mark.django_db

DATA_INCLUSION = Path(__file__).resolve().parents[1] / "harvest" / "data_inclusion_lyon"
# Places of the two catalogues: Bellecour, the Bonnefoi centre, Villeurbanne, Croix-Rousse.
POINTS = ((45.7578, 4.8320), (45.7590, 4.8450), (45.7700, 4.8800), (45.7750, 4.8300))


@pytest.fixture(scope="module")
def catalogues(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with module_transaction(django_db_blocker):
        demo_catalog_load()
        out = io.StringIO()
        call_command(
            "harvest", "add", "lyon", str(DATA_INCLUSION), "--kind", "data-inclusion",
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
        call_command("harvest", "run", "lyon", stdout=out, stderr=io.StringIO())
        yield


def _both(query: CatalogQuery) -> tuple[Any, Any]:
    def seen(found: tuple[int, list[selectors.Found]]) -> tuple[int, list[Any]]:
        total, page = found
        return total, [(f.service_at_location.id, round(f.distance_km or 0, 9)) for f in page]

    indexed = seen(catalog_search(query))
    kept = list(selectors._search_indexes)
    selectors._search_indexes.clear()
    try:
        tables = seen(catalog_search(query))
    finally:
        selectors._search_indexes.extend(kept)
    return indexed, tables


GRID = list(
    itertools.product(
        POINTS,
        (0.8, 3.0, 25.0),
        ([], ["isolation"], ["physical-activity"], ["food-insecurity", "digital-exclusion"]),
        (None, "en"),
        (None, "TU"),
        (None, True),
    )
)


def test_every_search_near_a_point_finds_what_the_tables_find(catalogues: None) -> None:
    differ = []
    found_any = 0
    for (lat, lon), radius, needs, language, weekday, free in GRID:
        query = CatalogQuery(
            needs=needs,
            latitude=lat,
            longitude=lon,
            radius_km=radius,
            language=language,
            weekday=weekday,
            free=free,
            limit=200,
        )
        indexed, tables = _both(query)
        found_any += indexed[0] > 0
        if indexed != tables:
            differ.append((query, indexed, tables))
    assert not differ, differ[:2]
    assert found_any > len(GRID) // 3  # the grid finds things, not only empty pages


def test_words_an_organisation_and_paging_combine_with_the_index(catalogues: None) -> None:
    organization = Service.objects.get(
        name="Gym douce", provenance__source_name="lyon"
    ).organization
    for query in (
        CatalogQuery(q="atelier", latitude=45.76, longitude=4.84, radius_km=10, limit=50),
        CatalogQuery(q="ATELIER", latitude=45.76, longitude=4.84, radius_km=10, limit=50),
        CatalogQuery(latitude=45.76, longitude=4.84, radius_km=10, limit=3, offset=2),
        CatalogQuery(organization_id=organization.id, latitude=45.76, longitude=4.84, radius_km=10),
        CatalogQuery(cost=("paid", "not-stated"), latitude=45.76, longitude=4.84, radius_km=5),
    ):
        indexed, tables = _both(query)
        assert indexed == tables, query
        assert indexed[0] > 0, query


def _document(name: str, schedule: dict[str, Any]) -> dict[str, Any]:
    """One walking group by Bellecour, as another directory would publish it."""
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "description": "Marche douce en groupe.",
        "status": "active",
        "attributes": [
            {
                "id": str(uuid.uuid4()),
                "taxonomy_term": {
                    "id": str(uuid.uuid4()),
                    "code": "walking-group",
                    "name": "Marche",
                    "description": "",
                },
            }
        ],
        "service_at_locations": [
            {
                "id": str(uuid.uuid4()),
                "location": {
                    "id": str(uuid.uuid4()),
                    "location_type": "physical",
                    "name": "Place Bellecour",
                    "latitude": 45.7578,
                    "longitude": 4.8320,
                },
                "schedules": [{"id": str(uuid.uuid4()), **schedule}],
            }
        ],
    }


def test_a_weekday_is_a_day_the_activity_still_meets_on(db: None) -> None:
    organization, _key = organization_create(name="Marcheurs")
    yesterday = timezone.localdate() - timedelta(days=1)
    report = hsds_import(
        hsds_read(
            [
                _document(
                    "Marche du mardi, finie",
                    {
                        "freq": "WEEKLY",
                        "byday": "TU",
                        "opens_at": "10:00",
                        "closes_at": "12:00",
                        "valid_to": yesterday.isoformat(),
                    },
                ),
                _document(
                    "Marche du mercredi, horaires à venir", {"freq": "WEEKLY", "byday": "WE"}
                ),
            ]
        ),
        organization=organization,
    )
    assert report.created == 2, report.errors

    def names(weekday: str, near: bool = True) -> set[str]:
        query = CatalogQuery(
            latitude=45.7578 if near else None,
            longitude=4.8320 if near else None,
            radius_km=1,
            weekday=weekday,
            organization_id=organization.id,
        )
        return {f.service_at_location.service.name for f in catalog_search(query)[1]}

    # Near a point (the index) and anywhere (the tables) alike.
    for near in (True, False):
        assert names("TU", near) == set()
        assert names("WE", near) == {"Marche du mercredi, horaires à venir"}


def test_the_index_follows_a_closure_in_its_transaction(catalogues: None) -> None:
    query = CatalogQuery(latitude=45.7590, longitude=4.8450, radius_km=1, limit=200)
    before = {f.service_at_location.service_id for f in catalog_search(query)[1]}
    closing = Service.objects.get(name="Café-rencontre du mardi", provenance__source_name="lyon")
    assert closing.id in before

    service_status_set(
        organization=closing.organization,
        service_id=closing.id,
        status=Service.Status.TEMPORARILY_CLOSED,
        alert=None,
    )

    after = {f.service_at_location.service_id for f in catalog_search(query)[1]}
    assert after == before - {closing.id}
