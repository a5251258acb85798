"""A clinician's pages, through Django's test client: the referral form files the same
referral the API would, sending it twice files one, bad answers are named beside their
field, the progress fragment stops asking once the slip is ready, the slip opens, and
nobody sees another centre's referrals."""

from __future__ import annotations

import re
import uuid
from contextlib import ExitStack
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.keys import health_center_create
from accounts.models import AuditEntry, HealthCenter
from events.models import Event
from referrals.models import Referral
from slips.services import referral_slip_attach
from tests.conftest import ApiClient, referral_body
from tests.conftest import referral_slipped as slipped_through_api
from tests.slips.test_slip_batch import page_drawings, stored_pages
from tests.web.test_accounts import create_user, labelled, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinician(catalog: int, media: Any) -> tuple[Client, ApiClient]:
    center, key = health_center_create(name="Maison de santé Gerland")
    client = signed_in("c.martin", create_user("c.martin", "--center", center.name))
    return client, ApiClient(key)


def form_answers(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "token": str(uuid.uuid4()),
        "first_name": "Josiane",
        "year_of_birth": "1948",
        "preferred_language": "fr",
        "postcode": "69002",
        "needs": ["isolation"],
        "activities": ["walking-group"],
        "availability": ["TU-afternoon", "TH-morning"],
        "max_distance_km": "5",
        "accessibility_needs": ["step-free"],
        "large_print": "on",
        "note_for_patient": "Allez-y une première fois.",
        "note_for_organization": "Préfère les petits groupes.",
        "consent": "on",
        "consent_method": "verbal",
    }
    answers.update(overrides)
    return answers


def test_the_form_files_a_referral_with_every_answer(clinician: tuple[Client, ApiClient]) -> None:
    client, _api = clinician
    page = client.get("/app/referrals/new/")
    assert page.status_code == 200
    html = page.content.decode()
    labelled(html)
    # Needs are plain-language checkboxes from the taxonomy, in the page's language.
    assert 'value="isolation"' in html
    assert "Isolement" in html
    assert "Groupe de marche" in html

    response = client.post("/app/referrals/new/", form_answers())

    assert response.status_code == 302
    referral = Referral.objects.get()
    assert response["Location"] == f"/app/referrals/{referral.id}/"
    assert referral.first_name == "Josiane"
    assert referral.year_of_birth == 1948
    assert referral.postcode == "69002"
    assert referral.latitude is not None  # placed from the postcode
    assert sorted(t.code for t in referral.needs.all()) == ["isolation", "walking-group"]
    assert referral.availability == [
        {"weekday": "TU", "start": "12:00:00", "end": "18:00:00"},
        {"weekday": "TH", "start": "08:00:00", "end": "12:00:00"},
    ]
    assert referral.accessibility_needs == ["step-free"]
    assert referral.large_print
    assert not referral.free_only
    assert referral.note_for_organization == "Préfère les petits groupes."
    assert referral.consent_given
    assert referral.consent_method == "verbal"
    assert referral.clinician_name == "c.martin"
    assert referral.patient_ref.startswith("web-")
    # The same event as a referral filed through the API, in the same transaction.
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.submitted").count() == 1


def test_the_same_form_sent_twice_files_one_referral(clinician: tuple[Client, ApiClient]) -> None:
    client, _api = clinician
    answers = form_answers()
    first = client.post("/app/referrals/new/", answers)
    second = client.post("/app/referrals/new/", answers)
    assert first["Location"] == second["Location"]
    assert Referral.objects.count() == 1
    # Changed and sent again with the same token: still the first referral.
    third = client.post("/app/referrals/new/", {**answers, "first_name": "Josie"})
    assert third["Location"] == first["Location"]
    assert list(Referral.objects.values_list("first_name", flat=True)) == ["Josiane"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"consent": ""}, "consent", "consentement"),
        ({"needs": [], "activities": []}, "needs", "Cochez au moins"),
        ({"postcode": "99999"}, "postcode", "ne connaissons pas ce code postal"),
        ({"year_of_birth": "1850"}, "year_of_birth", "supérieure ou égale à 1900"),
        ({"first_name": ""}, "first_name", "obligatoire"),
        ({"availability": ["XX-morning"]}, "availability", "XX-morning"),
    ],
)
def test_a_bad_answer_is_named_beside_its_field_and_nothing_is_filed(
    clinician: tuple[Client, ApiClient], change: dict[str, Any], field: str, message: str
) -> None:
    client, _api = clinician
    response = client.post("/app/referrals/new/", form_answers(**change))
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    # The summary at the top links to the field.
    assert f'href="#id_{field}' in html or field == "availability"
    assert 'role="alert"' in html
    # What was typed is kept.
    assert "Allez-y une première fois." in html
    assert Referral.objects.count() == 0


