"""Retention and consent: a withdrawn consent erases the person at once and stops every
offer; a referral closed longer than TISSER_RETENTION_DAYS is erased by the periodic
purge. What stays is what reports need: counts, needs, offers and outcomes."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from events.models import Event
from referrals.matching_jobs import referral_match
from referrals.models import Placement, Referral
from referrals.retention import retention_purge
from slips.models import Slip
from slips.services import referral_slip_attach
from tests.conftest import (
    ApiClient,
    organization_key,
    referral_body,
    referral_matched,
    referral_slipped,
)
from workers.actors import purge_personal_data

URL = "/api/v1/referrals"
INBOX = "/api/v1/inbox/placements"
PERSONAL: dict[str, Any] = {
    "patient_ref": "",
    "first_name": "",
    "year_of_birth": None,
    "latitude": None,
    "longitude": None,
    "availability": [],
    "accessibility_needs": [],
    "note_for_patient": "",
    "note_for_organization": "",
    "clinical_reason": "",
    "cancel_reason": "",
    "preferred_contact": "",
}


def _erased(referral: Referral) -> dict[str, Any]:
    referral.refresh_from_db()
    return {name: getattr(referral, name) for name in PERSONAL}


def _slip_path(referral: Referral) -> Path:
    return Path(settings.MEDIA_ROOT) / (referral.slip.file.name or "")


def _full(**overrides: Any) -> dict[str, Any]:
    return {
        "postcode": "69002",
        "needs": ["walking-group"],
        "max_distance_km": 10,
        "availability": [{"weekday": "TU", "start": "09:00", "end": "18:00"}],
        "accessibility_needs": ["wheelchair"],
        "note_for_organization": "Préfère être appelée le matin.",
        "preferred_contact": "phone",
        **overrides,
    }


@pytest.mark.django_db
def test_withdrawing_consent_erases_the_person_and_cancels_every_open_offer(
    api: ApiClient, catalog: int, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    referral = referral_slipped(api, **_full())
    slip_file = _slip_path(referral)
    assert slip_file.exists()
    first, second, third = referral.placements.order_by("match__rank")
    organization = organization_key(first.organization)
    assert organization.post(f"{INBOX}/{first.id}/accept", {}).status_code == 200
    assert (
        organization_key(second.organization)
        .post(f"{INBOX}/{second.id}/reject", {"reason": "no-capacity"})
        .status_code
        == 200
    )
    needs = sorted(referral.needs.values_list("code", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}/{referral.id}/consent/withdraw", {})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "revoked"
    assert body["consent_withdrawn_at"]
    assert body["personal_data_erased_at"]
    assert body["closed_at"]
    assert body["slip_ready"] is False
    assert body["postcode"] == "69"
    assert body["availability"] == []
    assert body["accessibility_needs"] == []
    statuses = {p["id"]: (p["status"], p["status_reason"]) for p in body["placements"]}
    assert statuses == {
        str(first.id): ("cancelled", "cancelled-by-center"),
        str(second.id): ("rejected", "no-capacity"),
        str(third.id): ("cancelled", "cancelled-by-center"),
    }
    # The person is gone from the database and the disk...
    assert _erased(referral) == PERSONAL
    assert referral.consent_given is False
    assert not slip_file.exists()
    assert Slip.objects.get(referral=referral).file.name == ""
    assert not Placement.objects.filter(referral=referral).exclude(note="", center_note="")
    # ...what reports count stays...
    assert sorted(referral.needs.values_list("code", flat=True)) == needs
    assert referral.matches.count() == 3
    assert referral.code
    assert referral.created_at
    assert Event.objects.filter(type="referral.consent_withdrawn", aggregate_id=referral.id)
    # ...the slip is gone for good, the organisation sees no one and can no longer act.
    slip = api.get(f"{URL}/{referral.id}/slip.pdf")
    assert slip.status_code == 410
    assert slip.json()["error"]["code"] == "personal_data_erased"
    assert api.get(f"{URL}/{referral.id}/slip.html").status_code == 410
    seen = organization.get(f"{INBOX}/{first.id}").json()
    assert seen["person"] is None
    assert organization.post(f"{INBOX}/{first.id}/start", {}).status_code == 409
    fhir = api.get(f"{URL}/{referral.id}/fhir").json()
    patient = next(
        e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert "birthDate" not in patient
    assert not patient.get("name")


@pytest.mark.django_db
def test_withdrawing_twice_changes_nothing_and_another_centre_gets_404(
    api: ApiClient, outsider_api: ApiClient, catalog: int
) -> None:
    referral = referral_matched(api)
    assert outsider_api.post(f"{URL}/{referral.id}/consent/withdraw", {}).status_code == 404
    assert _erased(referral) != PERSONAL

    first = api.post(f"{URL}/{referral.id}/consent/withdraw", {})
    again = api.post(f"{URL}/{referral.id}/consent/withdraw", {})

    assert first.status_code == again.status_code == 200
    assert again.json()["consent_withdrawn_at"] == first.json()["consent_withdrawn_at"]
    assert Event.objects.filter(type="referral.consent_withdrawn").count() == 1


@pytest.mark.django_db
def test_a_completed_referral_can_still_have_its_consent_withdrawn(
    api: ApiClient, catalog: int
) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    for placement in referral.placements.all():
        organization = organization_key(placement.organization)
        for action in ("accept", "complete"):
            assert organization.post(f"{INBOX}/{placement.id}/{action}", {}).status_code == 200
    referral.refresh_from_db()
    closed_at = referral.closed_at
    assert referral.status == "completed"

    body = api.post(f"{URL}/{referral.id}/consent/withdraw", {}).json()

    # The outcome stays what it was: the person did take part.
    assert body["status"] == "completed"
    referral.refresh_from_db()
    assert referral.closed_at == closed_at
    assert {p["status"] for p in body["placements"]} == {"completed"}
    assert _erased(referral) == PERSONAL


@pytest.mark.django_db
def test_consent_withdrawn_before_matching_stops_matching(api: ApiClient, catalog: int) -> None:
    response = api.post(URL, referral_body())
    assert response.status_code == 202, response.json()
    referral_id = response.json()["id"]
    assert api.post(f"{URL}/{referral_id}/consent/withdraw", {}).status_code == 200
    event = Event.objects.get(aggregate_id=referral_id, type="referral.submitted")

    referral_match(referral_id=referral_id, event_id=event.id)

    referral = Referral.objects.get(id=referral_id)
    assert referral.stage == "submitted"
    assert not referral.placements.exists()


@pytest.mark.django_db
def test_a_slip_finished_after_the_withdrawal_is_thrown_away(
    api: ApiClient, catalog: int, media: Any
) -> None:
    referral = referral_matched(api)
    event = Event.objects.get(aggregate_id=referral.id, type="referral.matched")
    assert api.post(f"{URL}/{referral.id}/consent/withdraw", {}).status_code == 200

    attached = referral_slip_attach(
        referral_id=referral.id, event_id=event.id, pdf=b"%PDF-1.7", language="fr", render_ms=1.0
    )

    assert attached is False
    assert not Slip.objects.filter(referral=referral).exists()
    assert not any(Path(media).rglob("*.pdf"))
    event.refresh_from_db()
    assert event.processed_at is not None


def _closed(api: ApiClient, days_ago: float, **overrides: Any) -> Referral:
    referral = referral_slipped(api, **_full(**overrides))
    assert api.post(f"{URL}/{referral.id}/cancel", {"reason": "moved away"}).status_code == 200
    Referral.objects.filter(id=referral.id).update(
        closed_at=timezone.now() - timedelta(days=days_ago)
    )
    return Referral.objects.select_related("slip").get(id=referral.id)


@pytest.mark.django_db
def test_the_purge_erases_referrals_closed_longer_than_the_retention_period(
    api: ApiClient, catalog: int, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = _closed(api, days_ago=366, patient_ref="old")
    recent = _closed(api, days_ago=364, patient_ref="recent")
    active = referral_slipped(api, patient_ref="active")
    Referral.objects.filter(id=active.id).update(created_at=timezone.now() - timedelta(days=900))
    old_file, recent_file = _slip_path(old), _slip_path(recent)

    with django_capture_on_commit_callbacks(execute=True):
        purged = retention_purge()

    assert purged == 1
    assert _erased(old) == PERSONAL
    assert old.purged_at is not None
    assert old.postcode == "69"
    assert not old_file.exists()
    assert recent_file.exists()
    assert _erased(recent)["first_name"] == "Josiane"
    assert _erased(active)["first_name"] == "Josiane"
    [event] = Event.objects.filter(type="referral.purged")
    assert event.aggregate_id == old.id
    assert event.payload["retention_days"] == 365
    # Counts and outcomes stay.
    assert old.status == "revoked"
    assert old.needs.exists()
    assert old.placements.count() == 3
    # Nothing left to do: a second run purges nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert retention_purge() == 0


@pytest.mark.django_db
def test_the_retention_period_is_a_setting(
    api: ApiClient, catalog: int, media: Any, settings: Any
) -> None:
    settings.TISSER_RETENTION_DAYS = 30
    referral = _closed(api, days_ago=31)
    assert retention_purge() == 1
    assert _erased(referral) == PERSONAL
    # A clock the caller passes: 10 days from now, a referral closed 25 days ago is due.
    later = _closed(api, days_ago=25)
    assert retention_purge() == 0
    assert retention_purge(now=timezone.now() + timedelta(days=10)) == 1
    assert _erased(later) == PERSONAL


@pytest.mark.django_db
def test_the_purge_deletes_a_slip_file_a_crash_left_behind(
    api: ApiClient, catalog: int, media: Any
) -> None:
    referral = _closed(api, days_ago=400)
    slip_file = _slip_path(referral)
    # A purge committed, then its process died before the after-commit file deletion.
    Referral.objects.filter(id=referral.id).update(purged_at=timezone.now(), first_name="")
    assert slip_file.exists()

    assert retention_purge() == 0

    assert not slip_file.exists()
    assert Slip.objects.get(referral=referral).file.name == ""


def test_the_periodic_actor_purges_through_the_broker(
    worker: Any, api: ApiClient, catalog: int
) -> None:
    referral = _closed(api, days_ago=400)
    slip_file = _slip_path(referral)

    purge_personal_data.send()

    deadline = time.monotonic() + 30
    while Referral.objects.get(id=referral.id).purged_at is None:
        assert time.monotonic() < deadline, "the purge actor did not run"
        time.sleep(0.05)
    assert _erased(referral) == PERSONAL
    deadline = time.monotonic() + 10
    while slip_file.exists():
        assert time.monotonic() < deadline, "the slip file was not deleted"
        time.sleep(0.05)
