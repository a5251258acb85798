"""Wellbeing measures: the four ONS questions at referral and when a placement completes,
only where the health centre records them, never read back by organisations, erased
with consent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import HealthCenter
from events.models import Event
from referrals.models import Placement, Referral, WellbeingMeasure
from referrals.retention import retention_purge
from tests.conftest import ApiClient, organization_key, referral_body, referral_matched

pytestmark = pytest.mark.django_db

SCORES = {"life_satisfaction": 5, "worthwhile": 6, "happiness": 4, "anxiety": 7}
LATER = {"life_satisfaction": 7, "worthwhile": 7, "happiness": 6, "anxiety": 3}


@pytest.fixture
def recording(center: tuple[HealthCenter, str]) -> HealthCenter:
    HealthCenter.objects.filter(id=center[0].id).update(records_wellbeing=True)
    return center[0]


def _fields(response: Any) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


def test_a_centre_that_does_not_record_wellbeing_is_told_so(api: ApiClient, catalog: int) -> None:
    response = api.post("/api/v1/referrals", referral_body(wellbeing=SCORES))
    assert response.status_code == 422
    assert "wellbeing" in _fields(response)
    assert Referral.objects.count() == 0


def test_scores_outside_0_to_10_are_refused(
    api: ApiClient, catalog: int, recording: HealthCenter
) -> None:
    response = api.post("/api/v1/referrals", referral_body(wellbeing={**SCORES, "anxiety": 11}))
    assert response.status_code == 422
    assert any("anxiety" in field for field in _fields(response))
    missing = api.post(
        "/api/v1/referrals",
        referral_body(wellbeing={k: v for k, v in SCORES.items() if k != "happiness"}),
    )
    assert missing.status_code == 422
    assert Referral.objects.count() == 0
    assert WellbeingMeasure.objects.count() == 0


def test_the_baseline_is_stored_with_the_referral_and_its_event_carries_no_score(
    api: ApiClient, catalog: int, recording: HealthCenter
) -> None:
    referral = referral_matched(api, wellbeing=SCORES)
    [measure] = WellbeingMeasure.objects.filter(referral=referral)
    assert measure.timepoint == "baseline"
    assert measure.recorded_by == "health_center"
    assert {q: getattr(measure, q) for q in SCORES} == SCORES
    event = Event.objects.get(aggregate_id=referral.id, type="referral.wellbeing_recorded")
    assert event.health_center_id == recording.id
    assert event.organization_id is None
    assert event.payload["timepoint"] == "baseline"
    assert event.payload["placement_id"] is None
    assert not set(event.payload) & set(SCORES)
    listed = api.get(f"/api/v1/referrals/{referral.id}/wellbeing").json()
    assert [m["timepoint"] for m in listed] == ["baseline"]
    again = api.post(
        f"/api/v1/referrals/{referral.id}/wellbeing", {"timepoint": "baseline", **SCORES}
    )
    assert again.status_code == 409


def test_the_organisation_passes_on_the_answers_when_it_completes(
    api: ApiClient, catalog: int, recording: HealthCenter
) -> None:
    referral = referral_matched(api, wellbeing=SCORES)
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    org = organization_key(placement.organization)
    base = f"/api/v1/inbox/placements/{placement.id}"
    early = org.post(f"{base}/accept", {"wellbeing": LATER})
    assert early.status_code == 422
    assert "wellbeing" in _fields(early)
    assert org.post(f"{base}/accept", {}).status_code == 200
    assert org.post(f"{base}/start", {}).status_code == 200
    done = org.post(f"{base}/complete", {"wellbeing": LATER})
    assert done.status_code == 200, done.json()
    assert "life_satisfaction" not in done.content.decode()  # never read back
    follow_up = WellbeingMeasure.objects.get(referral=referral, timepoint="follow_up")
    assert follow_up.placement_id == placement.id
    assert follow_up.recorded_by == "organization"
    assert follow_up.anxiety == 3
    inbox = org.get("/api/v1/inbox/placements").content.decode()
    assert "anxiety" not in inbox
    assert "wellbeing" not in inbox

    # The centre reads them; recording the follow-up twice is refused.
    listed = api.get(f"/api/v1/referrals/{referral.id}/wellbeing").json()
    assert [m["timepoint"] for m in listed] == ["baseline", "follow_up"]
    twice = api.post(
        f"/api/v1/referrals/{referral.id}/wellbeing",
        {"timepoint": "follow_up", "placement_id": str(placement.id), **LATER},
    )
    assert twice.status_code == 409


def test_a_failed_completion_leaves_nothing_half_written(
    api: ApiClient, catalog: int, center: tuple[HealthCenter, str]
) -> None:
    """The centre does not record wellbeing: completing with answers is refused whole."""
    referral = referral_matched(api)
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    org = organization_key(placement.organization)
    base = f"/api/v1/inbox/placements/{placement.id}"
    org.post(f"{base}/accept", {})
    refused = org.post(f"{base}/complete", {"wellbeing": LATER})
    assert refused.status_code == 422
    placement.refresh_from_db()
    assert placement.status == Placement.Status.ACCEPTED
    assert not Event.objects.filter(aggregate_id=placement.id, type="placement.completed").exists()


def test_the_clinician_records_a_follow_up_after_completion_only(
    api: ApiClient, catalog: int, recording: HealthCenter
) -> None:
    referral = referral_matched(api)
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    url = f"/api/v1/referrals/{referral.id}/wellbeing"
    body = {"timepoint": "follow_up", "placement_id": str(placement.id), **LATER}
    assert api.post(url, body).status_code == 409  # not completed yet
    no_placement = api.post(url, {"timepoint": "follow_up", **LATER})
    assert no_placement.status_code == 422
    assert "placement_id" in _fields(no_placement)
    org = organization_key(placement.organization)
    for action in ("accept", "start", "complete"):
        org.post(f"/api/v1/inbox/placements/{placement.id}/{action}", {})
    recorded = api.post(url, body)
    assert recorded.status_code == 201
    assert recorded.json()["recorded_by"] == "health_center"
    baseline = api.post(url, {"timepoint": "baseline", **SCORES})
    assert baseline.status_code == 201  # not given with the referral: recorded later


def test_consent_withdrawn_deletes_the_answers_the_purge_keeps_them(
    api: ApiClient, catalog: int, recording: HealthCenter, media: Any
) -> None:
    withdrawn = referral_matched(api, wellbeing=SCORES, patient_ref="pt-w")
    kept = referral_matched(api, wellbeing=SCORES, patient_ref="pt-k")
    assert api.post(f"/api/v1/referrals/{withdrawn.id}/consent/withdraw", {}).status_code == 200
    assert not WellbeingMeasure.objects.filter(referral=withdrawn).exists()
    after = api.post(
        f"/api/v1/referrals/{withdrawn.id}/wellbeing", {"timepoint": "baseline", **SCORES}
    )
    assert after.status_code == 410

    api.post(f"/api/v1/referrals/{kept.id}/cancel", {})
    Referral.objects.filter(id=kept.id).update(closed_at=timezone.now() - timedelta(days=400))
    assert retention_purge() == 1
    # The referral names no one any more; its answers stay for the reports.
    assert WellbeingMeasure.objects.filter(referral=kept).count() == 1
