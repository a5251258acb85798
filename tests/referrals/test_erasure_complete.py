"""Erasure leaves nothing derived from the person: no position recoverable from the
matches (distances, score parts, travel times), no free text in events or webhook bodies,
no idempotency key, and an organisation whose offer ended without the person keeps only
the code and the dates.

Each test here reproduces a finding of the second security review (issue 22) that held on
the code before it: written as the attacker tried it, then checked against the fix."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from events.models import Event, WebhookSubscription
from events.webhooks import webhook_body
from referrals.models import IdempotencyKey, Match, Referral
from referrals.retention import retention_purge
from tests.conftest import ApiClient, organization_key, referral_matched, referral_slipped

URL = "/api/v1/referrals"
INBOX = "/api/v1/inbox/placements"
# Reasons a person reads that come from what was erased: where they live (distance,
# travel time), when they are free (schedule), what they need to get in (accessibility).
ERASED_REASONS = {"distance", "schedule", "accessibility"}
CANCEL_TEXT = "Mme D. hospitalisée au CHU, rappeler sa fille au 06 12 34 56 78"


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _full(**overrides: Any) -> dict[str, Any]:
    return {
        "postcode": "69002",
        "needs": ["walking-group"],
        "max_distance_km": 10,
        "availability": [{"weekday": "TU", "start": "09:00", "end": "18:00"}],
        "accessibility_needs": ["wheelchair"],
        "large_print": True,
        "note_for_organization": "Préfère être appelée le matin.",
        "preferred_contact": "phone",
        **overrides,
    }


def _withdraw(api: ApiClient, referral: Referral, capture: Any) -> dict[str, Any]:
    with capture(execute=True):
        response = api.post(f"{URL}/{referral.id}/consent/withdraw", {})
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.django_db
def test_after_withdrawal_no_match_gives_the_home_away(
    api: ApiClient, catalog: int, django_capture_on_commit_callbacks: Any
) -> None:
    referral = referral_matched(api, **_full())
    before = {m.rank: m.distance_km for m in referral.matches.all()}
    assert before
    assert any(not float(km).is_integer() for km in before.values())
    assert any(r["code"] in ERASED_REASONS for m in referral.matches.all() for r in m.reasons), (
        "the fixture must produce reasons derived from the person"
    )

    _withdraw(api, referral, django_capture_on_commit_callbacks)

    detail = api.get(f"{URL}/{referral.id}").json()
    explained = api.get(f"{URL}/{referral.id}/matches").json()["items"]
    assert len(detail["matches"]) == len(explained) == len(before)
    for shown in detail["matches"]:
        # Whole kilometres, rounded up: never closer than the truth, never precise.
        assert shown["distance_km"] == max(1, math.ceil(before[shown["rank"]]))
        assert shown["score"] is None
        assert not any("min" in reason for reason in shown["reasons"])
    for shown in explained:
        assert shown["distance_km"] == max(1, math.ceil(before[shown["rank"]]))
        assert shown["travel"] is None
        assert shown["parts"] == []
        assert shown["score"] is None
        assert not {r["code"] for r in shown["reasons"]} & ERASED_REASONS
    for match in Match.objects.filter(referral=referral):
        assert match.score_parts == {}
        assert match.score is None
        assert float(match.distance_km).is_integer()
        assert not {r.get("code") for r in match.reasons} & ERASED_REASONS
    # The referral's own fields derived from the person go too.
    stored = Referral.objects.get(id=referral.id)
    assert stored.large_print is False
    assert stored.consent_scope == ""


@pytest.mark.django_db
def test_the_periodic_purge_erases_the_matches_too(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api, **_full())
    assert api.post(f"{URL}/{referral.id}/cancel", {"reason": CANCEL_TEXT}).status_code == 200
    Referral.objects.filter(id=referral.id).update(closed_at=timezone.now() - timedelta(days=400))
    assert retention_purge() == 1
    for match in Match.objects.filter(referral=referral):
        assert match.score_parts == {}
        assert match.score is None
        assert float(match.distance_km).is_integer()
    assert CANCEL_TEXT not in _text(list(Event.objects.values_list("payload", flat=True)))


@pytest.mark.django_db
def test_a_cancel_reason_never_reaches_an_event_or_a_webhook(
    api: ApiClient, catalog: int, center: Any, django_capture_on_commit_callbacks: Any
) -> None:
    WebhookSubscription.objects.create(
        health_center=center[0], url="https://receiver.example.org/hook", secret="whsec_x"
    )
    referral = referral_matched(api, **_full())
    response = api.post(f"{URL}/{referral.id}/cancel", {"reason": CANCEL_TEXT})
    assert response.status_code == 200
    # The centre still reads its own reason on the referral, until erasure...
    assert response.json()["cancel_reason"] == CANCEL_TEXT
    # ...but no event, feed or webhook body carries it.
    events = Event.objects.filter(aggregate_id=referral.id)
    assert CANCEL_TEXT not in _text([e.payload for e in events])
    assert CANCEL_TEXT not in _text(api.get(f"{URL}/{referral.id}/events").json())
    assert CANCEL_TEXT not in _text([webhook_body(e) for e in events])

    _withdraw(api, referral, django_capture_on_commit_callbacks)
    assert CANCEL_TEXT not in _text(api.get(f"{URL}/{referral.id}").json())


@pytest.mark.django_db
def test_erasure_scrubs_payloads_written_before_the_rule(
    api: ApiClient, catalog: int, django_capture_on_commit_callbacks: Any
) -> None:
    """Events stored by an earlier version carried the reason: erasure scrubs them, and
    the deliveries built from them."""
    referral = referral_matched(api, **_full())
    assert api.post(f"{URL}/{referral.id}/cancel", {}).status_code == 200
    event = Event.objects.get(aggregate_id=referral.id, type="referral.cancelled")
    Event.objects.filter(id=event.id).update(
        payload={**event.payload, "reason": CANCEL_TEXT, "first_name": "Josiane"},
        # A caller's own X-Request-ID can say anything.
        request_id="Josiane.Martin.1948",
    )
    _withdraw(api, referral, django_capture_on_commit_callbacks)
    event.refresh_from_db()
    assert "reason" not in event.payload
    assert "first_name" not in event.payload
    assert event.payload["code"] == referral.code


@pytest.mark.django_db
def test_an_organisation_keeps_only_the_code_and_dates_once_its_offer_ends_without_the_person(
    api: ApiClient, catalog: int
) -> None:
    referral = referral_slipped(api, **_full())
    first, second, third = referral.placements.order_by("match__rank")
    rejecting = organization_key(first.organization)
    seen = rejecting.get(f"{INBOX}/{first.id}").json()
    assert seen["person"]["first_name"] == "Josiane"
    assert (
        rejecting.post(f"{INBOX}/{first.id}/reject", {"reason": "not-eligible"}).status_code == 200
    )
    after = rejecting.get(f"{INBOX}/{first.id}").json()
    listed = next(p for p in rejecting.get(INBOX).json()["items"] if p["id"] == str(first.id))
    for shown in (after, listed):
        assert shown["referral_code"] == referral.code
        assert shown["requested_at"]
        assert shown["updated_at"]
        assert shown["person"] is None
        assert "Josiane" not in _text(shown)
    # The centre cancels another offer: that organisation forgets the person too.
    assert api.post(f"{URL}/{referral.id}/placements/{second.id}/cancel", {}).status_code == 200
    cancelled = organization_key(second.organization).get(f"{INBOX}/{second.id}").json()
    assert cancelled["person"] is None
    # An offer still open keeps what the organisation needs to welcome the person.
    still = organization_key(third.organization).get(f"{INBOX}/{third.id}").json()
    assert still["person"]["first_name"] == "Josiane"


@pytest.mark.django_db
def test_idempotency_keys_go_with_the_referral_and_after_seven_days(
    api: ApiClient, catalog: int, django_capture_on_commit_callbacks: Any
) -> None:
    from referrals.retention import idempotency_keys_prune
    from tests.conftest import referral_body

    patient_key = "dossier-4471-DUPONT-Josiane"
    response = api.post(URL, referral_body(), **{"Idempotency-Key": patient_key})
    assert response.status_code == 202
    referral = Referral.objects.get(id=response.json()["id"])
    assert IdempotencyKey.objects.filter(key=patient_key).exists()
    _withdraw(api, referral, django_capture_on_commit_callbacks)
    assert not IdempotencyKey.objects.filter(key=patient_key).exists()

    other = api.post(URL, referral_body(), **{"Idempotency-Key": "k-recent"})
    old = api.post(URL, referral_body(), **{"Idempotency-Key": "k-old"})
    assert other.status_code == old.status_code == 202
    IdempotencyKey.objects.filter(key="k-old").update(created_at=timezone.now() - timedelta(days=8))
    assert idempotency_keys_prune() == 1
    assert sorted(IdempotencyKey.objects.values_list("key", flat=True)) == ["k-recent"]


@pytest.mark.django_db
def test_pages_and_pdfs_that_name_people_are_never_kept_by_a_cache(
    api: ApiClient, catalog: int, center: Any, media: Any
) -> None:
    from tests.web.test_accounts import create_user, signed_in

    referral = referral_slipped(api, **_full())
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    clinician = signed_in("c.martin", create_user("c.martin", "--center", center[0].name))
    volunteer = signed_in("b.roux", create_user("b.roux", "--org", placement.organization.name))
    answers = {
        "api detail": api.get(f"{URL}/{referral.id}"),
        "api slip": api.get(f"{URL}/{referral.id}/slip.pdf"),
        "api inbox": organization_key(placement.organization).get(INBOX),
        "web referral": clinician.get(f"/app/referrals/{referral.id}/"),
        "web list": clinician.get("/app/referrals/"),
        "web inbox": volunteer.get("/app/inbox/"),
    }
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert "no-store" in response.get("Cache-Control", ""), name
    # What is public stays cacheable.
    public = api.client.get(f"/a/{placement.match.service_at_location_id}")
    assert public.status_code == 200
    assert "public" in public["Cache-Control"]
