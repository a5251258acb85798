"""Reproductions for the review of issue 25 part 2 (its closing note lists them). Each
test asserts the behaviour the issue asks for; a failure is the defect."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from outreach.models import PatientMessage
from outreach.services import sessions_offered
from referrals.models import Contact, Placement, Referral
from tests.conftest import ApiClient, organization_key, referral_slipped
from tests.transports import Inbox

pytestmark = pytest.mark.django_db


def consent() -> dict[str, Any]:
    return {"given": True, "method": "verbal", "at": timezone.now().isoformat()}


def slipped(api: ApiClient, **overrides: Any) -> tuple[Referral, str, Placement]:
    referral = referral_slipped(
        api,
        contact={"messages_consent": consent(), "email": "jo@example.org"},
        **overrides,
    )
    token = Contact.objects.get(referral=referral).page_token
    placement = Placement.objects.filter(referral=referral).order_by("match__rank").first()
    assert token
    assert placement
    return referral, token, placement


def local(day_offset: int, hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() + timedelta(days=day_offset)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def due(at: datetime) -> dict[str, Any]:
    out = io.StringIO()
    call_command("messages", "due", "--as-of", at.isoformat(), stdout=out)
    return json.loads(out.getvalue())


def test_choosing_a_session_again_after_changing_keeps_a_reminder(
    api: ApiClient, catalog: int, client: Any
) -> None:
    """A -> B -> A: the person ends up with session A chosen and no reminder at all."""
    _referral, token, placement = slipped(api)
    sessions = [s for s in sessions_offered(placement, timezone.now()) if s > local(2, 0)]
    assert len(sessions) >= 2, sessions
    a, b = sessions[0], sessions[1]
    for session in (a, b, a):
        r = client.post(
            f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
        )
        assert r.status_code == 303
    placement.refresh_from_db()
    assert placement.chosen_session == a
    reminders = PatientMessage.objects.filter(placement=placement, kind="reminder")
    assert reminders.filter(status="scheduled").count() == 1


def test_malformed_session_is_a_4xx_not_a_500(api: ApiClient, catalog: int, client: Any) -> None:
    _referral, token, placement = slipped(api)
    client.raise_request_exception = False
    r = client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": "2026-13-45T10:00"}
    )
    assert r.status_code < 500, r.status_code


def _session_from_day(placement: Placement, day: int) -> datetime:
    return next(s for s in sessions_offered(placement, timezone.now()) if s >= local(day, 0))


def test_no_reminder_after_the_person_said_it_was_not_for_them(
    api: ApiClient, catalog: int, client: Any, smtp: Inbox
) -> None:
    _referral, token, placement = slipped(api)
    session = _session_from_day(placement, 3)
    client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
    )
    # The link goes out first (day 1), then the person says it was not for them.
    due(local(1, 10))
    r = client.post(f"/p/{token}/answer", {"activity": str(placement.id), "answer": "not-for-me"})
    assert r.status_code == 303
    eve = timezone.localtime(session - timedelta(days=1)).replace(
        hour=18, minute=0, second=0, microsecond=0
    )
    due(eve)
    subjects = [m["Subject"] for m in smtp.messages]
    assert "À demain" not in subjects, "a reminder for an activity the person said was not for them"


def test_no_messages_after_the_centre_cancelled_the_referral(
    api: ApiClient, catalog: int, smtp: Inbox
) -> None:
    referral, _token, _placement = slipped(api)
    assert api.post(f"/api/v1/referrals/{referral.id}/cancel", {}).status_code == 200
    for day in range(1, 9):
        due(local(day, 10))
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == [], subjects


def test_the_person_can_say_they_went_once_the_organisation_completed(
    api: ApiClient, catalog: int, client: Any
) -> None:
    _referral, token, placement = slipped(api)
    org = organization_key(placement.organization)
    for action in ("accept", "start", "complete"):
        assert org.post(f"/api/v1/inbox/placements/{placement.id}/{action}", {}).status_code == 200
    page = client.get(f"/p/{token}").content.decode()
    assert placement.match.service_at_location.service.name in page  # "so far"
    # The link of the "did you go?" e-mail (answer_url), then the one-tap confirmation.
    r = client.post(f"/p/{token}/answer", {"activity": str(placement.id), "answer": "went"})
    assert r.status_code == 303
    assert r["Location"].endswith("?done=went")
    placement.refresh_from_db()
    assert placement.patient_report == "went"


def test_reminder_sent_on_the_session_day_does_not_say_tomorrow(
    api: ApiClient, catalog: int, client: Any, smtp: Inbox
) -> None:
    """The usual path: the link arrives at 10:00, the person chooses a session the next
    day; the reminder, put off by 'one a day', goes on the session's day."""
    _referral, token, placement = slipped(api)
    session = _session_from_day(placement, 2)
    eve_day = timezone.localdate(session) - timedelta(days=1)
    eve10 = timezone.make_aware(datetime.combine(eve_day, time(10)))
    # The page's link due that morning (as if the slip had been printed the day before).
    PatientMessage.objects.filter(kind="page_link").update(due_at=eve10, next_attempt_at=eve10)
    assert due(eve10)["sent"] == 1
    client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
    )
    # The reminder goes that evening, whatever was sent that day: it is the one that
    # matters; its subject says "tomorrow".
    assert due(timezone.make_aware(datetime.combine(eve_day, time(18))))["sent"] == 1
    assert smtp.messages[-1]["Subject"] == "À demain"
    reminder = PatientMessage.objects.get(kind="reminder")
    assert reminder.status == "sent", f"no reminder at all: {reminder.status_reason}"
    sent_day = timezone.localdate(reminder.sent_at)
    assert not (
        sent_day == timezone.localdate(session) and smtp.messages[-1]["Subject"] == "À demain"
    )


