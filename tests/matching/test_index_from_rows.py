"""An import's new services get their match points from the rows it wrote (issue 24,
part 3), not from reading them back: the same points as the tables give.

Written before it ran: after each import below, every point of the catalogue equals,
column for column, the point `match_points_rebuild()` makes from the tables, and the
services the import created were not read back. The imports: the official HSDS
examples, data·inclusion's export of `tests/harvest/data_inclusion_lyon` harvested,
the benchmark's generated services, and a directory's file in the style of a city
directory: a place already in the catalogue (named by id, with its languages), a new
place shared by two services (given in full by each), a service's own schedule beside
a place's, a term of another taxonomy mapped by a crosswalk and one that nothing maps,
a confidential place, a full activity, interpretation, languages of a service and of a
place.
"""

from __future__ import annotations

import io
import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from community_catalog.crosswalks import CrosswalkIn, crosswalk_set
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Organization, TaxonomyTerm
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed
from matching.index import match_points_rebuild
from matching.models import MatchPoint

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[1] / "community_catalog" / "hsds_examples"
DATA_INCLUSION = Path(__file__).resolve().parents[1] / "harvest" / "data_inclusion_lyon"
CITY = "https://annuaire.ville.example.fr/thematiques"


def _points() -> list[dict[str, Any]]:
    return sorted(
        (
            {k: v for k, v in model_to_dict(p).items() if k != "id"}
            for p in MatchPoint.objects.all()
        ),
        key=lambda p: (p["service_key"], str(p["service_at_location"])),
    )


def _same_as_the_tables() -> int:
    imported = _points()
    match_points_rebuild()
    rebuilt = _points()
    assert len(imported) == len(rebuilt)
    for mine, theirs in zip(imported, rebuilt, strict=True):
        assert mine == theirs
    return len(imported)


def _ids(report: Any, action: str = "created") -> set[uuid.UUID]:
    return {uuid.UUID(s["id"]) for s in report.services if s["action"] == action}


@pytest.mark.parametrize(
    "example",
    ["service_full.json", "service_list.json", "organization_full.json",
     "service_at_location_full.json", "service_at_location_list.json"],
)  # fmt: skip
def test_the_official_examples(example: str, reads: set[uuid.UUID]) -> None:
    organization, _key = organization_create(name="Open Referral")
    report = hsds_import(
        hsds_read(json.loads((EXAMPLES / example).read_text())), organization=organization
    )
    assert report.created > 0, report.errors
    assert not _ids(report) & reads
    _same_as_the_tables()


def test_a_harvest_of_data_inclusion(reads: set[uuid.UUID]) -> None:
    out = io.StringIO()
    call_command(
        "harvest", "add", "lyon", str(DATA_INCLUSION), "--kind", "data-inclusion",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    call_command("harvest", "run", "lyon", stdout=out, stderr=io.StringIO())
    assert not reads
    assert _same_as_the_tables() > 5


def test_the_benchmark_s_services(reads: set[uuid.UUID]) -> None:
    from bench.catalog import _service

    taxonomy_seed()
    terms = list(TaxonomyTerm.objects.exclude(parent=None))
    activities = [t for t in terms if t.kind == "activity"]
    needs = [t for t in terms if t.kind == "need"]
    rng = random.Random(3)
    organization, _key = organization_create(name="Bench")
    documents = [_service(rng, activities, needs) for _ in range(300)]
    report = hsds_import(hsds_read(documents), organization=organization)
    assert report.created == 300, report.errors[:3]
    assert not reads
    assert _same_as_the_tables() == 300


def _term(code: str, taxonomy: str = CITY) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "taxonomy_term": {
            "id": str(uuid.uuid4()),
            "code": code,
            "name": code,
            "description": f"Thématique {code}",
            "taxonomy": taxonomy,
        },
    }


def _place(name: str, lat: float, lon: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "location_type": "physical",
        "name": name,
        "latitude": lat,
        "longitude": lon,
        **extra,
    }


def _service(name: str, *sals: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "description": f"{name}, ouvert à toutes et tous.",
        "status": "active",
        "service_at_locations": list(sals),
        **extra,
    }


def _sal(location: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    sal: dict[str, Any] = {"id": str(uuid.uuid4()), **extra}
    if location is not None:
        sal["location"] = location
    return sal


WEEKLY = {"freq": "WEEKLY", "byday": "TU", "opens_at": "14:00", "closes_at": "16:00"}
MONTHLY = {"freq": "MONTHLY", "byday": "1SA", "opens_at": "10:00", "closes_at": "12:00"}


def test_a_city_directory_s_file(reads: set[uuid.UUID]) -> None:
    taxonomy_seed()
    organization, _key = organization_create(name="Ville")
    crosswalk_set(CrosswalkIn(taxonomy=CITY, code="jardinage", tisser_codes=("gardening",)))
    maison = _place(
        "Maison des associations",
        45.7640,
        4.8357,
        languages=[{"id": str(uuid.uuid4()), "code": "ar", "name": "Arabe"}],
    )
    first = hsds_import(
        hsds_read(
            [_service("Permanence", _sal(maison, schedules=[{"id": str(uuid.uuid4()), **WEEKLY}]))]
        ),
        organization=organization,
    )
    assert first.created == 1, first.errors
    shared = _place(
        "Jardin partagé",
        45.7485,
        4.8467,
        languages=[{"id": str(uuid.uuid4()), "code": "tr", "name": "Turc"}],
    )
    secret = _place("Lieu d'accueil", 45.7701, 4.8801, confidential=True)
    document = [
        # A place already in the catalogue, named by its id alone.
        _service("Atelier cuisine", _sal(location_id=maison["id"]), attributes=[_term("cuisine")]),
        _service(
            "Jardinage",
            _sal(
                shared,
                schedules=[{"id": str(uuid.uuid4()), **WEEKLY}],
                capacity={"status": "has-capacity", "available": 0},
            ),
            attributes=[_term("jardinage"), _term("inconnu")],
            languages=[{"id": str(uuid.uuid4()), "code": "es", "name": "Espagnol"}],
        ),
        _service(
            "Troc de graines",
            _sal(shared, capacity={"status": "no-capacity", "available": 0}),
            schedules=[{"id": str(uuid.uuid4()), **MONTHLY}],
            interpretation_services="Arabe et turc sur demande",
        ),
        _service(
            "Groupe de parole", _sal(secret, schedules=[{"id": str(uuid.uuid4()), **MONTHLY}])
        ),
        _service("Sans lieu"),
    ]
    read = hsds_read(document)
    assert not read.errors, read.errors
    report = hsds_import(read, organization=organization)
    assert report.created == 5, report.errors
    assert not _ids(report) & reads
    assert _same_as_the_tables() == 5
    # A second import of the same file changes nothing, and its points stay right.
    again = hsds_import(hsds_read(document), organization=organization)
    assert again.unchanged == 5, again.services
    _same_as_the_tables()
    assert Organization.objects.count() == 1
