"""Catalogue search for health centres and organisations, and the taxonomy."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from community_catalog.models import Location, ServiceAtLocation
from tests.conftest import BELLECOUR, ApiClient

pytestmark = pytest.mark.django_db

NEAR = f"lat={BELLECOUR['latitude']}&lon={BELLECOUR['longitude']}"


def search(client: ApiClient, query: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/catalog/services?{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def names(result: dict[str, Any]) -> set[str]:
    return {item["name"] for item in result["items"]}


def test_each_filter_narrows_the_results(catalog: int, api: ApiClient) -> None:
    everything = search(api, "limit=100")
    near = search(api, f"{NEAR}&radius_km=1.5&limit=100")
    cooking = search(api, "need=cooking-workshop&limit=100")
    thursday = search(api, "weekday=TH&limit=100")
    free = search(api, "free=true&limit=100")
    paid = search(api, "free=false&limit=100")
    words = search(api, "q=marche&limit=100")
    english = search(api, "language=en&limit=100")
    french = search(api, "language=fr&limit=100")

    assert everything["total"] >= catalog
    assert 0 < near["total"] < everything["total"]
    assert all(i["distance_km"] <= 1.5 for i in near["items"])
    assert [i["distance_km"] for i in near["items"]] == sorted(
        i["distance_km"] for i in near["items"]
    )
    assert cooking["total"]
    assert all("cooking-workshop" in i["taxonomy"] for i in cooking["items"])
    assert thursday["total"]
    assert all(
        any(s["starts_at"][:10] and _weekday(s["starts_at"]) == 3 for s in i["next_sessions"])
        for i in thursday["items"]
    )
    assert free["total"] + paid["total"] == everything["total"]
    assert all(i["cost"]["free"] for i in free["items"])
    assert words["total"]
    assert all(
        "marche" in (i["name"] + i["description"] + i["organization"]["name"]).lower()
        for i in words["items"]
    )
    # A few demo activities are run in English too, or offer interpreting.
    assert 0 < english["total"] < everything["total"]
    assert all("en" in i["languages"] or i["interpretation_services"] for i in english["items"])
    assert french["total"] == everything["total"]


def _weekday(iso: str) -> int:
    from datetime import datetime

    return datetime.fromisoformat(iso).weekday()


def test_filters_combine_and_a_need_finds_the_kinds_below_it(catalog: int, api: ApiClient) -> None:
    walking = search(api, "need=walking-group&limit=100")
    physical = search(api, "need=physical-activity&limit=100")
    combined = search(api, f"need=physical-activity&{NEAR}&radius_km=3&free=true&limit=100")

    assert walking["total"]
    assert names(walking) <= names(physical)
    assert names(combined) <= names(physical)
    assert all(i["cost"]["free"] and i["distance_km"] <= 3 for i in combined["items"])


def test_a_postcode_stands_for_a_position(catalog: int, api: ApiClient) -> None:
    by_postcode = search(api, "postcode=69002&radius_km=2&limit=100")
    unknown = api.get("/api/v1/catalog/services?postcode=99999")
    half_point = api.get("/api/v1/catalog/services?lat=45.7")

    assert by_postcode["total"]
    assert all(i["distance_km"] <= 2 for i in by_postcode["items"])
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"][0]["field"] == "postcode"
    assert half_point.status_code == 422


def test_results_are_paginated_with_a_total(catalog: int, api: ApiClient) -> None:
    first = search(api, "limit=5")
    second = search(api, "limit=5&offset=5")

    assert first["total"] == second["total"] >= 10
    assert len(first["items"]) == len(second["items"]) == 5
    assert not names(first) & names(second)


def test_results_carry_sessions_capacity_and_freshness(catalog: int, api: ApiClient) -> None:
    item = search(api, f"{NEAR}&radius_km=2&limit=1")["items"][0]

    assert len(item["next_sessions"]) == 3
    assert item["capacity"]["status"] == "has-capacity"
    assert item["stale"] is False
    assert item["place"]["address"]["city"]


def test_confidential_places_are_never_located_for_other_parties(
    catalog: int, api: ApiClient, org_api: ApiClient
) -> None:
    sal = ServiceAtLocation.objects.select_related("location").first()
    assert sal is not None
    Location.objects.filter(id=sal.location_id).update(
        is_confidential=True,
        organization=org_api.organization,  # type: ignore[attr-defined]
    )
    query = f"q={sal.service.name}&limit=100"

    seen_by_centre = [i for i in search(api, query)["items"] if i["place"]["confidential"]]
    seen_by_owner = [i for i in search(org_api, query)["items"] if i["place"]["confidential"]]

    assert seen_by_centre
    assert all(
        i["place"]["address"] is None
        and i["place"]["latitude"] is None
        and i["place"]["name"] == ""
        and i["place"]["id"] is None
        for i in seen_by_centre
    )
    assert seen_by_owner
    assert seen_by_owner[0]["place"]["address"] is not None


def test_search_needs_a_key(catalog: int) -> None:
    assert Client().get("/api/v1/catalog/services").status_code == 401


def test_the_taxonomy_is_public_versioned_and_bilingual(db: None) -> None:
    response = Client().get("/api/v1/catalog/taxonomy")

    body = response.json()
    assert response.status_code == 200
    assert body["version"]
    roots = {t["code"]: t for t in body["terms"]}
    assert set(roots) == {"needs", "activities"}
    physical = next(t for t in roots["activities"]["children"] if t["code"] == "physical-activity")
    assert [c["code"] for c in physical["children"]] == ["walking-group"]
    assert physical["name_fr"] == "Activité physique"
    assert physical["name_en"] == "Physical activity"