def test_catch_up_in_the_past_and_the_relay_send_the_same_message_twice(
    api: ApiClient, catalog: int, smtp: Inbox, monkeypatch: Any
) -> None:
    """`tisser messages due --as-of <a past time>` (the documented catch-up after an
    outage) leases the message until as_of + 5 min, already in the past: the relay's sweep
    (every minute, real time) hands the same message to a worker while the command is
    still talking to the SMTP server."""
    from outreach import sending, transport

    referral, _token, _placement = slipped(api)
    link = PatientMessage.objects.get(referral=referral, kind="page_link")
    outage = timezone.now() - timedelta(hours=2)
    PatientMessage.objects.filter(id=link.id).update(due_at=outage, next_attempt_at=outage)
    monkeypatch.setattr(sending, "quiet_until", lambda moment: None)  # whatever the hour

    real_send = transport.EmailTransport.send
    relayed: list[str] = []

    def slow_send(self: Any, message: Any) -> Any:
        if not relayed:
            # The relay runs its sweep while the command waits for the SMTP server;
            # the worker it hands the message to sends it.
            relayed.append("x")
            sending.messages_sweep(lambda mid, lease: sending.message_send(mid, lease))
        return real_send(self, message)

    monkeypatch.setattr(transport.EmailTransport, "send", slow_send)
    call_command("messages", "due", "--as-of", outage.isoformat(), stdout=io.StringIO())
    assert len(smtp.messages) == 1


def test_two_workers_do_not_send_two_messages_the_same_day(
    api: ApiClient, catalog: int, smtp: Inbox, monkeypatch: Any
) -> None:
    """Two messages of one person due together (after an outage, or the quiet hours) are
    handed to two worker threads: each checks 'one a day' before the other is marked sent."""
    from outreach import sending, transport

    referral, _token, _placement = slipped(api)
    at = local(1, 11)
    PatientMessage.objects.filter(referral=referral).update(due_at=at, next_attempt_at=at)
    monkeypatch.setattr(sending, "quiet_until", lambda moment: None)
    link, asked = PatientMessage.objects.filter(referral=referral).order_by("kind")
    real_send = transport.EmailTransport.send
    other: list[Any] = [asked]

    def send(self: Any, message: Any) -> Any:
        if other:
            # The second worker runs while the first is talking to the SMTP server.
            m = other.pop()
            sending.message_send(m.id, m.next_attempt_at, now=at)
        return real_send(self, message)

    monkeypatch.setattr(transport.EmailTransport, "send", send)
    sending.message_send(link.id, link.next_attempt_at, now=at)
    assert len(smtp.messages) == 1


