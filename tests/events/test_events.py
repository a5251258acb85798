"""A referral's history, and the cursor-paginated feed each party may read."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from events.models import Event
from tests.conftest import ApiClient, organization_key, referral_matched

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_feed_lag(settings: Any) -> None:
    settings.TISSER_EVENT_FEED_LAG_SECONDS = 0


FEED = "/api/v1/events"


def test_a_referral_history_lists_every_change_in_order(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    organization_key(placement.organization).post(
        f"/api/v1/inbox/placements/{placement.id}/accept", {}
    )

    items = api.get(f"/api/v1/referrals/{referral.id}/events").json()["items"]

    types = [i["type"] for i in items]
    assert types == [
        "referral.submitted",
        "referral.matching",
        "placement.requested",
        "placement.requested",
        "placement.requested",
        "referral.matched",
        "placement.accepted",
    ]
    ids = [i["id"] for i in items]
    assert ids == sorted(ids)
    assert items[-1]["data"]["placement_id"] == str(placement.id)


def _walk(client: ApiClient, limit: int, **params: str) -> list[dict]:
    seen: list[dict] = []
    cursor = None
    for _ in range(200):
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        query += "".join(f"&{k}={v}" for k, v in params.items())
        page = client.get(FEED + query).json()
        if not page["items"]:
            # The end: the cursor stays where it was, to poll again later.
            assert page["next_cursor"] == (cursor or page["next_cursor"])
            return seen
        seen.extend(page["items"])
        cursor = page["next_cursor"]
    raise AssertionError("the feed never ended")


def test_the_feed_pages_through_everything_once(
    api: ApiClient, catalog: int, outsider_api: ApiClient
) -> None:
    for _ in range(3):
        referral_matched(api, needs=["walking-group"], max_distance_km=10)
    referral_matched(outsider_api, needs=["walking-group"], max_distance_km=10)

    walked = _walk(api, limit=4)

    mine = list(
        Event.objects.filter(health_center__name="Maison de santé Gerland").values_list(
            "id", flat=True
        )
    )
    assert [e["id"] for e in walked] == sorted(mine)
    assert len(walked) == 3 * 7 - 3  # 3 x (submitted, matching, 3 requested, matched) ...
    # ... and a filter by type.
    matched = _walk(api, limit=2, type="referral.matched")
    assert [e["type"] for e in matched] == ["referral.matched"] * 3


def test_an_organisation_feed_has_its_placements_and_services_only(
    api: ApiClient, catalog: int
) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    org = organization_key(placement.organization)

    walked = _walk(org, limit=50)

    types = {e["type"] for e in walked}
    assert not any(t.startswith("referral.") for t in types)
    placements = [e for e in walked if e["type"].startswith("placement.")]
    assert placements
    assert {e["data"]["organization_id"] for e in placements} == {str(placement.organization_id)}
    services = {e["aggregate_id"] for e in walked if e["type"].startswith("service.")}
    own = {str(s) for s in placement.organization.services.values_list("id", flat=True)}
    assert services
    assert services <= own


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%00",
        base64.urlsafe_b64encode(b"ev1:-5").decode(),
        base64.urlsafe_b64encode(b"xx:12").decode(),
        base64.urlsafe_b64encode(b"ev1:12abc").decode(),
        base64.urlsafe_b64encode(b"ev1: 5").decode(),
        base64.urlsafe_b64encode(b"ev1:+5").decode(),
        base64.urlsafe_b64encode(b"ev1:1_0").decode(),
        "A" * 101,
    ],
)
def test_a_bad_cursor_is_a_422_naming_it(api: ApiClient, cursor: str) -> None:
    response = api.get(f"{FEED}?cursor={cursor}")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "cursor"


def test_the_feed_needs_a_centre_or_organisation_key(db: None) -> None:
    from accounts.keys import api_key_create

    assert ApiClient(None).get(FEED).status_code == 401
    assert ApiClient(api_key_create()).get(FEED).status_code == 401  # an operator's


def test_the_feed_waits_for_transactions_to_settle(
    api: ApiClient, catalog: int, settings: Any
) -> None:
    referral_matched(api, needs=["walking-group"], max_distance_km=10)
    settings.TISSER_EVENT_FEED_LAG_SECONDS = 60

    page = api.get(FEED).json()

    assert page["items"] == []
    settings.TISSER_EVENT_FEED_LAG_SECONDS = 0
    assert len(api.get(f"{FEED}?cursor={page['next_cursor']}").json()["items"]) == 6


def test_a_bad_type_filter_is_a_422(api: ApiClient) -> None:
    response = api.get(f"{FEED}?type=%00")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "type"
