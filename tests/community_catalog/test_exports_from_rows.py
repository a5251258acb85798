"""An import's HSDS exports of the services it wrote, the baseline a harvest keeps
(`hsds_import(..., exports=True)`), are what reading the services back gives, whether
made from the rows written (`hsds_written`), kept from the comparison of a service that
existed, or read back (issue 24, part 3).

Written before it ran: every export equals `service_export` of the service read back
from the database, key for key. The services the benchmark generates, and those of a
city directory's file whose places are all new, are made from the rows (nothing read
back); a service met at a place that was in the catalogue before, and one whose
capacity was updated at a moment without a time zone, are read back. Amounts with
cents, moments with another offset than UTC, related objects given out of order
(addresses, phones, contacts, schedules at each level) come out as stored.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

import community_catalog.hsds_writer as hsds_writer
from community_catalog.crosswalks import CrosswalkIn, crosswalk_set
from community_catalog.hsds import hsds_read
from community_catalog.hsds_export import service_export, services_for_export
from community_catalog.hsds_import import ImportReport, hsds_import
from community_catalog.models import Service, TaxonomyTerm
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed
from harvest.records import _canonical

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parent / "hsds_examples"
CITY = "https://annuaire.ville.example.fr/thematiques"


@pytest.fixture
def read_back(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The ids of services the writer read back to export them."""
    ids: list[uuid.UUID] = []
    real = hsds_writer.exports_from_rows

    def spied(rows: Any, service_ids: Any, **objects: Any) -> Any:
        wanted = list(service_ids)
        made = real(rows, wanted, **objects)
        ids.extend(i for i in wanted if i not in made)
        return made

    monkeypatch.setattr(hsds_writer, "exports_from_rows", spied)
    return ids


def _as_read_back(report: ImportReport) -> int:
    written = {uuid.UUID(s["id"]) for s in report.services if s["action"] != "skipped"}
    assert set(report.exports) == written
    stored = services_for_export(Service.objects.filter(id__in=written))
    for service in stored:
        # As the harvest compares them: -0.0 is not 0.0, nor 45 45.0.
        assert _canonical(report.exports[service.id]) == _canonical(service_export(service))
    return len(written)


def _uid() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_the_official_examples(example: str) -> None:
    organization, _key = organization_create(name="Open Referral")
    report = hsds_import(
        hsds_read(json.loads((EXAMPLES / example).read_text())),
        organization=organization,
        exports=True,
    )
    assert report.created > 0, report.errors
    assert _as_read_back(report) == report.created


def test_the_benchmark_s_services_are_made_from_the_rows(read_back: list[uuid.UUID]) -> None:
    from bench.catalog import _service

    taxonomy_seed()
    terms = list(TaxonomyTerm.objects.exclude(parent=None))
    activities = [t for t in terms if t.kind == "activity"]
    needs = [t for t in terms if t.kind == "need"]
    rng = random.Random(5)
    organization, _key = organization_create(name="Bench")
    documents = [_service(rng, activities, needs) for _ in range(200)]
    report = hsds_import(hsds_read(documents), organization=organization, exports=True)
    assert report.created == 200, report.errors[:3]
    assert read_back == []
    assert _as_read_back(report) == 200


def _phone(number: str, *languages: str) -> dict[str, Any]:
    return {
        "id": _uid(),
        "number": number,
        "extension": 12,
        "languages": [{"id": _uid(), "code": code, "name": code} for code in languages],
    }


def _contact(name: str, *phones: dict[str, Any]) -> dict[str, Any]:
    return {"id": _uid(), "name": name, "email": "accueil@asso.example.fr", "phones": list(phones)}


def _schedule(day: str, opens: str) -> dict[str, Any]:
    return {"id": _uid(), "freq": "WEEKLY", "byday": day, "opens_at": opens, "timezone": 1}


def _place(name: str) -> dict[str, Any]:
    """A place with everything a place can have, its lists given in an order of their
    own (the database gives them by address type, then by id)."""
    return {
        "id": _uid(),
        "location_type": "physical",
        "name": name,
        "latitude": 45.7640,
        "longitude": 4.8357,
        "transportation": "Métro A, arrêt Hôtel de Ville",
        "addresses": [
            {
                "id": str(uuid.UUID(int=(9 - i) << 100)),
                "address_1": f"{i} rue de la République",
                "city": "Lyon",
                "state_province": "Rhône",
                "postal_code": "69002",
                "country": "FR",
                "address_type": kind,
            }
            for i, kind in enumerate(["postal", "physical", "postal", "virtual"])
        ],
        "accessibility": [{"id": _uid(), "description": "Rampe d'accès", "details": "Porte B"}],
        "languages": [{"id": _uid(), "code": "ar", "name": "Arabe"}],
        "phones": [_phone("04 78 00 00 01", "fr", "tr"), _phone("04 78 00 00 02")],
        "contacts": [_contact("Accueil", _phone("04 78 00 00 03", "uk"))],
        "schedules": [_schedule("MO", "09:00"), _schedule("WE", "14:00")],
    }