def test_progress_updates_itself_until_the_slip_is_ready(
    clinician: tuple[Client, ApiClient],
) -> None:
    client, _api = clinician
    client.post("/app/referrals/new/", form_answers())
    referral = Referral.objects.get()

    page = client.get(f"/app/referrals/{referral.id}/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "htmx" in page  # the script, served by the app itself
    fragment = client.get(
        f"/app/referrals/{referral.id}/?part=progress", headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.startswith('<div id="progress"')
    assert 'hx-trigger="every 2s"' in fragment

    # The pipeline runs (as the actors would, in this thread): the fragment stops asking.
    from referrals.matching_jobs import referral_match
    from slips.services import referral_render_slip

    submitted = Event.objects.get(aggregate_id=referral.id, type="referral.submitted")
    referral_match(referral_id=referral.id, event_id=submitted.id)
    matched = Event.objects.filter(aggregate_id=referral.id, type="referral.matched").get()
    referral_render_slip(referral_id=referral.id, event_id=matched.id)

    fragment = client.get(
        f"/app/referrals/{referral.id}/?part=progress", headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in fragment
    assert "Le bon est prêt" in fragment
    assert f"/app/referrals/{referral.id}/slip.pdf" in fragment
    slip = client.get(f"/app/referrals/{referral.id}/slip.pdf")
    assert slip.status_code == 200
    assert slip["Content-Type"] == "application/pdf"
    assert slip.getvalue().startswith(b"%PDF")
    download = client.get(f"/app/referrals/{referral.id}/slip.pdf?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


def test_the_list_shows_stage_placements_and_outcome(clinician: tuple[Client, ApiClient]) -> None:
    client, api = clinician
    referral = slipped_through_api(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.first()
    assert placement is not None
    placement.status = "completed"
    placement.save(update_fields=["status"])

    html = client.get("/app/referrals/").content.decode()
    assert referral.code in html
    assert "Bon prêt" in html
    assert placement.match.service_at_location.service.name in html
    assert "Terminé" in html
    only_ready = client.get("/app/referrals/?stage=unmatched").content.decode()
    assert referral.code not in only_ready


def test_today_s_slips_print_in_one_document(clinician: tuple[Client, ApiClient]) -> None:
    client, api = clinician
    empty = client.get("/app/slips/today.pdf")
    assert empty.status_code == 302  # back to the list, with a word why
    for name in ("Josiane", "Marcel"):
        slipped_through_api(api, first_name=name)
    response = client.get("/app/slips/today.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_today_s_slips_are_the_stored_ones_a_couple_at_a_time(
    clinician: tuple[Client, ApiClient],
) -> None:
    client, api = clinician
    filed = [slipped_through_api(api, first_name=name) for name in ("Josiane", "Marcel")]
    # A new render would print the new name: the batch is the slips as they were handed.
    HealthCenter.objects.filter(id=filed[0].health_center_id).update(name="Centre renommé")
    response = client.get("/app/slips/today.pdf")
    assert response.status_code == 200
    assert page_drawings(response.content) == stored_pages(filed)
    assert "no-store" in response["Cache-Control"]

    from slips.batch import BATCH_CONCURRENCY, batch_slot

    slip = filed[1].slip  # a new version: a batch to put together again
    with slip.file.open("rb") as file:
        referral_slip_attach(
            referral_id=filed[1].id,
            event_id=(slip.event_id or 0) + 1,
            pdf=file.read(),
            language=slip.language,
            render_ms=1.0,
        )
    user = User.objects.get(username="c.martin")
    with ExitStack() as held:
        for _ in range(BATCH_CONCURRENCY):  # this person's batches still being put together
            held.enter_context(batch_slot(f"user:{user.pk}"))
        busy = client.get("/app/slips/today.pdf")
        assert busy.status_code == 429
        assert int(busy["Retry-After"]) > 0
        assert "text/html" in busy["Content-Type"]
        assert 'href="/app/referrals/"' in busy.content.decode()  # a way back
    assert client.get("/app/slips/today.pdf").status_code == 200


def test_cancel_from_the_page(clinician: tuple[Client, ApiClient]) -> None:
    client, api = clinician
    referral = slipped_through_api(api, needs=["walking-group"], max_distance_km=10)
    response = client.post(f"/app/referrals/{referral.id}/cancel/", {"reason": "Déménage"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == "revoked"
    assert referral.cancel_reason == "Déménage"
    assert all(p.status == "cancelled" for p in referral.placements.all())
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.cancelled").count() == 1


def test_nobody_sees_another_centre_s_referrals(clinician: tuple[Client, ApiClient]) -> None:
    client, api = clinician
    referral = slipped_through_api(api)
    other_center, _ = health_center_create(name="Centre de santé Vaise")
    other = signed_in("v.durand", create_user("v.durand", "--center", other_center.name))
    for path in ("", "slip.pdf", "?part=progress"):
        assert other.get(f"/app/referrals/{referral.id}/{path}").status_code == 404
    assert other.post(f"/app/referrals/{referral.id}/cancel/").status_code == 404
    assert referral.code not in other.get("/app/referrals/").content.decode()
    # An organisation's member is told these pages are not theirs.
    organization_member = signed_in(
        "o.petit", create_user("o.petit", "--org", "Marche Solidaire Lyon")
    )
    assert organization_member.get("/app/referrals/").status_code == 403
    assert client.get("/app/inbox/").status_code == 403


def test_every_page_is_in_english_on_request(clinician: tuple[Client, ApiClient]) -> None:
    client, _api = clinician
    client.post("/i18n/setlang/", {"language": "en", "next": "/app/referrals/new/"})
    html = client.get("/app/referrals/new/").content.decode()
    assert '<html lang="en">' in html
    assert "File a referral" in html
    assert "Loneliness and isolation" in html
    assert not re.search(r"Déposer|Isolement", html)


def test_who_read_and_changed_a_referral_on_the_web_is_audited(
    clinician: tuple[Client, ApiClient],
) -> None:
    client, api = clinician
    referral = slipped_through_api(api, needs=["walking-group"], max_distance_km=10)
    client.get(f"/app/referrals/{referral.id}/")
    client.get(f"/app/referrals/{referral.id}/slip.pdf")
    client.post(f"/app/referrals/{referral.id}/cancel/")
    web = AuditEntry.objects.filter(referral_id=referral.id, username="c.martin")
    assert [(e.action, e.method, e.role, e.key_prefix) for e in web] == [
        ("read", "GET", "health_center", ""),
        ("read", "GET", "health_center", ""),
        ("change", "POST", "health_center", ""),
    ]
    assert {e.health_center_id for e in web} == {referral.health_center_id}
    # A page refused to another centre leaves a `refused` entry: a probe is recorded.
    other = health_center_create(name="Centre de santé Vaise")[0]
    outsider = signed_in("v.durand", create_user("v.durand", "--center", other.name))
    assert outsider.get(f"/app/referrals/{referral.id}/").status_code == 404
    probe = AuditEntry.objects.filter(referral_id=referral.id, username="v.durand").get()
    assert (probe.action, probe.status, probe.health_center_id) == ("refused", 404, other.id)


def test_the_list_pages_by_25_newest_first(clinician: tuple[Client, ApiClient]) -> None:
    client, api = clinician
    for i in range(26):
        response = api.post("/api/v1/referrals", referral_body(first_name=f"Personne{i:02d}"))
        assert response.status_code == 202
    first = client.get("/app/referrals/").content.decode()
    assert "Personne25" in first
    assert "Personne00" not in first
    assert 'href="?stage=&amp;page=2"' in first
    second = client.get("/app/referrals/?stage=&page=2").content.decode()
    assert "Personne00" in second
    assert "Page 2 sur 2" in second


def test_the_person_withdraws_consent_from_the_referral_s_page(
    clinician: tuple[Client, ApiClient],
) -> None:
    client, api = clinician
    referral = slipped_through_api(api, needs=["walking-group"], max_distance_km=10)
    page = client.get(f"/app/referrals/{referral.id}/").content.decode()
    assert "La personne retire son consentement" in page
    labelled(page)

    # Without the confirmation box: nothing happens.
    client.post(f"/app/referrals/{referral.id}/consent/withdraw/")
    referral.refresh_from_db()
    assert referral.consent_withdrawn_at is None

    response = client.post(f"/app/referrals/{referral.id}/consent/withdraw/", {"confirm": "yes"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.consent_withdrawn_at is not None
    assert referral.purged_at is not None
    assert referral.first_name == ""
    assert referral.status == "revoked"
    assert all(p.status == "cancelled" for p in referral.placements.all())
    page = client.get(f"/app/referrals/{referral.id}/").content.decode()
    assert "Consentement retiré" in page
    assert "effacées" in page
    assert "retire son consentement" not in page  # done: the form is gone
    assert client.get(f"/app/referrals/{referral.id}/slip.pdf").status_code == 302
    # Another centre cannot.
    other_center, _ = health_center_create(name="Centre de santé Vaise")
    other = signed_in("v.durand", create_user("v.durand", "--center", other_center.name))
    assert (
        other.post(
            f"/app/referrals/{referral.id}/consent/withdraw/", {"confirm": "yes"}
        ).status_code
        == 404
    )


def test_the_form_takes_contact_details_and_their_own_consent(
    clinician: tuple[Client, ApiClient],
) -> None:
    """Issue 25: an e-mail address, a mobile number and the consent to messages, apart
    from the referral's consent; a wrong address is shown at its field."""
    from referrals.models import Contact

    client, _api = clinician
    wrong = client.post(
        "/app/referrals/new/",
        form_answers(contact_email="not an address", messages_consent="on"),
    )
    assert wrong.status_code == 422
    assert "contact_email" in wrong.context["form"].errors
    assert not Referral.objects.exists()
    filed = client.post(
        "/app/referrals/new/",
        form_answers(
            contact_email="josiane@example.org",
            contact_phone="06 12 34 56 78",
            messages_consent="on",
        ),
    )
    assert filed.status_code == 302
    contact = Contact.objects.get()
    assert contact.email == "josiane@example.org"
    assert contact.phone == "+33612345678"
    assert contact.messages_consent
    assert contact.messages_consent_method == "verbal"
    assert contact.page_token
    # An address without the consent: refused at the consent's box, nothing kept.
    refused = client.post(
        "/app/referrals/new/", form_answers(contact_email="autre@example.org", first_name="Jo")
    )
    assert refused.status_code == 422
    assert "messages_consent" in refused.context["form"].errors
    assert not Contact.objects.filter(email="autre@example.org").exists()


def test_the_list_finds_a_person_by_first_name_or_code(
    clinician: tuple[Client, ApiClient],
) -> None:
    """Issue 26, item 6: "who needs me?" — a first name (part of it, any case) or the code
    as printed on the slip (with or without its dash); a cancelled referral shows as
    cancelled and offers no slip."""
    client, api = clinician
    from tests.conftest import referral_slipped

    josiane = referral_slipped(api, first_name="Josiane")
    karim = referral_slipped(api, first_name="Karim", patient_ref="pt-0002")
    by_name = client.get("/app/referrals/?q=josi").content.decode()
    assert josiane.code in by_name
    assert karim.code not in by_name
    bare = karim.code.replace("-", "").lower()
    by_code = client.get(f"/app/referrals/?q={bare}").content.decode()
    assert karim.code in by_code
    assert josiane.code not in by_code
    assert (
        "Aucune orientation ne correspond." in client.get("/app/referrals/?q=zz").content.decode()
    )
    # Cancelled: the badge says so, and no slip is offered, in the list or on its page.
    assert api.post(f"/api/v1/referrals/{karim.id}/cancel", {}).status_code == 200
    listed = client.get(f"/app/referrals/?q={karim.code}").content.decode()
    assert '<span class="badge bad">Annulée</span>' in listed
    assert f"/app/referrals/{karim.id}/slip.pdf" not in listed
    page = client.get(f"/app/referrals/{karim.id}/").content.decode()
    assert "son bon n\N{RIGHT SINGLE QUOTATION MARK}est plus à remettre" in page
    assert f"/app/referrals/{karim.id}/slip.pdf" not in page
