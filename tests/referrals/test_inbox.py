"""The organisation's inbox: its own placements only, and only what it needs to welcome
the person. And the centre's side: another centre gets 404 everywhere."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import ApiClient, organization_key, referral_matched

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_feed_lag(settings: Any) -> None:
    settings.TISSER_EVENT_FEED_LAG_SECONDS = 0


INBOX = "/api/v1/inbox/placements"
SECRET_BITS = ("veuvage", "pt-0001", "1948", "45.75", "4.83")


def test_an_organisation_sees_only_its_placements_and_only_what_it_needs(
    api: ApiClient, catalog: int
) -> None:
    referral = referral_matched(
        api,
        needs=["walking-group"],
        max_distance_km=10,
        note_for_organization="Préfère être accueillie par une femme.",
        accessibility_needs=["step-free"],
        do_not_contact=True,
    )
    by_org: dict[uuid.UUID, set[str]] = {}
    for placement in referral.placements.all():
        by_org.setdefault(placement.organization_id, set()).add(str(placement.id))
    assert len(by_org) >= 2

    for placement in referral.placements.select_related("organization"):
        org = organization_key(placement.organization)
        response = org.get(INBOX)
        assert response.status_code == 200
        items = response.json()["items"]
        assert {i["id"] for i in items} == by_org[placement.organization_id]
        item = next(i for i in items if i["id"] == str(placement.id))
        assert item["referral_code"] == referral.code
        assert item["person"] == {
            "first_name": "Josiane",
            "preferred_language": "fr",
            "needs": ["walking-group"],
            "needs_labels": ["Groupe de marche"],
            "accessibility_needs": ["step-free"],
            "do_not_contact": True,
            "note_for_organization": "Préfère être accueillie par une femme.",
        }
        assert item["allowed_actions"] == ["accept", "reject"]
        assert item["respond_by"]
        # Never the clinical reason, the patient reference, the year of birth or where
        # they live: not in the list, not in one placement, not in the feed.
        raw = response.content.decode() + org.get(f"{INBOX}/{placement.id}").content.decode()
        raw += org.get("/api/v1/events").content.decode()
        for secret in SECRET_BITS:
            assert secret not in raw, secret


def test_another_organisation_gets_404(api: ApiClient, catalog: int, rival_api: ApiClient) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.first()
    assert placement is not None

    assert rival_api.get(INBOX).json()["total"] == 0
    assert rival_api.get(f"{INBOX}/{placement.id}").status_code == 404
    # Whatever the body says, valid or not: whether the placement exists is not theirs
    # to learn from the kind of refusal.
    for action in ("accept", "reject", "start", "hold", "complete", "fail"):
        for body in ({}, {"reason": "no-capacity"}, {"reason": "nonsense"}, {"note": 7}):
            response = rival_api.post(f"{INBOX}/{placement.id}/{action}", body)
            assert response.status_code == 404, (action, body)
    placement.refresh_from_db()
    assert placement.status == "requested"


def test_the_inbox_is_for_organisations_only(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.first()
    assert placement is not None
    assert api.get(INBOX).status_code == 401
    assert api.post(f"{INBOX}/{placement.id}/accept", {}).status_code == 401
    assert ApiClient(None).get(INBOX).status_code == 401


def test_another_centre_gets_404_on_every_referral_route(
    api: ApiClient, catalog: int, outsider_api: ApiClient
) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.first()
    assert placement is not None
    base = f"/api/v1/referrals/{referral.id}"

    for path in (base, f"{base}/events", f"{base}/fhir", f"{base}/slip.pdf"):
        assert outsider_api.get(path).status_code == 404, path
    assert outsider_api.post(f"{base}/cancel", {}).status_code == 404
    assert outsider_api.post(f"{base}/placements/{placement.id}/cancel", {}).status_code == 404
    # Nothing changed, and nothing leaked into the other centre's feed.
    referral.refresh_from_db()
    assert referral.status == "active"
    assert outsider_api.get("/api/v1/events").json()["items"] == []
    # A placement of this referral named under another referral of the same centre: 404.
    other = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    wrong = api.post(f"/api/v1/referrals/{other.id}/placements/{placement.id}/cancel", {})
    assert wrong.status_code == 404


def test_the_filter_and_paging(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    org = organization_key(placement.organization)
    total = org.get(INBOX).json()["total"]
    assert org.post(f"{INBOX}/{placement.id}/accept", {"note": "À mardi !"}).status_code == 200

    accepted = org.get(f"{INBOX}?status=accepted").json()
    assert [i["id"] for i in accepted["items"]] == [str(placement.id)]
    assert accepted["items"][0]["note"] == "À mardi !"
    assert accepted["items"][0]["respond_by"] is None
    assert org.get(f"{INBOX}?status=requested").json()["total"] == total - 1
    assert org.get(f"{INBOX}?limit=1").json()["items"].__len__() == 1
    for bad in ("status=maybe", "limit=0", "limit=1000", "offset=-1"):
        response = org.get(f"{INBOX}?{bad}")
        assert response.status_code == 422, bad
        assert response.json()["error"]["fields"][0]["field"] == bad.split("=")[0]
    # The centre sees the organisation's answer.
    detail = api.get(f"/api/v1/referrals/{referral.id}").json()
    seen = next(p for p in detail["placements"] if p["id"] == str(placement.id))
    assert (seen["status"], seen["note"]) == ("accepted", "À mardi !")


def test_bad_ids_and_bodies_get_4xx(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    org = organization_key(placement.organization)

    assert org.get(f"{INBOX}/not-a-uuid").status_code == 422
    assert org.post(f"{INBOX}/{uuid.uuid4()}/accept", {}).status_code == 404
    assert org.post(f"{INBOX}/{placement.id}/accept", [1, 2]).status_code == 422
    assert org.post(f"{INBOX}/{placement.id}/accept", {"note": "x" * 501}).status_code == 422
    huge = json.dumps({"note": "x" * 2_000_000})
    response = org.client.post(
        f"{INBOX}/{placement.id}/accept",
        huge,
        content_type="application/json",
        headers=org.headers,
    )
    assert 400 <= response.status_code < 500
    placement.refresh_from_db()
    assert placement.status == "requested"
