"""An import's exports made from the rows it wrote, against the services read back,
compared as the harvest compares them (canonical JSON, where -0.0 is not 0.0 and 45 is
not 45.0), not with `==` (from the review of issue 24, part 3: nested objects sharing
an id came back in another order on PostgreSQL; a place at -0.0 read back as 0.0 on
SQLite; a service compared before a later record moved its place kept its old export).
Each case was a failing test before its fix."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from django.db import connection

from community_catalog.hsds import hsds_read
from community_catalog.hsds_export import service_export, services_for_export
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Location, Organization, Service
from community_catalog.services import organization_create
from harvest.records import _canonical

pytestmark = pytest.mark.django_db


def _u() -> str:
    return str(uuid.uuid4())


def _diff(report: Any) -> list[str]:
    out = []
    for s in services_for_export(Service.objects.filter(id__in=list(report.exports))):
        mine, stored = report.exports[s.id], service_export(s)
        if _canonical(mine) != _canonical(stored):
            for k in sorted(mine.keys() | stored.keys()):
                if _canonical(mine.get(k)) != _canonical(stored.get(k)):
                    rows = json.dumps(mine.get(k), default=str)[:300]
                    db = json.dumps(stored.get(k), default=str)[:300]
                    out.append(f"{k}: rows={rows} db={db}")
    return out


def _place(**extra: Any) -> dict[str, Any]:
    return {
        "id": _u(),
        "location_type": "physical",
        "name": "Salle",
        "latitude": 45.76,
        "longitude": 4.83,
        **extra,
    }


def _service(*sals: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": _u(),
        "name": "Atelier",
        "status": "active",
        "service_at_locations": list(sals),
        **extra,
    }


def _import(*docs: dict[str, Any]) -> Any:
    org, _ = organization_create(name="Asso du quartier")
    r = hsds_import(hsds_read(list(docs)), organization=org, exports=True)
    assert r.created == len(docs), r.errors
    return r


def test_negative_zero_coordinates() -> None:
    r = _import(_service({"id": _u(), "location": _place(latitude=-0.0, longitude=-0.0)}))
    assert _diff(r) == []


def test_negative_zero_schedule_timezone() -> None:
    r = _import(
        _service(
            schedules=[
                {
                    "id": _u(),
                    "freq": "WEEKLY",
                    "byday": "MO",
                    "opens_at": "09:00",
                    "closes_at": "10:00",
                    "timezone": -0.0,
                }
            ]
        )
    )
    assert _diff(r) == []


def test_capacity_moment_as_unix_time() -> None:
    sal = {
        "id": _u(),
        "location": _place(),
        "capacity": {"status": "waitlist", "updated": 1767225600},
    }
    r = _import(_service(sal))
    assert _diff(r) == []


def test_capacity_moment_with_microseconds_and_offset() -> None:
    sal = {
        "id": _u(),
        "location": _place(),
        "capacity": {"status": "waitlist", "updated": "2026-03-29T02:30:00.123456-09:30"},
    }
    r = _import(_service(sal, last_modified="2026-10-25T02:30:00.5+14:00"))
    assert _diff(r) == []


def test_amounts() -> None:
    opts = [
        {"id": _u(), "amount": a, "currency": "EUR"}
        for a in (0, 0.0, 2.5, 1e2, 99999999.99, 0.1, -0.0, 10, 1e-2, 5e1)
    ]
    r = _import(_service(cost_options=opts))
    assert _diff(r) == []


def test_same_hsds_id_many_phones() -> None:
    same = _u()
    phones = [
        {"id": same if i % 3 == 0 else _u(), "number": f"04 78 00 00 {i:02d}"} for i in range(40)
    ]
    docs = [_service(phones=phones) for _ in range(30)]
    r = _import(*docs)
    assert _diff(r) == []


def test_same_hsds_id_schedules() -> None:
    same = _u()
    sch = [
        {"id": same, "freq": "WEEKLY", "byday": d, "opens_at": "09:00", "closes_at": "10:00"}
        for d in ("MO", "TU", "WE", "TH", "FR", "SA", "SU", "MO", "TU")
    ]
    docs = [_service(schedules=sch) for _ in range(30)]
    r = _import(*docs)
    assert _diff(r) == []


def test_translations_and_texts() -> None:
    r = _import(
        _service(
            translations={
                "EN": {"name": "Workshop ", "description": "a\r\nb"},
                "ar": {"name": "ورشة"},
            },
            description="ligne 1\r\nligne 2\u2028",
            alternate_name="\u00a0Atelier\u3000",
        )
    )
    assert _diff(r) == []


def test_time_with_fraction() -> None:
    r = _import(
        _service(
            schedules=[
                {
                    "id": _u(),
                    "freq": "WEEKLY",
                    "byday": "MO",
                    "opens_at": "09:00:00.1234567",
                    "closes_at": "10:00:00.999999+02:00",
                }
            ]
        )
    )
    assert _diff(r) == []


def test_unchanged_service_at_a_place_described_later_in_the_file() -> None:
    org, _ = organization_create(name="Maison de quartier")
    place = _place()
    x = _service({"id": _u(), "location": place}, name="Permanence")
    y = _service({"id": _u(), "location": dict(place)}, name="Atelier")
    assert hsds_import(hsds_read([x, y]), organization=org).created == 2
    # Next file: X names the place by id only (unchanged); Y moves it.
    x2 = {
        **x,
        "service_at_locations": [
            {"id": x["service_at_locations"][0]["id"], "location_id": place["id"]}
        ],
    }
    y["service_at_locations"][0]["location"]["latitude"] = 45.70
    r = hsds_import(hsds_read([x2, y]), organization=org, exports=True)
    assert (r.unchanged, r.updated) == (1, 1), r.services
    assert _diff(r) == []


# From the second review: an export a comparison made, reused although a later record
# of the file wrote the service's organisation or place again.


def test_an_organisation_renamed_by_a_later_record() -> None:
    organization, _ = organization_create(name="Ancien nom")
    first = _service({"id": _u(), "location": _place()}, name="Permanence")
    assert hsds_import(hsds_read([first]), organization=organization).created == 1
    # The next file: the service as it was, then a new one whose organisation object
    # renames the organisation.
    new = _service({"id": _u(), "location": _place()}, name="Atelier")
    new["organization"] = {"id": str(organization.id), "name": "Nouveau nom", "description": "d"}
    report = hsds_import(hsds_read([first, new]), organization=organization, exports=True)
    assert Organization.objects.get(id=organization.id).name == "Nouveau nom"
    assert _diff(report) == []


def test_a_place_stored_at_minus_zero_before_and_described_again() -> None:
    """A place stored at -0.0 before -0.0 was made 0.0 (PostgreSQL keeps the sign), then
    described again by a later record: equal in Python, not stored alike."""
    organization, _ = organization_create(name="Maison")
    place = _place(latitude=1.0, longitude=2.0)
    first = _service({"id": _u(), "location": place}, name="Permanence")
    assert hsds_import(hsds_read([first]), organization=organization).created == 1
    if connection.vendor == "postgresql":
        # As a bulk insert stored it before (the ORM writes 0; SQLite cannot hold -0.0).
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE community_catalog_location SET latitude = '-0'::float8, "
                "longitude = '-0'::float8 WHERE id = %s",
                [uuid.UUID(place["id"])],
            )
        stored = Location.objects.get(id=place["id"]).latitude
        assert stored is not None
        assert math.copysign(1.0, stored) < 0
    by_id = {
        **first,
        "service_at_locations": [
            {"id": first["service_at_locations"][0]["id"], "location_id": place["id"]}
        ],
    }
    other = _service({"id": _u(), "location": {**place, "latitude": 0.0, "longitude": 0.0}})
    report = hsds_import(hsds_read([by_id, other]), organization=organization, exports=True)
    assert _diff(report) == []
