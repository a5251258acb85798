"""An organisation keeps its own catalogue current through /api/v1/organization."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from community_catalog.models import Service, ServiceAtLocation
from events.models import Event
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

LOCATION = {
    "name": "Centre social Bonnefoi",
    "latitude": 45.7561,
    "longitude": 4.8425,
    "transportation": "Métro D, Guillotière",
    "addresses": [
        {
            "address_1": "5 rue Bonnefoi",
            "city": "Lyon",
            "state_province": "",
            "postal_code": "69003",
            "country": "fr",
        }
    ],
}


def service_body(location_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Atelier cuisine du jeudi",
        "description": "On cuisine ensemble et on partage le repas.",
        "taxonomy": ["cooking-workshop", "isolation"],
        "languages": [{"code": "fr"}, {"code": "eng"}],
        "cost_options": [{"option": "Gratuit", "amount": 0, "currency": "eur"}],
        "contacts": [{"name": "Nadia", "phones": [{"number": "04 78 60 00 01"}]}],
        "service_at_locations": [
            {
                "location_id": location_id,
                "schedules": [
                    {"freq": "WEEKLY", "byday": "TH", "opens_at": "14:00", "closes_at": "16:00"}
                ],
            }
        ],
    }
    body.update(overrides)
    return body


def created_service(org_api: ApiClient) -> dict[str, Any]:
    location = org_api.post("/api/v1/organization/locations", LOCATION)
    assert location.status_code == 201, location.json()
    response = org_api.post("/api/v1/organization/services", service_body(location.json()["id"]))
    assert response.status_code == 201, response.json()
    return response.json()


def service_events(service_id: str) -> list[str]:
    return list(
        Event.objects.filter(aggregate_id=service_id).order_by("id").values_list("type", flat=True)
    )


def test_it_creates_a_service_in_hsds_with_normalised_values(org_api: ApiClient) -> None:
    service = created_service(org_api)

    assert service["organization_id"] == str(org_api.organization.id)  # type: ignore[attr-defined]
    assert service["assured_date"] == timezone.localdate().isoformat()
    assert [lang["code"] for lang in service["languages"]] == ["fr", "en"] or {
        lang["code"] for lang in service["languages"]
    } == {"fr", "en"}
    assert service["cost_options"][0]["currency"] == "EUR"
    assert service["contacts"][0]["phones"][0]["number"] == "+33478600001"
    [sal] = service["service_at_locations"]
    assert sal["location"]["addresses"][0]["country"] == "FR"
    assert sal["schedules"][0]["byday"] == "TH"
    assert {a["taxonomy_term"]["code"] for a in service["attributes"]} == {
        "cooking-workshop",
        "isolation",
    }
    assert Service.objects.get(id=service["id"]).cost == "free"
    assert service_events(service["id"]) == ["service.updated"]


def test_a_change_is_announced_once_and_a_no_op_not_at_all(org_api: ApiClient) -> None:
    service = created_service(org_api)
    path = f"/api/v1/organization/services/{service['id']}"

    Service.objects.filter(id=service["id"]).update(assured_date="2026-01-05")
    renamed = org_api.patch(path, {"name": "Cuisine partagée"})
    same = org_api.patch(path, {"name": "Cuisine partagée"})

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Cuisine partagée"
    assert same.status_code == 200
    assert service_events(service["id"]) == ["service.updated", "service.updated"]
    change = Event.objects.filter(aggregate_id=service["id"]).last()
    assert change is not None
    assert change.payload["changes"] == ["name"]


def test_another_organisation_gets_404_and_never_the_data(
    org_api: ApiClient, rival_api: ApiClient
) -> None:
    service = created_service(org_api)
    sal_id = service["service_at_locations"][0]["id"]
    location_id = service["service_at_locations"][0]["location_id"]
    schedule_id = service["service_at_locations"][0]["schedules"][0]["id"]
    base = "/api/v1/organization"

    attempts = [
        rival_api.get(f"{base}/services/{service['id']}"),
        rival_api.patch(f"{base}/services/{service['id']}", {"name": "Volé"}),
        rival_api.delete(f"{base}/services/{service['id']}"),
        rival_api.post(f"{base}/services/{service['id']}/close", {}),
        rival_api.post(f"{base}/services/{service['id']}/confirm", {}),
        rival_api.get(f"{base}/locations/{location_id}"),
        rival_api.patch(f"{base}/locations/{location_id}", {"name": "Volé"}),
        rival_api.delete(f"{base}/locations/{location_id}"),
        rival_api.get(f"{base}/service-at-locations/{sal_id}"),
        rival_api.patch(f"{base}/service-at-locations/{sal_id}/capacity", {"available": 0}),
        rival_api.get(f"{base}/service-at-locations/{sal_id}/schedules/{schedule_id}"),
        rival_api.delete(f"{base}/service-at-locations/{sal_id}/schedules/{schedule_id}"),
    ]

    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all("Atelier" not in r.content.decode() for r in attempts)
    assert rival_api.get(f"{base}/services").json()["total_items"] == 0
    assert org_api.get(f"{base}/services/{service['id']}").json()["name"] == service["name"]


def test_a_health_centre_key_cannot_edit_the_catalogue(org_api: ApiClient, api: ApiClient) -> None:
    service = created_service(org_api)
    assert api.get(f"/api/v1/organization/services/{service['id']}").status_code == 401
    assert api.post("/api/v1/organization/locations", LOCATION).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"minimum_age": 70, "maximum_age": 20}, ""),
        ({"languages": [{"code": "xx"}]}, "languages[0].code"),
        (
            {"contacts": [{"name": "A", "phones": [{"number": "12"}]}]},
            "contacts[0].phones[0].number",
        ),
        ({"taxonomy": ["cooking-workshop", "karaoke"]}, "taxonomy[1]"),
        ({"status": "open"}, "status"),
        ({"cost_options": [{"amount": -3, "currency": "EUR"}]}, "cost_options[0].amount"),
    ],
)
def test_bad_service_fields_are_named(
    org_api: ApiClient, change: dict[str, Any], field: str
) -> None:
    service = created_service(org_api)

    response = org_api.patch(f"/api/v1/organization/services/{service['id']}", change)

    assert response.status_code == 422, response.json()
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert Service.objects.get(id=service["id"]).name == service["name"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": 100, "longitude": 4.8}, "latitude"),
        ({"latitude": 45.7, "longitude": None}, "body"),
        ({"location_type": "underground"}, "location_type"),
    ],
)
def test_bad_location_fields_are_named(
    org_api: ApiClient, change: dict[str, Any], field: str
) -> None:
    location = org_api.post("/api/v1/organization/locations", {**LOCATION, **change})

    assert location.status_code == 422, location.json()
    assert field in [f["field"] for f in location.json()["error"]["fields"]]


def test_a_schedule_with_times_out_of_order_is_refused(org_api: ApiClient) -> None:
    service = created_service(org_api)
    sal_id = service["service_at_locations"][0]["id"]

    response = org_api.post(
        f"/api/v1/organization/service-at-locations/{sal_id}/schedules",
        {"freq": "WEEKLY", "byday": "MO", "opens_at": "16:00", "closes_at": "15:00"},
    )

    assert response.status_code == 422
    assert "closes_at must be after opens_at" in response.json()["error"]["message"] or any(
        "closes_at" in f["message"] for f in response.json()["error"]["fields"]
    )


def test_schedules_can_be_added_changed_and_removed(org_api: ApiClient) -> None:
    service = created_service(org_api)
    sal_id = service["service_at_locations"][0]["id"]
    base = f"/api/v1/organization/service-at-locations/{sal_id}/schedules"

    added = org_api.post(
        base, {"freq": "MONTHLY", "byday": "2TU", "opens_at": "10:00", "closes_at": "12:00"}
    )
    assert added.status_code == 201, added.json()
    schedule = added.json()
    changed = org_api.patch(f"{base}/{schedule['id']}", {"closes_at": "12:30:00"})
    listed = org_api.get(base).json()
    removed = org_api.delete(f"{base}/{schedule['id']}")

    assert changed.status_code == 200
    assert changed.json()["closes_at"] == "12:30:00"
    assert len(listed) == 2
    assert removed.status_code == 204
    assert org_api.get(f"{base}/{schedule['id']}").status_code == 404
    assert len(org_api.get(base).json()) == 1


def test_capacity_is_one_small_patch_and_is_announced(org_api: ApiClient) -> None:
    service = created_service(org_api)
    sal_id = service["service_at_locations"][0]["id"]
    path = f"/api/v1/organization/service-at-locations/{sal_id}/capacity"

    full = org_api.patch(path, {"available": 0, "maximum": 12})
    reopened = org_api.patch(path, {"available": 3})
    too_many = org_api.patch(path, {"available": 13})

    assert full.json()["status"] == "no-capacity"
    assert reopened.json() | {"updated": None} == {
        "status": "has-capacity",
        "available": 3,
        "maximum": 12,
        "updated": None,
    }
    assert too_many.status_code == 422
    assert service_events(service["id"]).count("capacity.changed") == 2
    assert ServiceAtLocation.objects.get(id=sal_id).capacity_available == 3


def test_closing_reopening_and_confirming(org_api: ApiClient) -> None:
    service = created_service(org_api)
    Service.objects.filter(id=service["id"]).update(assured_date=None)
    base = f"/api/v1/organization/services/{service['id']}"

    closed = org_api.post(f"{base}/close", {"alert": "Fermé en août"})
    reopened = org_api.post(f"{base}/reopen", {})
    confirmed = org_api.post(f"{base}/confirm", {})

    assert closed.json()["status"] == "temporarily closed"
    assert closed.json()["alert"] == "Fermé en août"
    assert reopened.json()["status"] == "active"
    assert not reopened.json()["alert"]
    assert confirmed.json()["assured_date"] == timezone.localdate().isoformat()
    assert "service.closed" in service_events(service["id"])


def test_deleting_a_service_without_referrals_deletes_it(org_api: ApiClient) -> None:
    service = created_service(org_api)

    response = org_api.delete(f"/api/v1/organization/services/{service['id']}")

    assert response.status_code == 200
    assert response.json()["deleted"] is True
    assert not Service.objects.filter(id=service["id"]).exists()


def test_deleting_a_service_with_live_referrals_deactivates_it_and_says_so(
    org_api: ApiClient, api: ApiClient
) -> None:
    from referrals.models import Match, Referral
    from tests.conftest import referral_body

    service = created_service(org_api)
    sal = ServiceAtLocation.objects.get(service_id=service["id"])
    referral_id = api.post("/api/v1/referrals", referral_body()).json()["id"]
    Match.objects.create(
        referral=Referral.objects.get(id=referral_id),
        service_at_location=sal,
        rank=1,
        score=0.9,
        distance_km=0.5,
    )

    response = org_api.delete(f"/api/v1/organization/services/{service['id']}")
    location_removal = org_api.delete(f"/api/v1/organization/locations/{sal.location_id}")

    assert response.status_code == 200
    assert response.json()["deleted"] is False
    assert response.json()["live_referrals"] == 1
    assert "inactive" in response.json()["message"]
    assert Service.objects.get(id=service["id"]).status == "inactive"
    assert location_removal.status_code == 409


def test_create_org_prints_a_key_that_works_once_shown(capsys: Any) -> None:
    from django.core.management import call_command

    from accounts.models import ApiKey

    call_command("create_org", "Jardins partagés de Gerland")
    key = capsys.readouterr().out.strip().splitlines()[-1]

    response = ApiClient(key).get("/api/v1/organization/services")
    assert response.status_code == 200
    stored = ApiKey.objects.get(organization__name="Jardins partagés de Gerland")
    assert stored.role == "organization"
    assert key not in (stored.key_hash, stored.prefix)
    assert key.startswith(f"tsk_{stored.prefix}_")


def test_an_organisation_can_list_what_it_has_to_confirm(org_api: ApiClient) -> None:
    fresh = created_service(org_api)
    stale = org_api.post(
        "/api/v1/organization/services",
        service_body(fresh["service_at_locations"][0]["location_id"], name="Marche du lundi"),
    ).json()
    Service.objects.filter(id=stale["id"]).update(assured_date="2025-01-01")

    to_confirm = org_api.get("/api/v1/organization/services?stale=true").json()
    current = org_api.get("/api/v1/organization/services?stale=false").json()

    assert [s["id"] for s in to_confirm["contents"]] == [stale["id"]]
    assert [s["id"] for s in current["contents"]] == [fresh["id"]]
