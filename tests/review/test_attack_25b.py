"""Reproductions for the second review of issue 25 part 2 (the fixes after 3fe1b85): a
second reminder is a new message, leases and claims in real time, erasure of the chosen
session, redacted tracebacks, a NUL in a token, GSM text for French SMS…"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from outreach.models import PatientMessage
from outreach.services import sessions_offered
from referrals.models import Contact, Placement
from tests.conftest import ApiClient, referral_slipped
from tests.review.test_attack_25 import consent, due, local, slipped
from tests.transports import Inbox

pytestmark = pytest.mark.django_db

TOKEN_LIKE = "SECRETtoken" * 4


def eve(session: datetime) -> datetime:
    return timezone.localtime(session - timedelta(days=1)).replace(
        hour=18, minute=0, second=0, microsecond=0
    )


# --- 1. One reminder row per placement: a sent reminder is overwritten, its Message-ID reused


def test_a_second_reminder_is_a_new_message_and_the_first_stays_sent(
    api: ApiClient, catalog: int, client: Any, smtp: Inbox
) -> None:
    _referral, token, placement = slipped(api)
    sessions = [s for s in sessions_offered(placement, timezone.now()) if s >= local(2, 0)]
    first, second = sessions[0], sessions[-1]
    assert timezone.localdate(first) != timezone.localdate(second)
    client.post(f"/p/{token}/choose", {"activity": str(placement.id), "session": first.isoformat()})
    due(eve(first))
    reminders = [m for m in smtp.messages if m["Subject"] == "À demain"]
    assert len(reminders) == 1
    row = PatientMessage.objects.get(kind="reminder")
    assert row.status == "sent"
    assert row.sent_at is not None
    # The person cannot go after all and picks a later session.
    client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": second.isoformat()}
    )
    row.refresh_from_db()
    due(eve(second))
    reminders = [m for m in smtp.messages if m["Subject"] == "À demain"]
    ids = [m["Message-ID"] for m in reminders]
    assert len(reminders) == 2
    # Gmail and others drop a message whose Message-ID they already hold.
    assert len(set(ids)) == 2, "the second reminder reuses the first one's Message-ID"
    # The record of the first reminder (sent, when, how) is kept.
    assert PatientMessage.objects.filter(kind="reminder", status="sent").count() == 2


# --- 2. A send longer than the lease: sent twice, and the person's claim wiped ----------


def test_a_send_longer_than_the_lease_is_not_sent_twice(
    api: ApiClient, catalog: int, smtp: Inbox, monkeypatch: Any
) -> None:
    """No SMTP timeout is set (EMAIL_TIMEOUT None): a server that stalls keeps the worker
    past the 5-minute lease; the relay hands the message again."""

    from outreach import sending, transport

    referral, _token, _placement = slipped(api)
    at = local(1, 11)
    link = PatientMessage.objects.get(referral=referral, kind="page_link")
    PatientMessage.objects.filter(id=link.id).update(due_at=at, next_attempt_at=at)
    link.refresh_from_db()
    monkeypatch.setattr(sending, "quiet_until", lambda moment: None)
    real_send = transport.EmailTransport.send
    stalled: list[str] = []

    def send(self: Any, message: Any) -> Any:
        if not stalled:
            stalled.append("x")
            later = at + sending.LEASE + timedelta(minutes=1)
            handed: list[tuple[Any, Any]] = []
            sending.messages_sweep(lambda mid, lease: handed.append((mid, lease)), now=later)
            for mid, lease in handed:
                sending.message_send(mid, lease, now=later)
        return real_send(self, message)

    monkeypatch.setattr(transport.EmailTransport, "send", send)
    sending.message_send(link.id, link.next_attempt_at, now=at)
    assert len(smtp.messages) == 1, [m["Message-ID"] for m in smtp.messages]


def test_a_worker_does_not_release_another_workers_claim_on_the_person(
    api: ApiClient, catalog: int, smtp: Inbox, monkeypatch: Any
) -> None:
    from outreach import sending, transport

    referral, _token, _placement = slipped(api)
    at = local(1, 11)
    link = PatientMessage.objects.get(referral=referral, kind="page_link")
    PatientMessage.objects.filter(id=link.id).update(due_at=at, next_attempt_at=at)
    link.refresh_from_db()
    monkeypatch.setattr(sending, "quiet_until", lambda moment: None)
    real_send = transport.EmailTransport.send
    b_claim = timezone.now() + timedelta(hours=1)

    def send(self: Any, message: Any) -> Any:
        # A's claim ran out while it was sending; worker B took the person meanwhile.
        Contact.objects.filter(referral=referral).update(sending_until=b_claim)
        return real_send(self, message)

    monkeypatch.setattr(transport.EmailTransport, "send", send)
    assert sending.message_send(link.id, link.next_attempt_at, now=at) == "sent"
    held = Contact.objects.get(referral=referral).sending_until
    assert held == b_claim, f"B's claim was released by A: {held}"


# --- 3. Erasure leaves the chosen session in PatientMessage.session_at -----------------


def test_erasure_leaves_no_chosen_session_in_the_messages(
    api: ApiClient, catalog: int, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    referral, token, placement = slipped(api)
    session = next(s for s in sessions_offered(placement, timezone.now()) if s >= local(2, 0))
    client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/referrals/{referral.id}/consent/withdraw", {}).status_code == 200
    placement.refresh_from_db()
    assert placement.chosen_session is None
    left = list(
        PatientMessage.objects.filter(referral=referral, kind="reminder").values_list(
            "status", "status_reason", "session_at"
        )
    )
    assert all(s is None for _status, _reason, s in left), left


# --- 4. Logs: a traceback is not redacted; DEBUG's own console handler -------------------


def test_a_traceback_naming_a_page_is_redacted(settings: Any) -> None:
    """SecretPathFilter redacts `record.exc_text`, which is None when a handler's filter
    runs (the formatter fills it afterwards); the JSON formatter formats exc_info anew."""
    from core.logs import SecretPathFilter, TisserJsonFormatter

    for formatter in (TisserJsonFormatter(), logging.Formatter("%(message)s")):
        out = io.StringIO()
        handler = logging.StreamHandler(out)
        handler.addFilter(SecretPathFilter())
        handler.setFormatter(formatter)
        log = logging.getLogger("review38b.probe")
        log.addHandler(handler)
        log.propagate = False
        try:
            try:
                raise ValueError(f"while serving /p/{TOKEN_LIKE}/choose")
            except ValueError:
                log.exception("Internal Server Error: %s", f"/p/{TOKEN_LIKE}/choose")
        finally:
            log.removeHandler(handler)
        text = out.getvalue()
        assert "/p/…/choose" in text  # the message is redacted...
        assert TOKEN_LIKE not in text  # ...the traceback is not


# --- 5. PostgreSQL: races that end in a 500 instead of "unavailable" / "gone" ----------


@pytest.mark.django_db(transaction=True)
def test_a_nul_in_the_token_is_a_404_not_a_500(client: Any) -> None:
    client.raise_request_exception = False
    answers = {path: client.get(path).status_code for path in ("/p/ab%00cd", "/p/ab%00cd/stop")} | {
        path: client.post(path, {}).status_code for path in ("/p/ab%00cd/other",)
    }
    assert all(code < 500 for code in answers.values()), answers


# --- 6. "Did you go?" after "I went" on an activity the organisation completed ---------


def test_did_you_go_is_not_asked_after_i_went_on_a_completed_activity(
    api: ApiClient, catalog: int, client: Any, smtp: Inbox
) -> None:
    from tests.conftest import organization_key

    referral, token, placement = slipped(api)
    print(
        "placements:",
        list(Placement.objects.filter(referral=referral).values_list("status", flat=True)),
    )
    org = organization_key(placement.organization)
    for action in ("accept", "start", "complete"):
        assert org.post(f"/api/v1/inbox/placements/{placement.id}/{action}", {}).status_code == 200
    r = client.post(f"/p/{token}/answer", {"activity": str(placement.id), "answer": "went"})
    assert r["Location"].endswith("done=went")
    referral.refresh_from_db()
    due(local(1, 10))
    due(local(7, 10))
    asked = PatientMessage.objects.get(referral=referral, kind="did_you_go")
    [m["Subject"] for m in smtp.messages]
    assert asked.status != "sent", "asked 'did you go?' after they said they went"


# --- 7. "Something else" the day the slip was printed: the link goes twice ------------


def test_something_else_before_the_first_link_sends_one_link(
    api: ApiClient, catalog: int, client: Any, smtp: Inbox
) -> None:
    from events.models import Event
    from referrals.matching_jobs import referral_rematch
    from slips.services import referral_render_slip

    referral, token, _placement = slipped(api)
    assert client.post(f"/p/{token}/other").status_code == 303  # from the slip's QR code
    referral_rematch(referral_id=referral.id, event_id=None)
    stage = Event.objects.filter(aggregate_id=referral.id, type="referral.matched").order_by("-id")
    assert stage.count() >= 2, "no re-match"
    last = stage.first()
    assert last is not None
    referral_render_slip(referral_id=referral.id, event_id=last.id)
    for day in (1, 2, 3):
        due(local(day, 10))
    links = [m for m in smtp.messages if m["Subject"] == "Vos activités"]
    assert len(links) == 1, "the same link, on two mornings in a row"


# --- 8. French SMS are never GSM-7: "arrêter" in the line every SMS ends with ---------


def test_a_french_sms_goes_as_gsm_text(api: ApiClient, catalog: int, client: Any) -> None:
    from outreach.texts import message_text
    from outreach.transport import gsm7

    referral, _token, _placement = slipped(api)
    Contact.objects.filter(referral=referral).update(phone="+33612345678", email="")
    contact = Contact.objects.select_related("referral").get(referral=referral)
    link = PatientMessage.objects.get(referral=referral, kind="page_link")
    _subject, text = message_text(link, contact, "sms", timezone.now())
    assert gsm7(text), "the page link's SMS in French needs Unicode (70 a part)"


# --- Checked: the clinician's withdraw form (CSRF, another centre) ---------------------


def test_withdraw_form_needs_csrf_and_the_own_centre(catalog: int, media: Any) -> None:

    from accounts.keys import health_center_create as hc_create
    from tests.web.test_accounts import create_user

    _center, key = hc_create(name="Maison de santé Gerland")
    other, _ = hc_create(name="Centre de santé Vaise")
    referral, _token, _placement = slipped(ApiClient(key))
    password = create_user("v.autre", "--center", other.name)
    from tests.web.test_accounts import signed_in

    stranger = signed_in("v.autre", password)
    stranger.handler.enforce_csrf_checks = True
    url = f"/app/referrals/{referral.id}/messages/withdraw/"
    assert stranger.post(url).status_code == 403  # no CSRF token
    response = stranger.get("/app/referrals/new/")
    page = response.content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, (response.status_code, response.get("Location"), page[:300])
    csrf = found.group(1)
    assert stranger.post(url, {"csrfmiddlewaretoken": csrf}).status_code == 404
    assert Contact.objects.get(referral=referral).messages_consent


# --- 9. A long catch-up: its clock is read once, so later leases are already over -----


def test_a_long_catch_up_and_the_relay_do_not_send_a_message_twice(
    api: ApiClient, catalog: int, smtp: Inbox, monkeypatch: Any
) -> None:
    """`messages due` reads the time once (`clock = max(as_of, now)`) and uses it for every
    message of the run: after five minutes of sending (a backlog after an outage), each
    message it claims gets a lease that is already over, and the relay hands it again."""
    from outreach import sending, transport

    first, _t1, _p1 = slipped(api)
    referral_slipped(api, contact={"messages_consent": consent(), "email": "lou@example.org"})
    outage = timezone.now() - timedelta(hours=2)
    PatientMessage.objects.filter(kind="page_link").update(due_at=outage, next_attempt_at=outage)
    PatientMessage.objects.filter(kind="page_link", referral=first).update(
        due_at=outage - timedelta(minutes=1), next_attempt_at=outage - timedelta(minutes=1)
    )
    monkeypatch.setattr(sending, "quiet_until", lambda moment: None)
    real_send = transport.EmailTransport.send
    calls: list[str] = []

    def send(self: Any, message: Any) -> Any:
        calls.append(message.to)
        if message.to == "lou@example.org" and calls.count("lou@example.org") == 1:
            # Six minutes into the run (the first message, or a backlog, took that long):
            # the relay's sweep, and the worker it hands to.
            later = timezone.now() + sending.LEASE + timedelta(minutes=1)
            handed: list[tuple[Any, Any]] = []
            sending.messages_sweep(lambda mid, lease: handed.append((mid, lease)), now=later)
            for mid, lease in handed:
                sending.message_send(mid, lease, now=later)
        return real_send(self, message)

    monkeypatch.setattr(transport.EmailTransport, "send", send)
    call_command("messages", "due", "--as-of", outage.isoformat(), stdout=io.StringIO())
    to_lou = [m for m in smtp.messages if m["To"] == "lou@example.org"]
    assert len(to_lou) == 1, [m["Message-ID"] for m in to_lou]


# --- 10. A rehearsal (`--as-of` ahead) and the relay: the claim on a person --------------


def test_a_rehearsal_neither_steals_nor_strands_the_claim_on_a_person(
    api: ApiClient, catalog: int, smtp: Inbox, monkeypatch: Any
) -> None:
    """Claims on a person are in real time, whatever `--as-of` says: a rehearsal cannot
    take a person a relay worker is sending to, and a claim left by one that died runs
    out with its lease, not at the rehearsal's time."""
    from outreach import sending

    monkeypatch.setattr(sending, "quiet_until", lambda moment: None)
    referral, _token, _placement = slipped(api)
    contact = Contact.objects.get(referral=referral)
    # A relay worker is sending this person a message: nobody else takes them.
    assert sending._person_take(contact) is not None
    assert sending._person_take(contact) is None
    held = Contact.objects.get(referral=referral).sending_until
    assert held is not None
    assert held <= timezone.now() + sending.LEASE
    # That worker died: once its lease is over, the person is free again.
    Contact.objects.filter(referral=referral).update(
        sending_until=timezone.now() - timedelta(seconds=1)
    )
    link = PatientMessage.objects.get(referral=referral, kind="page_link")
    now = timezone.now()
    PatientMessage.objects.filter(id=link.id).update(due_at=now, next_attempt_at=now)
    assert sending.message_send(link.id, now, now=now) == "sent"
