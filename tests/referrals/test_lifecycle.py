"""Placements: offered on matching, every legal and illegal transition, re-matching,
cancellation, completion, reminders and expiry with a clock the test controls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from community_catalog.models import ServiceAtLocation
from events.models import Event
from matching.index import match_points_rebuild
from referrals.matching_jobs import capacity_changed, placement_rematch
from referrals.models import Placement, Referral
from referrals.placement_checks import placements_check
from tests.conftest import ApiClient, organization_key, referral_body, referral_matched

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_feed_lag(settings: Any) -> None:
    settings.TISSER_EVENT_FEED_LAG_SECONDS = 0


INBOX = "/api/v1/inbox/placements"

# The FHIR Task transitions docs/api/placements.md allows, written out independently of
# the code.
LEGAL = {
    "requested": {"accepted", "rejected", "cancelled"},
    "accepted": {"in-progress", "on-hold", "completed", "failed", "cancelled"},
    "in-progress": {"completed", "failed", "cancelled"},
    "on-hold": {"in-progress", "cancelled", "completed", "failed"},
    "rejected": set(),
    "cancelled": set(),
    "completed": set(),
    "failed": set(),
}
ACTION_STATUS = {
    "accept": "accepted",
    "reject": "rejected",
    "start": "in-progress",
    "hold": "on-hold",
    "complete": "completed",
    "fail": "failed",
}


def _walking(api: ApiClient, **overrides: Any) -> Referral:
    return referral_matched(api, needs=["walking-group"], max_distance_km=10, **overrides)


def _org(placement: Placement) -> ApiClient:
    return organization_key(placement.organization)


def _act(placement: Placement, action: str, body: dict[str, Any] | None = None) -> Any:
    if body is None and action == "reject":
        body = {"reason": "no-capacity"}
    return _org(placement).post(f"{INBOX}/{placement.id}/{action}", body or {})


def _set_available(organization: Any, sal_id: Any, available: int) -> None:
    response = organization_key(organization).patch(
        f"/api/v1/organization/service-at-locations/{sal_id}/capacity", {"available": available}
    )
    assert response.status_code == 200, response.json()


def _events(type: str, **filters: Any) -> list[Event]:
    return list(Event.objects.filter(type=type, **filters))


def test_matching_offers_each_activity_as_a_requested_placement(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)

    placements = list(referral.placements.select_related("match__service_at_location__service"))
    assert len(placements) == referral.matches.count() == 3
    assert {p.status for p in placements} == {"requested"}
    for placement in placements:
        assert (
            placement.organization_id == placement.match.service_at_location.service.organization_id
        )
        event = Event.objects.get(type="placement.requested", aggregate_id=placement.id)
        # The centre and the organisation both see it.
        assert event.health_center_id == referral.health_center_id
        assert event.organization_id == placement.organization_id

    detail = api.get(f"/api/v1/referrals/{referral.id}").json()
    assert [p["status"] for p in detail["placements"]] == ["requested"] * 3
    assert detail["placements"][0]["allowed_actions"] == ["cancel"]
    assert detail["status"] == "active"


@pytest.mark.parametrize("start", sorted(LEGAL))
@pytest.mark.parametrize("action", sorted(ACTION_STATUS))
def test_every_organisation_transition(
    api: ApiClient, catalog: int, start: str, action: str
) -> None:
    referral = _walking(api)
    placement = referral.placements.first()
    assert placement is not None
    Placement.objects.filter(id=placement.id).update(status=start)
    before = Event.objects.count()

    response = _act(placement, action)

    target = ACTION_STATUS[action]
    placement.refresh_from_db()
    if target in LEGAL[start]:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target
        assert placement.status == target
        assert _events(f"placement.{target}", aggregate_id=placement.id)
    else:
        assert response.status_code == 409, response.json()
        error = response.json()["error"]
        assert error["code"] == "illegal_transition"
        assert error["status"] == start
        expected = sorted(a for a, s in ACTION_STATUS.items() if s in LEGAL[start])
        assert sorted(error["allowed"]) == expected
        assert placement.status == start
        assert Event.objects.count() == before  # nothing written


@pytest.mark.parametrize("start", sorted(LEGAL))
def test_every_centre_cancellation(api: ApiClient, catalog: int, start: str) -> None:
    referral = _walking(api)
    placement = referral.placements.first()
    assert placement is not None
    Placement.objects.filter(id=placement.id).update(status=start)

    response = api.post(
        f"/api/v1/referrals/{referral.id}/placements/{placement.id}/cancel",
        {"reason": "the person chose another group"},
    )

    placement.refresh_from_db()
    if "cancelled" in LEGAL[start]:
        assert response.status_code == 200, response.json()
        assert placement.status == "cancelled"
        assert placement.status_reason == "cancelled-by-center"
        assert placement.center_note == "the person chose another group"
        assert placement.note == ""  # the organisation's own comment field
    else:
        assert response.status_code == 409
        assert response.json()["error"]["allowed"] == []
        assert placement.status == start


def test_a_rejection_needs_a_known_reason_and_only_a_rejection_takes_one(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)
    placement = referral.placements.first()
    assert placement is not None
    org = _org(placement)

    missing = org.post(f"{INBOX}/{placement.id}/reject", {})
    unknown = org.post(f"{INBOX}/{placement.id}/reject", {"reason": "too-busy"})
    misplaced = org.post(f"{INBOX}/{placement.id}/accept", {"reason": "no-capacity"})
    unknown_field = org.post(f"{INBOX}/{placement.id}/accept", {"comment": "hi"})
    not_json = org.client.post(
        f"{INBOX}/{placement.id}/accept",
        "{oops",
        content_type="application/json",
        headers=org.headers,
    )

    for response in (missing, unknown, misplaced, unknown_field):
        assert response.status_code == 422, response.json()
        assert response.json()["error"]["fields"][0]["field"] in ("reason", "comment")
    assert not_json.status_code == 400
    placement.refresh_from_db()
    assert placement.status == "requested"


def test_a_rejection_offers_the_next_best_and_never_the_same_service_twice(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)
    offered: list[Any] = []
    rounds = 0
    # Reject whatever is on offer, again and again, until nothing is left to offer.
    while True:
        waiting = list(referral.placements.filter(status="requested"))
        if not waiting:
            break
        for placement in waiting:
            assert _act(placement, "reject", {"reason": "no-capacity"}).status_code == 200
            event = Event.objects.get(type="placement.rejected", aggregate_id=placement.id)
            placement_rematch(placement_id=placement.id, event_id=event.id)
            assert Event.objects.get(id=event.id).processed_at is not None
        rounds += 1
        assert rounds < 20

    services = list(referral.matches.values_list("service_at_location__service_id", flat=True))
    offered.extend(services)
    assert len(services) == len(set(services)) > 3  # re-matched, each service once
    ranks = list(referral.matches.order_by("rank").values_list("rank", flat=True))
    assert ranks == list(range(1, len(ranks) + 1))
    referral.refresh_from_db()
    assert referral.stage == "unmatched"  # told to the clinician
    assert _events("referral.unmatched", aggregate_id=referral.id)


def test_no_rematch_once_the_person_has_taken_up_an_activity(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    first, second, _third = referral.placements.order_by("match__rank")
    assert _act(first, "accept").status_code == 200
    assert _act(second, "reject").status_code == 200
    event = Event.objects.get(type="placement.rejected", aggregate_id=second.id)

    placement_rematch(placement_id=second.id, event_id=event.id)

    assert referral.placements.count() == 3


def test_the_centre_cancels_a_referral_and_its_open_placements(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)
    first, second, third = referral.placements.order_by("match__rank")
    assert _act(first, "accept").status_code == 200
    assert _act(second, "reject").status_code == 200

    response = api.post(f"/api/v1/referrals/{referral.id}/cancel", {"reason": "moved away"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "revoked"
    assert body["closed_at"]
    statuses = {p["id"]: (p["status"], p["status_reason"]) for p in body["placements"]}
    assert statuses[str(first.id)] == ("cancelled", "cancelled-by-center")
    assert statuses[str(second.id)] == ("rejected", "no-capacity")
    assert statuses[str(third.id)] == ("cancelled", "cancelled-by-center")
    assert _events("referral.cancelled", aggregate_id=referral.id)
    # Twice is a conflict; the organisation can no longer act.
    again = api.post(f"/api/v1/referrals/{referral.id}/cancel", {})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "referral_closed"
    assert _act(third, "accept").status_code == 409
    # A cancelled referral is not re-matched.
    event = Event.objects.get(type="placement.rejected", aggregate_id=second.id)
    placement_rematch(placement_id=second.id, event_id=event.id)
    assert referral.placements.count() == 3


def test_cancel_without_a_body(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    response = api.client.post(f"/api/v1/referrals/{referral.id}/cancel", headers=api.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"


def test_the_referral_completes_when_every_offer_has_ended_with_an_outcome(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)
    first, second, third = referral.placements.order_by("match__rank")
    for placement, actions in (
        (first, ["accept", "start", "complete"]),
        (second, ["reject"]),
        (third, ["accept", "hold", "fail"]),
    ):
        for action in actions:
            assert _act(placement, action).status_code == 200
            referral.refresh_from_db()
            if placement is not third or action != "fail":
                assert referral.status == "active"

    referral.refresh_from_db()
    assert referral.status == "completed"
    assert referral.closed_at is not None
    [completed] = _events("referral.completed", aggregate_id=referral.id)
    assert completed.payload["outcomes"] == ["completed", "failed"]


def test_reminder_at_ten_days_and_expiry_at_fourteen(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    first, second, third = referral.placements.order_by("match__rank")
    assert _act(first, "accept").status_code == 200
    start = timezone.now()

    assert placements_check(now=start + timedelta(days=9, hours=23)).reminded == 0
    at_ten = placements_check(now=start + timedelta(days=10, minutes=1))
    assert (at_ten.reminded, at_ten.expired) == (2, 0)
    assert placements_check(now=start + timedelta(days=11)).reminded == 0  # once only
    reminders = _events("placement.reminder")
    assert {e.aggregate_id for e in reminders} == {second.id, third.id}
    assert all(e.organization_id and e.health_center_id for e in reminders)

    assert placements_check(now=start + timedelta(days=13, hours=23)).expired == 0
    at_fourteen = placements_check(now=start + timedelta(days=14, minutes=1))
    assert at_fourteen.expired == 2
    for placement in (second, third):
        placement.refresh_from_db()
        assert (placement.status, placement.status_reason) == ("cancelled", "expired")
        assert _events("placement.expired", aggregate_id=placement.id)
    first.refresh_from_db()
    assert first.status == "accepted"  # answered: never expires
    assert placements_check(now=start + timedelta(days=30)).expired == 0


def test_an_expired_placement_is_replaced_by_the_next_best(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    before = set(referral.matches.values_list("service_at_location__service_id", flat=True))

    placements_check(now=timezone.now() + timedelta(days=10, minutes=1))
    placements_check(now=timezone.now() + timedelta(days=15))
    for event in _events("placement.expired"):
        placement_rematch(placement_id=event.aggregate_id, event_id=event.id)

    waiting = referral.placements.filter(status="requested")
    assert waiting.count() == 3
    assert not before & set(
        waiting.values_list("match__service_at_location__service_id", flat=True)
    )


def test_a_place_that_fills_up_hands_its_waiting_placements_on(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    sal = placement.match.service_at_location

    _set_available(placement.organization, sal.id, 0)
    [event] = _events("capacity.changed")
    capacity_changed(event_id=event.id)

    placement.refresh_from_db()
    assert (placement.status, placement.status_reason) == ("rejected", "no-capacity")
    rejected = Event.objects.get(type="placement.rejected", aggregate_id=placement.id)
    placement_rematch(placement_id=placement.id, event_id=rejected.id)
    assert referral.placements.filter(status="requested").count() == 3


def test_a_place_that_opens_again_is_offered_to_waiting_referrals(
    api: ApiClient, catalog: int
) -> None:
    # Every walking group full: the referral ends unmatched.
    full = ServiceAtLocation.objects.filter(service__taxonomy_terms__code="walking-group")
    full.update(capacity_status="no-capacity", capacity_available=0)
    match_points_rebuild()  # written around the catalogue services, which keep it current
    referral = _walking(api)
    assert referral.stage == "unmatched"
    sal = full.select_related("service__organization").first()
    assert sal is not None

    _set_available(sal.service.organization, sal.id, 5)
    [event] = _events("capacity.changed")
    capacity_changed(event_id=event.id)

    referral.refresh_from_db()
    assert referral.stage == "matched"
    [placement] = referral.placements.all()
    assert placement.match.service_at_location_id == sal.id
    assert Event.objects.get(id=event.id).processed_at is not None


def test_the_referral_closes_when_the_last_open_offer_is_rejected_or_expires(
    api: ApiClient, catalog: int
) -> None:
    referral = _walking(api)
    first, second, third = referral.placements.order_by("match__rank")
    for action in ("accept", "start", "complete"):
        assert _act(first, action).status_code == 200
    assert _act(second, "reject").status_code == 200
    referral.refresh_from_db()
    assert referral.status == "active"  # the third is still waiting

    placements_check(now=timezone.now() + timedelta(days=10, minutes=1))
    placements_check(now=timezone.now() + timedelta(days=14, minutes=2))

    third.refresh_from_db()
    assert third.status_reason == "expired"
    referral.refresh_from_db()
    assert referral.status == "completed"
    assert len(_events("referral.completed", aggregate_id=referral.id)) == 1


def test_a_late_check_still_reminds_before_it_expires(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    late = timezone.now() + timedelta(days=20)  # the relay was down for a week

    first = placements_check(now=late)
    assert (first.reminded, first.expired) == (3, 0)
    [reminder, *_] = _events("placement.reminder")
    assert reminder.payload["expires_at"] >= (late + timedelta(days=4)).isoformat()[:16]
    assert placements_check(now=late + timedelta(days=3)).expired == 0
    assert placements_check(now=late + timedelta(days=4, minutes=1)).expired == 3
    assert referral.placements.filter(status_reason="expired").count() == 3


def test_repeated_capacity_changes_do_not_reprint_an_unmatched_slip(
    api: ApiClient, catalog: int
) -> None:
    full = ServiceAtLocation.objects.filter(service__taxonomy_terms__code="walking-group")
    full.update(capacity_status="no-capacity", capacity_available=0)
    match_points_rebuild()  # written around the catalogue services, which keep it current
    referral = _walking(api)
    Referral.objects.filter(id=referral.id).update(stage="slip_ready")
    unmatched = len(_events("referral.unmatched", aggregate_id=referral.id))
    # Places open elsewhere that offer nothing this person needs, again and again.
    other = ServiceAtLocation.objects.exclude(service__taxonomy_terms__code="walking-group")
    sal = other.select_related("service__organization").first()
    assert sal is not None
    for available in (0, 3, 0, 4):
        _set_available(sal.service.organization, sal.id, available)
    for event in _events("capacity.changed"):
        capacity_changed(event_id=event.id)

    assert len(_events("referral.unmatched", aggregate_id=referral.id)) == unmatched
    referral.refresh_from_db()
    assert referral.stage == "slip_ready"


def test_a_referral_cancelled_before_matching_is_never_offered(
    api: ApiClient, catalog: int
) -> None:
    from referrals.matching_jobs import referral_match

    response = api.post(
        "/api/v1/referrals", referral_body(needs=["walking-group"], max_distance_km=10)
    )
    referral_id = response.json()["id"]
    assert api.post(f"/api/v1/referrals/{referral_id}/cancel", {}).status_code == 200
    event = Event.objects.get(aggregate_id=referral_id, type="referral.submitted")

    referral_match(referral_id=event.aggregate_id, event_id=event.id)

    referral = Referral.objects.get(id=referral_id)
    assert (referral.status, referral.stage) == ("revoked", "submitted")
    assert not referral.placements.exists()
    assert Event.objects.get(id=event.id).processed_at is not None


def test_the_centres_reason_stays_with_the_centre(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    placement = referral.placements.first()
    assert placement is not None
    reason = "Hospitalisée depuis lundi"

    cancelled = api.post(
        f"/api/v1/referrals/{referral.id}/placements/{placement.id}/cancel", {"reason": reason}
    )

    assert cancelled.json()["cancel_reason"] == reason
    org = _org(placement)
    seen = org.get(f"{INBOX}/{placement.id}")
    assert seen.json()["status_reason"] == "cancelled-by-center"
    assert reason not in seen.content.decode()
    assert reason not in org.get("/api/v1/events").content.decode()


def test_an_action_body_in_another_format_is_refused(api: ApiClient, catalog: int) -> None:
    referral = _walking(api)
    response = api.client.post(
        f"/api/v1/referrals/{referral.id}/cancel",
        "reason=moved",
        content_type="text/plain",
        headers=api.headers,
    )
    assert response.status_code == 415
    assert response.json()["error"]["fields"][0]["field"] == "Content-Type"
    nul = api.post(f"/api/v1/referrals/{referral.id}/cancel", {"reason": "a\x00b"})
    assert nul.status_code == 422
    assert nul.json()["error"]["fields"][0]["field"] == "reason"
    referral.refresh_from_db()
    assert referral.status == "active"
