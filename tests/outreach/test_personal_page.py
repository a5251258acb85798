"""The person's own page (issue 25, part 2): only with their consent, a token no one can
guess, closed 30 days after the referral closes or when revoked or erased, nothing
clinical ever, and what the person says reaches the organisation and the centre.

Expected outcomes written before running, from the issue: 404 (one and the same page)
for an unknown, revoked, expired or erased token; `no-store` and `noindex`; the chosen
date in the organisation's inbox; "something else" withdraws the offers no one has
answered, tells the centre, and re-matching offers a new activity.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader

from events.models import Event
from outreach.models import PatientMessage
from referrals.matching_jobs import referral_rematch
from referrals.models import Contact, Placement, Referral
from tests.conftest import ApiClient, organization_key, referral_slipped

pytestmark = pytest.mark.django_db

CLINICAL = "Humeur basse depuis le veuvage."
NOTE = "Allez-y une première fois, sans engagement."


def consent() -> dict[str, Any]:
    return {"given": True, "method": "written", "at": timezone.now().isoformat()}


def with_page(api: ApiClient, **overrides: Any) -> tuple[Referral, str]:
    referral = referral_slipped(
        api, contact={"messages_consent": consent(), "email": "p@example.org"}, **overrides
    )
    token = Contact.objects.get(referral=referral).page_token
    assert token
    return referral, token


def test_page_shows_activities_and_nothing_clinical(
    api: ApiClient, catalog: int, client: Any
) -> None:
    referral, token = with_page(api, preferred_language="uk")
    response = client.get(f"/p/{token}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Content-Language"] == "uk"
    html = response.content.decode()
    assert '<meta name="robots" content="noindex">' in html
    assert 'lang="uk"' in html
    names = [p.match.service_at_location.service.name for p in referral.placements.all()]
    assert names
    for name in names:
        assert name in html
    for secret in (
        CLINICAL,
        NOTE,
        referral.health_center.name,
        referral.patient_ref,
        "isolation",
        str(referral.year_of_birth),
    ):
        assert secret not in html, secret


def test_unknown_revoked_expired_and_erased_answer_alike(
    api: ApiClient, catalog: int, client: Any
) -> None:
    referral, token = with_page(api)
    gone = client.get("/p/" + "A" * 43)
    assert gone.status_code == 404
    assert gone["Cache-Control"] == "no-store"
    # Closed 29 days ago: still open; 31 days ago: closed.
    Referral.objects.filter(id=referral.id).update(
        status="completed", closed_at=timezone.now() - timedelta(days=29)
    )
    assert client.get(f"/p/{token}").status_code == 200
    Referral.objects.filter(id=referral.id).update(closed_at=timezone.now() - timedelta(days=31))
    expired = client.get(f"/p/{token}")
    assert expired.status_code == 404
    assert expired.content == gone.content
    # Posting to a closed page changes nothing.
    placement = referral.placements.first()
    assert placement is not None
    client.post(f"/p/{token}/answer", {"activity": str(placement.id), "answer": "went"})
    placement.refresh_from_db()
    assert placement.patient_report == ""


def test_consent_withdrawn_erases_contact_and_closes_page(
    api: ApiClient, catalog: int, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    referral, token = with_page(api)
    assert PatientMessage.objects.filter(referral=referral, status="scheduled").count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        withdrawn = api.post(f"/api/v1/referrals/{referral.id}/consent/withdraw", {})
    assert withdrawn.status_code == 200
    assert not Contact.objects.filter(referral=referral).exists()
    assert client.get(f"/p/{token}").status_code == 404
    assert not PatientMessage.objects.filter(referral=referral, status="scheduled").exists()
    # No event names the address or the token.
    for event in Event.objects.filter(aggregate_id=referral.id):
        assert "p@example.org" not in str(event.payload)
        assert token not in str(event.payload)


def test_retention_purge_erases_contact(api: ApiClient, catalog: int, settings: Any) -> None:
    from referrals.retention import retention_purge

    referral, _token = with_page(api)
    Referral.objects.filter(id=referral.id).update(
        status="completed",
        closed_at=timezone.now() - timedelta(days=settings.TISSER_RETENTION_DAYS + 1),
    )
    assert retention_purge() == 1
    assert not Contact.objects.filter(referral=referral).exists()
    assert set(
        PatientMessage.objects.filter(referral=referral).values_list("status", flat=True)
    ) == {"cancelled"}


def test_chosen_date_reaches_the_organisations_inbox(
    api: ApiClient, catalog: int, client: Any
) -> None:
    from outreach.services import sessions_offered

    referral, token = with_page(api)
    placement = (
        Placement.objects.filter(referral=referral)
        .select_related("organization", "match__service_at_location")
        .first()
    )
    assert placement is not None
    session = sessions_offered(placement, timezone.now())[0]
    response = client.post(
        f"/p/{token}/choose", {"activity": str(placement.id), "session": session.isoformat()}
    )
    assert response.status_code == 303
    inbox = organization_key(placement.organization).get(f"/api/v1/inbox/placements/{placement.id}")
    assert inbox.status_code == 200, inbox.json()
    from django.utils.dateparse import parse_datetime

    assert parse_datetime(inbox.json()["chosen_session"]) == session
    # A session that is not among those shown is refused: nothing changes.
    bogus = (session + timedelta(minutes=7)).isoformat()
    client.post(f"/p/{token}/choose", {"activity": str(placement.id), "session": bogus})
    placement.refresh_from_db()
    assert placement.chosen_session == session
    # Another referral's activity is not found from this page.
    other, _ = with_page(api)
    foreign = other.placements.first()
    assert foreign is not None
    client.post(f"/p/{token}/choose", {"activity": str(foreign.id), "session": session.isoformat()})
    foreign.refresh_from_db()
    assert foreign.chosen_session is None


def test_something_else_tells_the_centre_and_rematches(
    api: ApiClient, catalog: int, client: Any
) -> None:
    referral, token = with_page(api, matches_wanted=1)
    before = set(referral.matches.values_list("service_at_location__service_id", flat=True))
    response = client.post(f"/p/{token}/other")
    assert response.status_code == 303
    assert set(
        Placement.objects.filter(referral=referral).values_list("status_reason", flat=True)
    ) == {"patient-asked-other"}
    event = Event.objects.get(type="referral.other_wanted", aggregate_id=referral.id)
    assert event.health_center_id == referral.health_center_id
    # Asking twice before anything new is offered withdraws nothing more.
    client.post(f"/p/{token}/other")
    assert Event.objects.filter(type="referral.other_wanted", aggregate_id=referral.id).count() == 1
    referral_rematch(referral_id=referral.id, event_id=event.id)
    after = set(
        Placement.objects.filter(referral=referral, status="requested").values_list(
            "match__service_at_location__service_id", flat=True
        )
    )
    assert after
    assert not after & before
    body = api.get(f"/api/v1/referrals/{referral.id}")
    assert body.status_code == 200, body.json()
    assert body.json()["contact"]["other_wanted_at"] is not None
    # The clinician's page says so too.
    from django.template.loader import render_to_string

    from referrals.web_center import referral_view

    shown = render_to_string("web/referral_progress.html", referral_view(referral))
    assert "la personne a demandé autre chose sur sa page" in shown
    # Once something new is offered, the person may ask again.
    assert "Je voudrais autre chose" in client.get(f"/p/{token}").content.decode()


def pdf_links(pdf: PdfReader) -> list[str]:
    """Every link of a PDF (what a phone's camera reads from its QR codes, too)."""
    return [
        annot.get_object()["/A"]["/URI"]
        for page in pdf.pages
        for annot in page.get("/Annots", [])
        if "/A" in annot.get_object()
    ]


def test_slip_has_a_second_code_only_with_consent(api: ApiClient, catalog: int, media: Any) -> None:
    import io

    referral, token = with_page(api)
    pdf = PdfReader(io.BytesIO(referral.slip.file.read()))
    links = pdf_links(pdf)
    assert any(link.endswith(f"/p/{token}") for link in links)
    assert any("/a/" in link for link in links)
    without = referral_slipped(api)
    pdf = PdfReader(io.BytesIO(without.slip.file.read()))
    links = pdf_links(pdf)
    assert links
    assert not any("/p/" in link for link in links)
    assert len(pdf.pages) == 1


def test_every_word_the_person_reads_is_translated() -> None:
    """Every message and every word of the personal page, in each of the ten languages:
    the French catalogue says where each text is used; each other language's compiled
    catalogue (read with Python's own gettext) must translate those of outreach."""
    import gettext
    from pathlib import Path

    from django.conf import settings

    from core.languages import PATIENT_LANGUAGES, gettext_language

    locale = Path(settings.BASE_DIR) / "locale"
    po = (locale / "fr/LC_MESSAGES/django.po").read_text()
    wanted = set()
    for block in po.split("\n\n"):
        where = " ".join(line for line in block.splitlines() if line.startswith("#:"))
        # What the person reads (the clinician's pages, outreach/web.py, are staff's).
        if not ("outreach/texts.py" in where or "templates/outreach/" in where):
            continue
        if "msgid_plural" in block:
            continue
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        text = "".join(
            line.split('"', 1)[1].rsplit('"', 1)[0]
            for line in lines[
                : next(i for i, line in enumerate(lines) if line.startswith("msgstr"))
            ]
        )
        wanted.add(text.encode().decode("unicode_escape").encode("latin-1").decode())
    assert len(wanted) > 40
    for language in PATIENT_LANGUAGES:
        if language in ("fr", "en"):
            continue
        folder = gettext_language(language).replace("-hans", "_Hans")
        catalog = gettext.translation("django", locale, languages=[folder])
        missing = sorted(m for m in wanted if catalog.gettext(m) == m)
        assert missing == [], (language, missing)
