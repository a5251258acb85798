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
from datetime import time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community_catalog import selectors
from community_catalog.demo_data import demo_catalog_load
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Location, Schedule, Service, TaxonomyTerm
from community_catalog.selectors import CatalogQuery, catalog_search, distance_km
from community_catalog.services import organization_create, service_status_set
from community_catalog.taxonomy import taxonomy_forget
from matching.index import match_points_daily, match_points_refresh
from matching.models import MatchPoint
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


FACTORS: tuple[tuple[Any, ...], ...] = (
    POINTS,
    (0.8, 3.0, 25.0),
    ((), ("isolation",), ("physical-activity",), ("food-insecurity", "digital-exclusion")),
    (None, "en"),
    (None, "TU"),
    (None, True),
)


def _pairs(row: tuple[Any, ...]) -> set[tuple[int, Any, int, Any]]:
    return {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(len(row)), 2)}


def _grid() -> list[tuple[Any, ...]]:
    """Every place, radius and need together, each with the language, weekday and cost
    filters that meet the most pairs of values not met yet: every pair of values of any
    two filters is searched (checked below), in 48 searches instead of 384."""
    met: set[tuple[int, Any, int, Any]] = set()
    grid = []
    for head in itertools.product(*FACTORS[:3]):
        row = max(
            (head + tail for tail in itertools.product(*FACTORS[3:])),
            key=lambda row: len(_pairs(row) - met),
        )
        met |= _pairs(row)
        grid.append(row)
    return grid


GRID = _grid()


def test_the_grid_searches_every_pair_of_filter_values() -> None:
    every = set().union(*(_pairs(row) for row in itertools.product(*FACTORS)))
    assert set().union(*(_pairs(row) for row in GRID)) == every


def test_every_search_near_a_point_finds_what_the_tables_find(catalogues: None) -> None:
    differ = []
    found_any = 0
    for (lat, lon), radius, needs, language, weekday, free in GRID:
        query = CatalogQuery(
            needs=list(needs),
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


# --- Found in review: each ran red before its fix --------------------------------------


def _place(name: str, latitude: float, longitude: float, **extra: Any) -> dict[str, Any]:
    document = _document(name, {"freq": "WEEKLY", "byday": "TH", "opens_at": "10:00"})
    location = document["service_at_locations"][0]["location"]
    location.update(name=f"Lieu {name}", latitude=latitude, longitude=longitude)
    document.update(extra)
    return document


def _load(*documents: dict[str, Any]) -> Any:
    organization, _key = organization_create(name="Relecture")
    report = hsds_import(hsds_read(list(documents)), organization=organization)
    assert report.created == len(documents), report.errors
    return organization


class _Form(HTMLParser):
    """The fields of an admin change form, as a browser would post them back."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[name] = a.get("value") or "on"
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data.strip("\n")


def test_a_place_made_confidential_in_the_admin_is_no_longer_findable_exactly(
    db: None, client: Client
) -> None:
    exact = (45.7391, 4.8712)  # its grid cell's centre, 45.74 4.87, is 120 m away
    _load(_place("Abri", *exact))
    location = Location.objects.get(name="Lieu Abri")
    client.force_login(User.objects.create_superuser("operator", "op@example.org", "pw"))
    page = reverse("admin:community_catalog_location_change", args=[location.id])
    form = _Form()
    form.feed(client.get(page).content.decode())
    form.data["is_confidential"] = "on"

    response = client.post(page, form.data)

    assert response.status_code == 302, response.content.decode()[:2000]
    near = CatalogQuery(latitude=exact[0], longitude=exact[1], radius_km=0.02)
    assert _both(near) == ((0, []), (0, []))


def test_a_schedule_that_ends_leaves_the_weekday_the_next_day(db: None) -> None:
    today = timezone.localdate()
    organization = _load(
        _document(
            "Marche",
            {"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "valid_to": str(today)},
        )
    )
    service = Service.objects.get(name="Marche")
    Schedule.objects.create(
        service_at_location=service.service_at_locations.get(),
        freq="WEEKLY",
        byday="TH",
        opens_at=time(10),
    )
    match_points_refresh([service.id], today=today)
    tuesday = CatalogQuery(
        latitude=45.7578,
        longitude=4.8320,
        radius_km=1,
        weekday="TU",
        organization_id=organization.id,
    )
    assert _both(tuesday)[0][0] == 1  # it meets on Tuesday until today

    tomorrow = today + timedelta(days=1)
    match_points_daily(today=tomorrow)  # the relay's pass, the day after

    assert MatchPoint.objects.get(service_key=str(service.id)).weekdays == ",TH,"
    assert _both(tuesday)[0][0] == 0


def test_an_inactive_need_answers_nothing_on_both_paths(db: None) -> None:
    document = _place("Étranger", 45.75, 4.85)
    document["attributes"] = [
        {
            "id": str(uuid.uuid4()),
            "taxonomy_term": {
                "id": str(uuid.uuid4()),
                "code": "zz-unmapped",
                "name": "Z",
                "description": "",
                "taxonomy": "https://other.example/tax",
            },
        }
    ]
    _load(document)
    leaf = TaxonomyTerm.objects.filter(children__isnull=True, active=True).first()
    assert leaf is not None
    TaxonomyTerm.objects.filter(pk=leaf.pk).update(active=False)
    taxonomy_forget()
    try:
        for point in ((45.75, 4.85), (None, None)):
            query = CatalogQuery(latitude=point[0], longitude=point[1], needs=[leaf.code])
            assert catalog_search(query)[0] == 0, point
    finally:
        taxonomy_forget()


def test_a_language_named_without_a_code_counts_as_none_named(db: None) -> None:
    document = _place("Sans code", 45.75, 4.85)
    document["languages"] = [{"id": str(uuid.uuid4()), "name": "Français"}]
    _load(document)
    for point in ((45.75, 4.85), (None, None)):
        query = CatalogQuery(latitude=point[0], longitude=point[1], language="fr", q="Sans code")
        assert catalog_search(query)[0] == 1, point


@pytest.mark.parametrize("radius", [1.0, 10.0, 50.0, 200.0])
def test_a_place_just_inside_the_radius_is_found(db: None, radius: float) -> None:
    centre = (45.75, 4.85)
    north = (centre[0] + (radius - 0.001) / 111.19492664, centre[1])
    east = (centre[0], centre[1] + (radius - 0.001) / (111.19492664 * 0.6976))
    inside = [
        _place(name, *point)
        for name, point in (("Nord", north), ("Est", east))
        if distance_km(*centre, *point) <= radius
    ]
    organization = _load(*inside)
    query = CatalogQuery(
        latitude=centre[0], longitude=centre[1], radius_km=radius, organization_id=organization.id
    )
    assert len(inside) >= 1
    assert _both(query)[0][0] == _both(query)[1][0] == len(inside)


def test_the_position_index_covers_searches_on_sqlite_too(db: None) -> None:
    """SQLite has no INCLUDE: the columns are key columns, made by hand in migration
    0002. A later migration that rebuilds the table would lose them: this says so."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps INCLUDE in the model's own index")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'match_point_position_idx'")
        (sql,) = cursor.fetchone()
    assert "weekdays" in sql
    assert "code_bits" in sql
