"""Crafted input gets a 4xx naming the problem: never a 500, never half-written data."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from community_catalog.models import Location, Service
from events.models import Event
from tests.community_catalog.test_api_organization import LOCATION, created_service, service_body
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parent / "hsds_examples" / "service_full.json"


def example() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return document


def fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


def test_repeated_ids_in_one_file_are_named(org_api: ApiClient) -> None:
    first = example()
    again = copy.deepcopy(first)
    again["name"] = "Copie"
    other = copy.deepcopy(first)
    other["id"] = str(uuid.uuid4())

    response = org_api.post("/api/v1/catalog/import", json.dumps([first, again, other]))

    assert response.status_code == 422
    assert {"[1].id", "[2].service_at_locations[0].id"} <= set(fields(response))
    assert not Service.objects.exists()


def test_a_service_at_location_cannot_move_to_another_place(org_api: ApiClient) -> None:
    service = created_service(org_api)
    second = org_api.post("/api/v1/organization/locations", {**LOCATION, "name": "Annexe"})
    [sal] = service["service_at_locations"]
    moved = {"service_at_locations": [{"id": sal["id"], "location_id": second.json()["id"]}]}

    response = org_api.patch(f"/api/v1/organization/services/{service['id']}", moved)

    assert response.status_code == 409
    assert fields(response) == ["service_at_locations[0].location_id"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "schedules",
            {"freq": "WEEKLY", "byday": "MO", "opens_at": "10:00", "count": 2**64},
            "count",
        ),
        (
            "schedules",
            {
                "freq": "WEEKLY",
                "byday": "MO",
                "bymonthday": "31",
                "byyearday": "1",
                "opens_at": "10:00",
            },
            "",
        ),
        (
            "schedules",
            {"freq": "WEEKLY", "byday": "MO", "opens_at": "10:00", "notes": "a\x00b"},
            "notes",
        ),
    ],
)
def test_impossible_or_unstorable_schedules_are_refused(
    org_api: ApiClient, path: str, body: dict[str, Any], field: str
) -> None:
    service = created_service(org_api)
    sal_id = service["service_at_locations"][0]["id"]

    response = org_api.post(f"/api/v1/organization/service-at-locations/{sal_id}/{path}", body)

    assert response.status_code == 422, response.json()
    assert any(f.endswith(field) for f in fields(response))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Atelier\x00"}, "name"),
        (
            {"contacts": [{"name": "A", "phones": [{"number": "0478000000", "type": "x" * 17}]}]},
            "contacts[0].phones[0].type",
        ),
        (
            {
                "contacts": [
                    {"name": "A", "phones": [{"number": "0478000000", "extension": "12.5"}]}
                ]
            },
            "contacts[0].phones[0].extension",
        ),
        ({"service_at_locations": ["not an object"]}, "service_at_locations[0]"),
    ],
)
def test_unstorable_service_fields_are_refused(
    org_api: ApiClient, change: dict[str, Any], field: str
) -> None:
    service = created_service(org_api)

    response = org_api.patch(f"/api/v1/organization/services/{service['id']}", change)

    assert response.status_code == 422, response.json()
    assert field in fields(response)


def test_capacity_beyond_any_room_is_refused(org_api: ApiClient) -> None:
    service = created_service(org_api)
    sal_id = service["service_at_locations"][0]["id"]

    response = org_api.patch(
        f"/api/v1/organization/service-at-locations/{sal_id}", {"capacity": {"available": 2**64}}
    )

    assert response.status_code == 422


def test_deeply_nested_json_is_refused(org_api: ApiClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000

    imported = org_api.post("/api/v1/catalog/import", deep)
    created = org_api.post("/api/v1/organization/locations", deep)

    assert (imported.status_code, created.status_code) == (400, 400)
    assert imported.json()["error"]["code"] == "invalid_json"


def test_search_words_with_a_nul_are_refused(catalog: int, api: ApiClient) -> None:
    response = api.get("/api/v1/catalog/services?q=a%00b")

    assert response.status_code == 422
    assert fields(response) == ["q"]


def test_needs_with_a_nul_or_too_many_are_refused(catalog: int, api: ApiClient) -> None:
    # Found by fuzzing: PostgreSQL cannot compare a text holding a NUL, so this was a 500.
    response = api.get("/api/v1/catalog/services?need=isolation&need=a%00b&lat=45.75&lon=4.83")

    assert response.status_code == 422
    assert fields(response) == ["need[1]"]
    many = "&".join(["need=isolation"] * 21)
    response = api.get(f"/api/v1/catalog/services?{many}&lat=45.75&lon=4.83")
    assert response.status_code == 422
    assert fields(response) == ["need"]


def test_closing_needs_no_body(org_api: ApiClient) -> None:
    service = created_service(org_api)

    response = org_api.client.post(
        f"/api/v1/organization/services/{service['id']}/close", headers=org_api.headers
    )

    assert response.status_code == 200
    assert response.json()["status"] == "temporarily closed"


def test_a_confidential_place_cannot_be_pinned_down_by_searching(
    org_api: ApiClient, api: ApiClient
) -> None:
    shelter = org_api.post(
        "/api/v1/organization/locations",
        {
            **LOCATION,
            "name": "Refuge",
            "latitude": 45.7561,
            "longitude": 4.8425,
            "confidential": True,
        },
    ).json()
    org_api.post("/api/v1/organization/services", service_body(shelter["id"], name="Refuge"))

    def found(lat: float, lon: float, radius: float) -> list[dict[str, Any]]:
        url = f"/api/v1/catalog/services?q=Refuge&lat={lat}&lon={lon}&radius_km={radius}"
        items: list[dict[str, Any]] = api.get(url).json()["items"]
        return items

    at_the_door = found(45.7561, 4.8425, 0.05)
    at_the_cell_centre = found(45.76, 4.84, 0.05)

    assert at_the_door == []
    assert [i["distance_km"] for i in at_the_cell_centre] == [1.0]
    assert at_the_cell_centre[0]["place"]["latitude"] is None


def test_changing_a_shared_place_announces_every_service_met_there(org_api: ApiClient) -> None:
    first = created_service(org_api)
    location_id = first["service_at_locations"][0]["location_id"]
    second = org_api.post(
        "/api/v1/organization/services", service_body(location_id, name="Marche du lundi")
    ).json()
    location = first["service_at_locations"][0]["location"]
    moved = {**location, "name": "Nouvelle salle"}
    sal = {**first["service_at_locations"][0], "location": moved}
    sal.pop("location_id")

    response = org_api.patch(
        f"/api/v1/organization/services/{first['id']}", {"service_at_locations": [sal]}
    )
    unchanged = org_api.patch(
        f"/api/v1/organization/locations/{location_id}", {"name": "Nouvelle salle"}
    )

    assert response.status_code == 200, response.json()
    assert unchanged.status_code == 200
    assert Location.objects.get(id=location_id).name == "Nouvelle salle"
    announced = Event.objects.filter(
        aggregate_id=second["id"], type="service.updated", payload__changes=["location"]
    )
    assert announced.count() == 1


@pytest.mark.parametrize(
    ("where", "value", "status", "field"),
    [
        ("status", "active\ud800", 422, "[0].status"),
        ("email", "a\ud800@example.org", 422, "[0].email"),
        ("x-note\ud800", "a key nobody reads", 200, None),
    ],
)
def test_a_lone_surrogate_gets_the_answer_any_other_character_gets(
    org_api: ApiClient, where: str, value: str, status: int, field: str | None
) -> None:
    """JSON may escape half of a UTF-16 pair ("\\ud800"); the compiled schema cannot read
    it, the slower checker can: a refusal naming the field, or the import, as before."""
    document = example()
    document[where] = value

    response = org_api.post("/api/v1/catalog/import", document)

    assert response.status_code == status, response.content[:500]
    if field:
        assert field in fields(response)
