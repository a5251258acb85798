"""Events carry ids, codes, states, counts and dates: never free text, never anything
about the person. This walks a referral's whole life and the catalogue's changes until
every event type Tisser writes has been written, then reads every stored payload back
against the allow-list (`events.outbox.EVENT_PAYLOAD_KEYS`) and against the shapes a
value may have, with every piece of text the test typed planted as bait."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.keys import api_key_create, health_center_create
from accounts.models import HealthCenter
from community_catalog.services import organization_create
from events.models import Event
from events.outbox import EVENT_PAYLOAD_KEYS, event_record
from referrals.models import Referral
from referrals.placement_checks import placements_check
from referrals.retention import retention_purge
from tests.conftest import ApiClient, organization_key, referral_matched, referral_slipped

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals"
INBOX = "/api/v1/inbox/placements"
SCORES = {"life_satisfaction": 4, "worthwhile": 5, "happiness": 3, "anxiety": 7}
# Free text typed along the way: none of it may reach an event.
BAIT = [
    "Josiane",
    "pt-0001",
    "Humeur basse depuis le veuvage",
    "Allez-y une première fois",
    "Rappeler le matin avant 10 h",
    "Elle a déménagé chez sa fille",
    "Sa fille a appelé, trop fatiguée",
    "Fermé pour travaux en août",
    "Marche douce pour aidants",
]
# What a value may look like: an id, a code, a referral code, a date, a version, a number.
SHAPES = [
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    re.compile(r"[A-Z0-9]{3}-[A-Z0-9]{3}"),
    re.compile(r"[a-z][a-z0-9_.-]*( [a-z]+)?"),  # codes, states ("temporarily closed")
    re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+([+-]\d\d:\d\d|Z)?"),
]


def _shaped(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, list):
        return all(_shaped(item) for item in value)
    return isinstance(value, str) and any(shape.fullmatch(value) for shape in SHAPES)


@pytest.fixture
def recording(center: tuple[HealthCenter, str]) -> HealthCenter:
    HealthCenter.objects.filter(id=center[0].id).update(records_wellbeing=True)
    return center[0]


def _life_of_referrals(api: ApiClient) -> None:
    """Referrals through every state a placement and a referral can reach."""
    body = {
        "note_for_patient": BAIT[3],
        "note_for_organization": BAIT[4],
        "wellbeing": SCORES,
    }
    done = referral_slipped(api, **body)
    first, second, third = done.placements.order_by("match__rank")
    org = organization_key(first.organization)
    for action in ("accept", "hold", "start"):
        assert org.post(f"{INBOX}/{first.id}/{action}", {"note": BAIT[5]}).status_code == 200
    assert org.post(f"{INBOX}/{first.id}/complete", {"wellbeing": SCORES}).status_code == 200
    second_org = organization_key(second.organization)
    assert second_org.post(f"{INBOX}/{second.id}/accept", {}).status_code == 200
    assert second_org.post(f"{INBOX}/{second.id}/fail", {"note": BAIT[6]}).status_code == 200
    assert (
        organization_key(third.organization)
        .post(f"{INBOX}/{third.id}/reject", {"reason": "no-capacity", "note": BAIT[5]})
        .status_code
        == 200
    )
    # The re-match offered a fourth activity; the centre cancels that offer.
    fourth = Referral.objects.get(id=done.id).placements.filter(status="requested").first()
    if fourth is not None:
        assert api.post(f"{URL}/{done.id}/placements/{fourth.id}/cancel", {}).status_code == 200

    cancelled = referral_matched(api, **body)
    assert api.post(f"{URL}/{cancelled.id}/cancel", {"reason": BAIT[2]}).status_code == 200
    withdrawn = referral_matched(api, **body)
    assert api.post(f"{URL}/{withdrawn.id}/consent/withdraw", {}).status_code == 200
    referral_matched(api, needs=["isolation"], location={"latitude": 48.0, "longitude": -4.5})

    # Reminders and expiry, on the clock of two weeks from now.
    waiting = referral_matched(api, **body)
    assert waiting.placements.filter(status="requested").exists()
    later = timezone.now() + timedelta(days=15)
    placements_check(now=later)
    placements_check(now=later + timedelta(days=15))
    # The retention purge, on a referral closed long ago.
    Referral.objects.filter(id=cancelled.id).update(closed_at=timezone.now() - timedelta(days=800))
    assert retention_purge() >= 1


def _life_of_the_catalogue(org: ApiClient) -> None:
    location = org.post(
        "/api/v1/organization/locations",
        {"name": "Salle des fêtes", "latitude": 45.75, "longitude": 4.83},
    )
    assert location.status_code == 201, location.json()
    service = org.post(
        "/api/v1/organization/services",
        {
            "name": BAIT[8],
            "description": BAIT[8],
            "taxonomy": ["walking-group"],
            "service_at_locations": [{"location_id": location.json()["id"]}],
        },
    )
    assert service.status_code == 201, service.json()
    base = f"/api/v1/organization/services/{service.json()['id']}"
    assert org.patch(base, {"name": "Marche du mardi"}).status_code == 200
    sal_id = service.json()["service_at_locations"][0]["id"]
    capacity = f"/api/v1/organization/service-at-locations/{sal_id}/capacity"
    assert org.patch(capacity, {"available": 0, "maximum": 12}).status_code == 200
    assert org.post(f"{base}/close", {"alert": BAIT[7]}).status_code == 200
    operator = ApiClient(api_key_create(name="coordination"))
    added = operator.post(
        "/api/v1/catalog/taxonomy",
        {
            "code": "garden-club",
            "kind": "activity",
            "name_fr": BAIT[8],
            "name_en": "Gentle walks for carers",
            "parent": "creative",
        },
    )
    assert added.status_code == 201, added.json()


def _life_of_a_person_reached(api: ApiClient, client: Any, sms_api: Any) -> None:
    """Messages sent and failed, a day chosen, "I went", "something else", stopped."""
    from django.core.management import call_command

    from outreach.services import sessions_offered
    from referrals.models import Contact

    now = timezone.now().isoformat()
    consent = {"given": True, "method": "verbal", "at": now}
    body = {"note_for_patient": BAIT[3], "note_for_organization": BAIT[4]}
    by_mail = referral_slipped(
        api, contact={"email": "josiane@example.org", "messages_consent": consent}, **body
    )
    by_sms = referral_slipped(
        api, contact={"phone": "+33612345678", "messages_consent": consent}, **body
    )
    sms_api.answers.append((402, {"code": "not_enough_credits", "message": BAIT[6]}))
    tomorrow = timezone.localdate() + timedelta(days=1)
    at_ten = timezone.make_aware(datetime.combine(tomorrow, time(10)))
    call_command("messages", "due", "--as-of", at_ten.isoformat())
    token = Contact.objects.get(referral=by_mail).page_token
    first = by_mail.placements.order_by("match__rank").first()
    assert first is not None
    session = sessions_offered(first, timezone.now())[0]
    page = f"/p/{token}"
    client.post(f"{page}/choose", {"activity": str(first.id), "session": session.isoformat()})
    client.post(f"{page}/answer", {"activity": str(first.id), "answer": "went"})
    client.post(f"{page}/other")
    client.post(f"{page}/stop")
    assert by_sms.placements.exists()


def test_every_event_type_carries_only_its_allowed_keys_and_no_text(
    api: ApiClient,
    catalog: int,
    recording: HealthCenter,
    media: Any,
    client: Any,
    smtp: Any,
    sms_api: Any,
) -> None:
    _life_of_referrals(api)
    _life_of_a_person_reached(api, client, sms_api)
    _organization, key = organization_create(name="Les Marcheurs du Rhône")
    _life_of_the_catalogue(ApiClient(key))

    events = list(Event.objects.order_by("id"))
    written = {e.type for e in events}
    assert written == set(EVENT_PAYLOAD_KEYS), (
        f"never written: {sorted(set(EVENT_PAYLOAD_KEYS) - written)}; "
        f"not in the allow-list: {sorted(written - set(EVENT_PAYLOAD_KEYS))}"
    )
    for event in events:
        extra = set(event.payload) - EVENT_PAYLOAD_KEYS[event.type]
        assert not extra, f"{event.type} carries {sorted(extra)}"
        odd = {k: v for k, v in event.payload.items() if not _shaped(v)}
        assert not odd, f"{event.type} carries values that are not ids or codes: {odd}"
    stored = json.dumps([e.payload for e in events], ensure_ascii=False)
    for text in BAIT:
        assert text not in stored


def test_a_payload_key_outside_the_list_is_refused_when_written(db: None) -> None:
    from django.db import transaction

    center, _ = health_center_create(name="Centre de santé Part-Dieu")
    with pytest.raises(ValueError, match="may not carry"), transaction.atomic():
        event_record(
            type="referral.cancelled",
            aggregate_type="referral",
            aggregate_id=uuid.uuid4(),
            payload={"referral_id": "x", "code": "ABC-DEF", "reason": "free text"},
            health_center_id=center.id,
        )
    with pytest.raises(ValueError, match="unknown event type"), transaction.atomic():
        event_record(type="referral.gossip", aggregate_type="referral", aggregate_id=uuid.uuid4())
