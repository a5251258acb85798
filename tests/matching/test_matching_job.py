"""The matching job: the index follows edits, a job run twice offers once, a referral
cancelled meanwhile is offered nothing, and the job reads little."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from community_catalog.models import Organization, Service
from referrals.models import Referral
from tests.conftest import ApiClient, organization_key, referral_body
from tests.matching.test_matching import _service

# A quiet spot in Lyon, far from the demo catalogue's places.
HOME = (45.7300, 4.8600)
KM = 1 / 111.2  # one kilometre north, in degrees of latitude


def test_an_edit_keeps_the_index_fresh(api: ApiClient, orgs: list[Organization]) -> None:
    from matching.index import match_points_rebuild
    from matching.models import MatchPoint

    service = _service(orgs[0], "Ancienne", assured_date="2024-01-01")
    Service.objects.filter(id=service.id).update(assured_date=date(2024, 1, 1))
    match_points_rebuild()
    org = organization_key(orgs[0])
    assert (
        org.patch(f"/api/v1/organization/services/{service.id}", {"name": "Nouvelle"}).status_code
        == 200
    )
    point = MatchPoint.objects.get(service_key=str(service.id))
    assert (point.name, point.assured_date) == ("Nouvelle", date.today())


# --- The job: read without a lock, record in one transaction ---------------------------


def _filed(api: ApiClient) -> tuple[uuid.UUID, int]:
    """A referral filed and not yet matched, with its `referral.submitted` event."""
    from events.models import Event

    response = api.post(
        "/api/v1/referrals",
        referral_body(location={"latitude": HOME[0], "longitude": HOME[1]}, needs=["talk-group"]),
    )
    assert response.status_code == 202, response.json()
    referral_id = uuid.UUID(response.json()["id"])
    event = Event.objects.get(aggregate_id=referral_id, type="referral.submitted")
    return referral_id, event.id


def _types(referral_id: uuid.UUID) -> list[str]:
    from events.models import Event

    return list(
        Event.objects.filter(aggregate_id=referral_id).order_by("id").values_list("type", flat=True)
    )


def test_two_runs_of_the_job_offer_once(api: ApiClient, orgs: list[Organization]) -> None:
    """Two deliveries of the same message, each matching before either records: the
    second finds the referral matched and changes nothing."""
    from events.models import Event
    from referrals.matching_jobs import proposals_for
    from referrals.models import Placement
    from referrals.services import referral_matches_record, referral_to_match

    for i, organization in enumerate(orgs[:3]):
        _service(organization, f"Groupe {i}", km=1 + i)
    referral_id, event_id = _filed(api)
    first = referral_to_match(referral_id=referral_id, event_id=event_id)
    second = referral_to_match(referral_id=referral_id, event_id=event_id)
    assert first is not None
    assert second is not None
    found = proposals_for(first)
    assert len(found) == 3
    referral_matches_record(referral=first, event_id=event_id, proposals=found)
    referral_matches_record(referral=second, event_id=event_id, proposals=proposals_for(second))

    referral = Referral.objects.get(id=referral_id)
    assert referral.stage == Referral.Stage.MATCHED
    assert referral.matches.count() == 3
    assert Placement.objects.filter(referral=referral).count() == 3
    events = Event.objects.filter(aggregate_id=referral_id).order_by("id")
    assert [e.type for e in events] == [
        "referral.submitted",
        "referral.matching",
        "referral.matched",
    ]
    placement_events = Event.objects.filter(
        type="placement.requested", payload__referral_id=str(referral_id)
    )
    assert placement_events.count() == 3
    # In the order they happened: matching began, offers made, matched.
    matching, matched = events[1].id, events[2].id
    assert all(matching < e.id < matched for e in placement_events)
    assert Event.objects.get(id=event_id).processed_at is not None


def test_a_referral_cancelled_while_it_is_matched_is_offered_nothing(
    api: ApiClient, orgs: list[Organization]
) -> None:
    from events.models import Event
    from referrals.matching_jobs import proposals_for
    from referrals.services import referral_matches_record, referral_to_match

    _service(orgs[0], "Groupe de parole")
    referral_id, event_id = _filed(api)
    read = referral_to_match(referral_id=referral_id, event_id=event_id)
    assert read is not None
    found = proposals_for(read)
    assert found
    assert api.post(f"/api/v1/referrals/{referral_id}/cancel", {}).status_code == 200
    referral_matches_record(referral=read, event_id=event_id, proposals=found)

    referral = Referral.objects.get(id=referral_id)
    assert referral.status == Referral.Status.REVOKED
    assert referral.stage == Referral.Stage.SUBMITTED
    assert not referral.matches.exists()
    assert not referral.placements.exists()
    assert "referral.matched" not in _types(referral_id)
    assert Event.objects.get(id=event_id).processed_at is not None
    # A later delivery of the message does nothing either.
    assert referral_to_match(referral_id=referral_id, event_id=event_id) is None


def test_the_job_reads_little(
    api: ApiClient, orgs: list[Organization], django_assert_max_num_queries: Any
) -> None:
    """Matching reads the referral, its needs and the index, and records everything in
    one transaction: no query per proposal, none to reload what the index gave."""
    from referrals.matching_jobs import referral_match

    for i, organization in enumerate(orgs[:3]):
        _service(organization, f"Groupe {i}", km=1 + i)
    warm_id, warm_event = _filed(api)
    referral_match(referral_id=warm_id, event_id=warm_event)  # the taxonomy is kept after
    referral_id, event_id = _filed(api)
    # 3 reads; then the stage, the matches, the placements, the events, the webhook
    # subscriptions, the members to tell (issue 26) and the message's event; 2 more for
    # the test's savepoint.
    with django_assert_max_num_queries(12):
        referral_match(referral_id=referral_id, event_id=event_id)
    assert Referral.objects.get(id=referral_id).matches.count() == 3