def test_erasure_leaves_the_chosen_session_in_events(
    api: ApiClient, catalog: int, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from events.models import Event

    referral, token, placement = slipped(api)
    session = _session_from_day(placement, 2)
    client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/referrals/{referral.id}/consent/withdraw", {}).status_code == 200
    placement.refresh_from_db()
    assert placement.chosen_session is None  # erased on the placement...
    left = [
        e.payload
        for e in Event.objects.filter(aggregate_id=placement.id, type="placement.patient_chose")
    ]
    assert all(p.get("chosen_session") is None for p in left)  # ...but not in its event


def test_did_you_go_follows_the_session_finally_chosen(
    api: ApiClient, catalog: int, client: Any
) -> None:
    _referral, token, placement = slipped(api)
    sessions = [s for s in sessions_offered(placement, timezone.now()) if s >= local(1, 0)]
    far, near = sessions[-1], sessions[0]
    for session in (far, near):
        client.post(
            f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
        )
    asked = PatientMessage.objects.get(kind="did_you_go")
    expected = max(
        local(7, 10),
        timezone.make_aware(
            datetime.combine(timezone.localdate(near) + timedelta(days=1), time(10))
        ),
    )
    assert asked.due_at == expected


def test_the_clinicians_page_says_what_the_person_asked(catalog: int, media: Any) -> None:
    """The centre's own web page says what the person said ("not for me", "something
    else") and lets the clinician withdraw the consent to messages."""
    from django.test import Client

    from accounts.keys import health_center_create as hc_create
    from tests.web.test_accounts import create_user, signed_in

    center, key = hc_create(name="Maison de santé Gerland")
    web = signed_in("c.martin", create_user("c.martin", "--center", center.name))
    api = ApiClient(key)
    referral, token, placement = slipped(api)
    person = Client()
    person.post(f"/p/{token}/answer", {"activity": str(placement.id), "answer": "not-for-me"})
    person.post(f"/p/{token}/other")
    html = web.get(f"/app/referrals/{referral.id}/").content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", html.split("<main", 1)[-1]).split()).lower()
    assert "ce n\N{RIGHT SINGLE QUOTATION MARK}était pas pour elle" in text
    assert "a demandé autre chose" in text
    assert f"/app/referrals/{referral.id}/messages/withdraw/" in html
    withdrawn = web.post(f"/app/referrals/{referral.id}/messages/withdraw/")
    assert withdrawn.status_code == 302
    contact = Contact.objects.get(referral=referral)
    assert (contact.email, contact.messages_consent) == ("", False)
    assert contact.page_revoked_at is not None


def test_something_else_with_an_accepted_offer_promises_nothing_it_cannot_do(
    api: ApiClient, catalog: int, client: Any
) -> None:
    """An organisation already took the person: re-matching offers nothing new by itself
    (the centre is told and decides); the page says so instead of promising new
    activities."""
    from events.models import Event
    from referrals.matching_jobs import referral_rematch

    referral, token, placement = slipped(api)
    org = organization_key(placement.organization)
    assert org.post(f"/api/v1/inbox/placements/{placement.id}/accept", {}).status_code == 200
    before = set(Placement.objects.filter(referral=referral).values_list("id", flat=True))
    r = client.post(f"/p/{token}/other")
    assert r.status_code == 303
    referral_rematch(referral_id=referral.id, event_id=None)  # what the actor does
    after = set(Placement.objects.filter(referral=referral).values_list("id", flat=True))
    assert after == before
    assert Event.objects.filter(type="referral.other_wanted", aggregate_id=referral.id).exists()
    page = client.get(r["Location"]).content.decode()
    assert "apparaîtront" not in page
    assert "Une association vous attend déjà" in page
    placement.refresh_from_db()
    assert placement.status == "accepted"  # an accepted offer is not withdrawn


def test_catch_up_keeps_the_real_quiet_hours(
    api: ApiClient, catalog: int, smtp: Inbox, settings: Any
) -> None:
    """`messages due --as-of` in the past (a catch-up) judges quiet hours at the time
    the message actually leaves, not at `as_of`: here the quiet hours are set around
    the time this runs, whatever it is."""
    referral, _token, _placement = slipped(api)
    yesterday10 = local(-1, 10)
    PatientMessage.objects.filter(referral=referral, kind="page_link").update(
        due_at=yesterday10, next_attempt_at=yesterday10
    )
    real = timezone.localtime()
    settings.TISSER_MESSAGES_QUIET = (
        (real - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        (real + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    result = due(yesterday10)
    assert smtp.messages == [], f"sent at {real:%H:%M}, inside the quiet hours"
    assert result.get("later") == 1


def test_contact_details_without_consent_are_not_kept(api: ApiClient, catalog: int) -> None:
    from tests.conftest import referral_body

    response = api.post(
        "/api/v1/referrals",
        referral_body(contact={"email": "a@example.org", "phone": "0612345678"}),
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "contact"
    assert not Contact.objects.exists()