def _full_service(name: str, *sals: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": _uid(),
        "name": name,
        "description": f"{name}, ouvert à toutes et tous.",
        "status": "active",
        "fees_description": "2,50 € la séance, gratuit pour les moins de 18 ans",
        "cost_options": [
            {"id": _uid(), "amount": 2.5, "currency": "EUR", "option": "Séance"},
            {"id": _uid(), "amount": 10, "currency": "EUR", "option": "Carte de 5"},
            {"id": _uid(), "amount": 0.05, "currency": "EUR", "option": "Adhésion"},
        ],
        "phones": [_phone("04 72 00 00 0" + str(i)) for i in range(3)],
        "contacts": [_contact(f"Bénévole {i}", _phone("06 12 34 56 7" + str(i))) for i in range(2)],
        "schedules": [_schedule("SA", "10:00")],
        "languages": [{"id": _uid(), "code": "es", "name": "Espagnol"}],
        "translations": {"en": {"name": f"{name} (EN)"}, "ar": {"name": "ورشة"}},
        "attributes": [
            {
                "id": _uid(),
                "taxonomy_term": {
                    "id": _uid(),
                    "code": code,
                    "name": code,
                    "description": f"Thématique {code}",
                    "taxonomy": CITY,
                },
            }
            for code in ("jardinage", "inconnu", "cuisine")
        ],
        "service_at_locations": list(sals),
        **extra,
    }


@pytest.mark.filterwarnings("ignore:DateTimeField ServiceAtLocation.capacity_updated received")
def test_a_city_directory_s_file(read_back: list[uuid.UUID]) -> None:
    taxonomy_seed()
    organization, _key = organization_create(name="Ville de Lyon")
    crosswalk_set(CrosswalkIn(taxonomy=CITY, code="jardinage", tisser_codes=("gardening",)))
    before = _place("Maison des associations")
    first = hsds_import(
        hsds_read([_full_service("Permanence", {"id": _uid(), "location": before})]),
        organization=organization,
        exports=True,
    )
    assert first.created == 1, first.errors
    assert read_back == []
    assert _as_read_back(first) == 1

    shared = _place("Jardin partagé")
    sal = {
        "id": _uid(),
        "location": shared,
        "phones": [_phone("04 78 11 11 11", "fr")],
        "contacts": [_contact("Jardinière", _phone("06 00 00 00 01"))],
        "schedules": [_schedule("TU", "14:00"), _schedule("TH", "09:30")],
        "capacity": {
            "status": "has-capacity",
            "available": 3,
            "updated": "2026-11-20T10:00:00+01:00",
        },
    }
    naive_moment = {
        "id": _uid(),
        "location": _place("Salle des fêtes"),
        "capacity": {"status": "has-capacity", "available": 1, "updated": "2026-11-20T10:00:00"},
    }
    at_the_old_place = _full_service("Atelier cuisine", {"id": _uid(), "location_id": before["id"]})
    document = [
        _full_service("Jardinage", sal),
        _full_service("Troc de graines", {"id": _uid(), "location": shared}),
        at_the_old_place,
        _full_service("Bal", naive_moment),
        _full_service("Sans lieu"),
    ]
    read = hsds_read(document)
    assert not read.errors, read.errors
    report = hsds_import(read, organization=organization, exports=True)
    assert report.created == 5, report.errors
    assert sorted(map(str, read_back)) == sorted([at_the_old_place["id"], document[3]["id"]])
    assert _as_read_back(report) == 5

    # Imported again: unchanged, then changed, each export as stored.
    again = hsds_import(hsds_read(document), organization=organization, exports=True)
    assert again.unchanged == 5, again.services
    assert _as_read_back(again) == 5
    document[0]["name"] = "Jardinage au naturel"
    document[0]["cost_options"][0]["amount"] = 3.1
    changed = hsds_import(hsds_read(document), organization=organization, exports=True)
    assert (changed.updated, changed.unchanged) == (1, 4), changed.services
    assert _as_read_back(changed) == 5
