"""Random directories' files, imported in turn into one catalogue (new services beside
updated ones, shared places, every kind of schedule, capacity, mapped and unmapped terms,
services with no place): after each import the match points equal those rebuilt from the
tables, and created services were not read back (from the review of issue 24 part 3).
"""

from __future__ import annotations

import copy
import random
import uuid
from typing import Any

import pytest

from community_catalog.crosswalks import CrosswalkIn, crosswalk_set
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import ImportRejected, hsds_import
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed
from tests.matching.test_index_from_rows import CITY, _ids, _same_as_the_tables, _term

pytestmark = pytest.mark.django_db

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA"]


def _u() -> str:
    return str(uuid.uuid4())


def _schedule(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(5)
    if kind == 0:
        return {
            "id": _u(),
            "freq": "WEEKLY",
            "byday": rng.choice(DAYS),
            "opens_at": "09:00",
            "closes_at": "11:30",
        }
    if kind == 1:
        return {
            "id": _u(),
            "freq": "MONTHLY",
            "byday": f"{rng.randint(1, 3)}{rng.choice(DAYS)}",
            "opens_at": "14:00",
            "closes_at": "16:00",
        }
    if kind == 2:
        return {
            "id": _u(),
            "freq": "WEEKLY",
            "byday": rng.choice(DAYS),
            "opens_at": "10:00",
            "valid_from": "2020-01-01",
            "valid_to": "2099-06-30",
        }
    if kind == 3:
        return {"id": _u(), "description": "Sur rendez-vous"}
    return {
        "id": _u(),
        "freq": "WEEKLY",
        "byday": rng.choice(DAYS),
        "opens_at": "18:00",
        "until": "2021-01-01",
        "dtstart": "2020-01-01",
    }


def _langs(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {"id": _u(), "code": c, "name": c}
        for c in rng.sample(["fr", "en", "ar", "tr", "es"], rng.randint(0, 2))
    ]


def _location(rng: random.Random) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "id": _u(),
        "location_type": "physical",
        "name": f"Lieu {rng.randint(1, 999)}",
        "latitude": round(45.7 + rng.random() / 10, 5),
        "longitude": round(4.8 + rng.random() / 10, 5),
        "languages": _langs(rng),
    }
    if rng.random() < 0.2:
        loc["confidential"] = True
    if rng.random() < 0.1:
        loc.pop("latitude"), loc.pop("longitude")
    return loc


def _sal(rng: random.Random, location: dict[str, Any], by_id: bool) -> dict[str, Any]:
    sal: dict[str, Any] = {"id": _u()}
    if by_id:
        sal["location_id"] = location["id"]
    else:
        sal["location"] = copy.deepcopy(location)
    if rng.random() < 0.4:
        sal["schedules"] = [_schedule(rng) for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.3:
        sal["capacity"] = rng.choice(
            [
                {"status": "no-capacity", "available": 0},
                {"status": "has-capacity", "available": rng.randint(0, 3)},
            ]
        )
    return sal


def _attributes(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for code in rng.sample(
        ["gardening", "cooking", "jardinage", "inconnu", "isolation"], rng.randint(0, 2)
    ):
        out.append(
            _term(
                code,
                CITY if code in ("jardinage", "inconnu") else "https://tisser.example/taxonomy",
            )
        )
    return out


@pytest.mark.parametrize("seed", range(8))
def test_mixed_imports(seed: int, reads: set[uuid.UUID]) -> None:
    rng = random.Random(seed)
    taxonomy_seed()
    crosswalk_set(CrosswalkIn(taxonomy=CITY, code="jardinage", tisser_codes=("gardening",)))
    org, _ = organization_create(name="Ville")
    services: dict[str, dict[str, Any]] = {}
    known: dict[str, dict[str, Any]] = {}
    for round_ in range(4):
        doc = []
        fresh = [_location(rng) for _ in range(rng.randint(1, 4))]
        places = list(known.values())
        # existing services, changed or not
        for sid in rng.sample(sorted(services), min(len(services), rng.randint(0, 5))):
            s = copy.deepcopy(services[sid])
            change = rng.randrange(6)
            if change == 0:
                s["name"] += " bis"
            elif change == 1:
                s["schedules"] = [_schedule(rng)]
            elif change == 2:
                s["service_at_locations"].append(_sal(rng, rng.choice(fresh), False))
            elif change == 3 and s["service_at_locations"]:
                sal = s["service_at_locations"][0]
                loc_id = sal.get("location_id") or sal["location"]["id"]
                moved = {
                    **known[loc_id],
                    "latitude": round(45.6 + rng.random() / 10, 5),
                    "longitude": 4.7,
                    "languages": _langs(rng),
                }
                sal.pop("location_id", None)
                sal["location"] = moved
            elif change == 4:
                s["languages"] = _langs(rng)
                s["status"] = rng.choice(["active", "inactive"])
            doc.append(s)
        for _ in range(rng.randint(2, 8)):
            sals = []
            for _ in range(rng.randint(0, 2)):
                if places and rng.random() < 0.5:
                    p = rng.choice(places)
                    sals.append(_sal(rng, p, rng.random() < 0.5))
                else:
                    sals.append(_sal(rng, rng.choice(fresh), False))
            # One service_at_location per place and service.
            by_place = {(x.get("location_id") or x["location"]["id"]): x for x in reversed(sals)}
            sals = list(reversed(by_place.values()))
            s = {
                "id": _u(),
                "name": f"Service {rng.randint(1, 10**6)}",
                "description": "d",
                "status": rng.choice(["active", "active", "inactive"]),
                "service_at_locations": sals,
                "languages": _langs(rng),
                "attributes": _attributes(rng),
            }
            if rng.random() < 0.3:
                s["schedules"] = [_schedule(rng)]
            if rng.random() < 0.3:
                s["interpretation_services"] = "Sur demande"
            if rng.random() < 0.3:
                s["minimum_age"] = 16
            doc.append(s)
        rng.shuffle(doc)
        read = hsds_read(doc)
        assert not read.errors, read.errors[:3]
        try:
            report = hsds_import(read, organization=org)
        except ImportRejected as e:
            raise AssertionError(e.report.errors[:3]) from None
        assert not _ids(report) & reads
        n = _same_as_the_tables()
        print(
            "round",
            round_,
            "created",
            report.created,
            "updated",
            report.updated,
            "unchanged",
            report.unchanged,
            "points",
            n,
            "warnings",
            len(report.warnings),
        )
        for s in doc:
            services[s["id"]] = s
            for sal in s["service_at_locations"]:
                if "location" in sal and sal["location"]["id"] not in known:
                    known[sal["location"]["id"]] = sal["location"]
                elif "location" in sal:
                    pass
        reads.clear()
