"""Refreshing the match index reads the catalogue by its indexes, never by a scan.

Every catalogue change refreshes the points of the services it touches, in its
transaction, so a query that reads a whole table makes each edit cost as much as the
catalogue is large. Found while measuring the import: the schedules were read with one
OR across a join, which SQLite answered by reading every schedule. Written before the
fix: each SELECT a refresh runs is asked for its plan (SQLite's `EXPLAIN QUERY PLAN`),
and none scans one of the catalogue's tables or the index's.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community_catalog.demo_data import demo_catalog_load
from community_catalog.models import Service
from matching.index import match_points_daily, match_points_refresh

pytestmark = pytest.mark.django_db

_TABLES = (
    "community_catalog_service",
    "community_catalog_location",
    "community_catalog_serviceatlocation",
    "community_catalog_schedule",
    "community_catalog_language",
    "community_catalog_service_taxonomy_terms",
    "community_catalog_service_foreign_terms",
    "community_catalog_matchpoint",
)


# Django names a table by an alias in subqueries (U0) and second joins (T3); SQLite's
# plan then shows the alias only ("SCAN U0").
_ALIAS = re.compile(r'"(\w+)" (?:AS )?"?([A-Z]\d+)"?')


def _selects(queries: CaptureQueriesContext) -> list[dict[str, str]]:
    return [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]


def _scans(sql: str) -> list[str]:
    aliases = {alias: table for table, alias in _ALIAS.findall(sql)}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        details = [row[-1] for row in cursor.fetchall()]
    return [
        d
        for d in details
        if d.startswith("SCAN ") and aliases.get(d.split()[1], d.split()[1]) in _TABLES
    ]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's plans; PostgreSQL's depend on its statistics"
)
def test_a_refresh_reads_by_index_only() -> None:
    demo_catalog_load()
    service_ids = list(Service.objects.values_list("id", flat=True)[:3])

    with CaptureQueriesContext(connection) as queries:
        match_points_refresh(service_ids)
        match_points_daily()

    selects = _selects(queries)
    assert selects
    # The captured SQL has its parameters inlined; plans are asked of the same shapes
    # with the values quoted by SQLite itself.
    scanning = {q["sql"][:160]: _scans(q["sql"]) for q in selects}
    assert {sql: scans for sql, scans in scanning.items() if scans} == {}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans")
def test_a_search_near_a_point_reads_by_index_only() -> None:
    """The same of catalogue search near a point: the index query, then the page's rows."""
    from community_catalog.selectors import CatalogQuery, catalog_search

    demo_catalog_load()
    with CaptureQueriesContext(connection) as queries:
        total, page = catalog_search(
            CatalogQuery(needs=["isolation"], latitude=45.76, longitude=4.84, radius_km=30)
        )
    assert total > 0
    assert page
    selects = _selects(queries)
    scanning = {q["sql"][:160]: _scans(q["sql"]) for q in selects}
    assert {sql: scans for sql, scans in scanning.items() if scans} == {}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans")
def test_an_import_reads_by_index_only() -> None:
    """An import into a catalogue: its ownership checks, its writes' reads and the
    refresh of what it wrote read no table whole either. Once as new services, once
    again as an update of the same file with a change."""
    from community_catalog.hsds import hsds_read
    from community_catalog.hsds_export import catalog_export
    from community_catalog.hsds_import import hsds_import
    from community_catalog.models import Organization

    demo_catalog_load()
    organization = Organization.objects.order_by("name").first()
    assert organization is not None
    # New services, in the style of the catalogue benchmark's generated directory.
    import random

    from bench.catalog import _service
    from community_catalog.models import TaxonomyTerm

    rng = random.Random(3)
    terms = list(TaxonomyTerm.objects.exclude(parent=None))
    activities = [t for t in terms if t.kind == "activity"]
    needs = [t for t in terms if t.kind == "need"]
    new = [_service(rng, activities, needs) for _ in range(20)]
    with CaptureQueriesContext(connection) as queries:
        report = hsds_import(hsds_read(new), organization=organization)
    assert report.created == len(new)
    selects = _selects(queries)
    scanning = {q["sql"][:200]: _scans(q["sql"]) for q in selects}
    assert {sql: scans for sql, scans in scanning.items() if scans} == {}

    exported = catalog_export(Service.objects.filter(organization=organization))["contents"]
    assert exported
    for service in exported:
        service["name"] = f"{service['name']} (bis)"
    with CaptureQueriesContext(connection) as queries:
        report = hsds_import(hsds_read(exported), organization=organization)
    assert report.updated == len(exported)
    selects = _selects(queries)
    scanning = {q["sql"][:200]: _scans(q["sql"]) for q in selects}
    assert {sql: scans for sql, scans in scanning.items() if scans} == {}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans")
def test_a_service_s_own_schedules_are_found_by_its_service_id() -> None:
    """Found in review: a service's own schedules (those without a place, as the HSDS
    importer writes a service record's) were asked for with `service_at_location IS
    NULL`, which SQLite answered through that column's index, reading every schedule
    without a place. The demo catalogue has none, so the first test could not see it:
    here 20,000 of them, and the plan of the query must go by `service_id`."""
    from community_catalog.models import Schedule

    demo_catalog_load()
    services = list(Service.objects.order_by("id"))
    Schedule.objects.bulk_create(
        [
            Schedule(service=services[i % len(services)], freq="WEEKLY", byday="MO")
            for i in range(20_000)
        ],
        batch_size=2_000,
    )
    targets = [s.id for s in services if s.service_at_locations.exists()][:2]
    with CaptureQueriesContext(connection) as queries:
        match_points_refresh(targets)
    own = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "community_catalog_schedule"' in q["sql"] and '"service_id" IN' in q["sql"]
    ]
    assert own, "the query of the services' own schedules did not run"
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {own[0]}")
        plan = [row[-1] for row in cursor.fetchall()]
    assert any("(service_id=?)" in step for step in plan), plan
