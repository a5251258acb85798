"""A way back after the slip (issue 25, part 2): the three messages a person who agreed
gets, at the right times, through a real SMTP server (and a local stand-in for an SMS
provider's API); none for a person who did not agree or who must not be contacted; quiet
hours, one a day, the stop link; nothing clinical in any of them.

Expected outcomes were written from the issue before running: the page's link the
morning after the slip (10:00), a reminder the evening before a chosen session (18:00),
"did you go?" a week after the slip (or the morning after the chosen session if later);
nothing between 20:00 and 09:00; at most one a day; each message once.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from events.models import Event
from outreach.models import PatientMessage
from referrals.models import Contact, Placement, Referral
from tests.conftest import ApiClient, referral_slipped
from tests.transports import Inbox, SmsApi

pytestmark = pytest.mark.django_db

CLINICAL = "Humeur basse depuis le veuvage."  # the clinical reason of conftest's body
NOTE = "Allez-y une première fois, sans engagement."


def consent() -> dict[str, Any]:
    return {"given": True, "method": "verbal", "at": timezone.now().isoformat()}


def slipped(api: ApiClient, **contact: Any) -> Referral:
    body = {"messages_consent": consent(), **contact}
    return referral_slipped(api, contact=body)


def local(day_offset: int, hour: int, minute: int = 0, *, base: datetime | None = None) -> datetime:
    day = timezone.localdate(base or timezone.now()) + timedelta(days=day_offset)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def due(at: datetime) -> dict[str, Any]:
    out = io.StringIO()
    call_command("messages", "due", "--as-of", at.isoformat(), stdout=out)
    import json

    return json.loads(out.getvalue())


def test_three_messages_at_their_times_through_smtp(
    api: ApiClient, catalog: int, smtp: Inbox, client: Any
) -> None:
    referral = slipped(api, email="josiane.martin@example.org")
    contact = Contact.objects.get(referral=referral)
    page = f"/p/{contact.page_token}"
    assert len(contact.page_token or "") >= 43  # 256 bits, URL-safe

    # Nothing the same evening; the link the morning after, at 10:00.
    assert due(local(0, 19, 59)).get("sent", 0) == 0
    assert due(local(1, 9, 59)).get("sent", 0) == 0
    assert due(local(1, 10, 0))["sent"] == 1
    assert len(smtp.messages) == 1
    first = smtp.messages[0]
    assert first["To"] == "josiane.martin@example.org"
    assert first["Subject"] == "Vos activités"
    assert first["Content-Language"] == "fr"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"{page}/stop" in first["List-Unsubscribe"]
    text = first.get_content()
    assert "Josiane" in text
    assert page in text
    assert f"{page}/stop" in text
    # Nothing clinical, no note, no centre, no need.
    for secret in (CLINICAL, NOTE, referral.health_center.name, "isolation", "Isolement"):
        assert secret not in text
    # Each message once: the same time again sends nothing.
    assert due(local(1, 10, 5)).get("sent", 0) == 0

    # The person opens their page on the phone and chooses a session.
    response = client.get(page)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    html = response.content.decode()
    assert "Josiane" in html
    for secret in (CLINICAL, NOTE, referral.health_center.name):
        assert secret not in html
    placement = Placement.objects.filter(referral=referral).order_by("match__rank").first()
    assert placement is not None
    from outreach.services import sessions_offered

    sessions = sessions_offered(placement, timezone.now())
    assert sessions
    # A session from the third day on: its eve is not the day the link was sent (one a
    # day is tested below).
    session = next(s for s in sessions if s > local(3, 0))
    chosen = client.post(
        f"{page}/choose", {"activity": str(placement.id), "session": session.isoformat()}
    )
    assert chosen.status_code == 303
    placement.refresh_from_db()
    assert placement.chosen_session == session
    assert Event.objects.filter(type="placement.patient_chose", aggregate_id=placement.id).exists()

    # The reminder the evening before the session, at 18:00; not before.
    eve = timezone.localtime(session) - timedelta(days=1)
    eve = eve.replace(hour=18, minute=0, second=0, microsecond=0)
    assert due(eve - timedelta(minutes=1)).get("sent", 0) == 0
    assert due(eve)["sent"] == 1
    reminder = smtp.messages[-1]
    assert reminder["Subject"] == "À demain"
    name = placement.match.service_at_location.service.name
    assert name in reminder.get_content()

    # "Did you go?" no earlier than the morning after the session, and a week after the
    # slip at the earliest.
    asked_at = max(
        local(7, 10, base=timezone.now()),
        timezone.localtime(session).replace(hour=10, minute=0, second=0, microsecond=0)
        + timedelta(days=1),
    )
    assert due(asked_at - timedelta(minutes=1)).get("sent", 0) == 0
    assert due(asked_at)["sent"] == 1
    asked = smtp.messages[-1]
    assert asked["Subject"] == "Avez-vous pu y aller ?"
    body = asked.get_content()
    assert f"{page}?answer=went&activity={placement.id}" in body
    assert len(smtp.messages) == 3
    sent = PatientMessage.objects.filter(referral=referral, status="sent")
    assert sorted(sent.values_list("kind", flat=True)) == ["did_you_go", "page_link", "reminder"]
    assert set(sent.values_list("channel", flat=True)) == {"email"}
    assert Event.objects.filter(type="referral.message_sent", aggregate_id=referral.id).count() == 3

    # One tap (after the link) records what the person says, apart from the organisation.
    went = client.post(f"{page}/answer", {"activity": str(placement.id), "answer": "went"})
    assert went.status_code == 303
    placement.refresh_from_db()
    assert placement.patient_report == "went"
    assert placement.status == Placement.Status.REQUESTED  # the organisation's, unchanged


def test_no_consent_or_do_not_contact_gets_nothing(
    api: ApiClient, catalog: int, smtp: Inbox
) -> None:
    # No contact at all; the consent given but do_not_contact; the consent refused.
    referral_slipped(api)
    referral_slipped(
        api,
        do_not_contact=True,
        contact={"email": "b@example.org", "messages_consent": consent()},
    )
    referral_slipped(api, contact={"messages_consent": {**consent(), "given": False}})
    for days in range(0, 15):
        due(local(days, 10)) and due(local(days, 18))
    assert smtp.messages == []
    assert not PatientMessage.objects.filter(status="sent").exists()


def test_quiet_hours_and_one_a_day(api: ApiClient, catalog: int, smtp: Inbox) -> None:
    referral = slipped(api, email="jo@example.org")
    link = PatientMessage.objects.get(referral=referral, kind="page_link")
    # Made due in the evening (an outage, say): it waits for 09:00.
    PatientMessage.objects.filter(id=link.id).update(
        due_at=local(0, 21), next_attempt_at=local(0, 21)
    )
    assert due(local(0, 23))["later"] == 1
    assert smtp.messages == []
    link.refresh_from_db()
    assert link.next_attempt_at == local(1, 9)
    # Two due the same morning: one goes, the other the next morning.
    asked = PatientMessage.objects.get(referral=referral, kind="did_you_go")
    PatientMessage.objects.filter(id=asked.id).update(
        due_at=local(1, 9), next_attempt_at=local(1, 9)
    )
    result = due(local(1, 9, 30))
    assert result["sent"] == 1
    assert result["later"] == 1
    assert len(smtp.messages) == 1
    assert due(local(1, 15)).get("sent", 0) == 0
    assert due(local(2, 10))["sent"] == 1


def test_stop_link_honoured_at_once(api: ApiClient, catalog: int, smtp: Inbox, client: Any) -> None:
    referral = slipped(api, email="jo@example.org")
    token = Contact.objects.get(referral=referral).page_token
    # Opening the link stops nothing (a mail scanner opens links); the button does.
    assert client.get(f"/p/{token}/stop").status_code == 200
    assert Contact.objects.get(referral=referral).stopped_at is None
    # A mail client's one-click unsubscribe (RFC 8058): a POST, no cookie, no CSRF token.
    response = client.post(f"/p/{token}/stop", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 303
    stopped = Contact.objects.get(referral=referral)
    assert stopped.stopped_at is not None
    assert stopped.email == ""  # nothing will be sent again: the address goes
    assert client.get(f"/p/{token}").status_code == 200  # the page stays
    for days in range(0, 10):
        due(local(days, 10))
    assert smtp.messages == []
    assert set(
        PatientMessage.objects.filter(referral=referral).values_list("status_reason", flat=True)
    ) == {"stopped"}
    assert Event.objects.filter(type="referral.messages_stopped", aggregate_id=referral.id).exists()


def test_sms_through_the_providers_documented_api(
    api: ApiClient, catalog: int, sms_api: SmsApi
) -> None:
    referral = referral_slipped(
        api,
        preferred_language="ar",
        preferred_contact="sms",
        contact={"phone": "06 12 34 56 78", "messages_consent": consent()},
    )
    contact = Contact.objects.get(referral=referral)
    assert contact.phone == "+33612345678"
    assert due(local(1, 10))["sent"] == 1
    assert sms_api.problems == []
    (request,) = sms_api.requests
    assert request["recipient"] == "33612345678"
    assert request["sender"] == "Tisser"
    assert request["type"] == "transactional"
    assert request["unicodeEnabled"] is True
    assert f"/p/{contact.page_token}" in request["content"]
    assert CLINICAL not in request["content"]
    message = PatientMessage.objects.get(referral=referral, kind="page_link")
    assert message.channel == "sms"
    assert message.status == "sent"
    assert message.provider_ref == str(1511882900176220 + 1)


def test_sms_refused_fails_and_provider_down_retries(
    api: ApiClient, catalog: int, sms_api: SmsApi
) -> None:
    referral = referral_slipped(
        api, contact={"phone": "+33612345678", "messages_consent": consent()}
    )
    sms_api.answers.append((503, {"code": "unavailable", "message": "try later"}))
    assert due(local(1, 10))["later"] == 1
    message = PatientMessage.objects.get(referral=referral, kind="page_link")
    assert message.status == "scheduled"
    assert message.status_reason == "sms_503"
    assert message.attempts == 1
    sms_api.answers.append((402, {"code": "not_enough_credits", "message": "no credits"}))
    assert due(local(1, 11))["failed"] == 1
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.status_reason == "sms_402"
    assert Event.objects.filter(type="referral.message_failed", aggregate_id=referral.id).exists()


def test_bad_contact_details_are_refused(api: ApiClient, catalog: int) -> None:
    from tests.conftest import referral_body

    for contact, field in (
        ({"email": "not an address"}, "contact.email"),
        ({"phone": "12"}, "contact.phone"),
        ({"phone": "+33 1 23 45 67 89"}, "contact.phone"),  # a landline: no SMS
        (
            {"messages_consent": {"given": True, "method": "verbal", "at": "2026-12-01T10:00"}},
            "contact.messages_consent.at",
        ),
        ({"fax": "01"}, "contact.fax"),
        # An address without the consent to messages is not kept (review of issue 25).
        ({"email": "a@example.org"}, "contact"),
        (
            {"phone": "+33612345678", "messages_consent": {**consent(), "given": False}},
            "contact",
        ),
    ):
        response = api.post("/api/v1/referrals", referral_body(contact=contact))
        assert response.status_code == 422, contact
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        assert any(f.startswith(field) for f in fields), (contact, fields)
    assert not Referral.objects.exists()


def test_api_says_how_the_person_can_be_reached(api: ApiClient, catalog: int) -> None:
    referral = slipped(api, email="jo@example.org")
    body = api.get(f"/api/v1/referrals/{referral.id}").json()
    assert body["contact"] == {
        "email": True,
        "phone": False,
        "messages": "on",
        "channel": "email",
        "personal_page": "open",
        "other_wanted_at": None,
    }
    assert "jo@example.org" not in str(body)
    withdrawn = api.post(f"/api/v1/referrals/{referral.id}/contact/withdraw", {})
    assert withdrawn.status_code == 200, withdrawn.json()
    assert withdrawn.json()["contact"]["messages"] == "withdrawn"
    assert withdrawn.json()["contact"]["personal_page"] == "closed"
    contact = Contact.objects.get(referral=referral)
    assert contact.email == ""
    assert contact.phone == ""


def test_relay_hands_due_messages_to_a_worker(
    api: ApiClient, catalog: int, smtp: Inbox, worker: Any, settings: Any
) -> None:
    """Through the broker, as in production: the relay's sweep hands a due message to the
    `messages` queue, a real worker sends it."""
    import time as clock

    from outreach.sending import messages_sweep
    from workers.actors import send_message

    # Whatever the hour this runs at: no quiet hours (their rule has its own test).
    settings.TISSER_MESSAGES_QUIET = (time(0), time(0))
    referral = slipped(api, email="jo@example.org")
    PatientMessage.objects.filter(referral=referral, kind="page_link").update(
        due_at=timezone.now(), next_attempt_at=timezone.now() - timedelta(minutes=1)
    )
    handed = messages_sweep(lambda mid, lease: send_message.send(str(mid), lease.isoformat()))
    assert handed == 1
    link = PatientMessage.objects.filter(referral=referral, kind="page_link")
    deadline = clock.monotonic() + 30
    # The server has the e-mail a moment before the worker records it as sent.
    while link.get().status != "sent" and clock.monotonic() < deadline:
        clock.sleep(0.05)
    assert link.get().status == "sent"
    assert len(smtp.messages) == 1
    assert uuid.UUID(str(referral.id))
