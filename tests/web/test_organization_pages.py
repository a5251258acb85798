"""An organisation's pages, through Django's test client: the inbox shows its own
placements and only what it needs, answers move them (with the same events as the
API), places left change in one click, activities are confirmed and edited, sessions
and places added, and an HSDS file is previewed before anything is written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.keys import health_center_create
from accounts.models import AuditEntry
from community_catalog.hsds_export import service_export, services_for_export
from community_catalog.models import Location, Organization, Service, ServiceAtLocation
from events.models import Event
from referrals.models import Placement
from tests.conftest import ApiClient, referral_matched
from tests.web.test_accounts import create_user, labelled, signed_in

pytestmark = pytest.mark.django_db
WALKERS = "Marche Solidaire Lyon"
SECRET_BITS = ("veuvage", "pt-0001", "1948", "45.75")


@pytest.fixture
def walkers(catalog: int, media: Any) -> Client:
    return signed_in("o.petit", create_user("o.petit", "--org", WALKERS))


@pytest.fixture
def placement(walkers: Client) -> Placement:
    _center, key = health_center_create(name="Maison de santé Gerland")
    referral = referral_matched(
        ApiClient(key),
        needs=["walking-group"],
        max_distance_km=10,
        note_for_organization="Préfère les petits groupes.",
        do_not_contact=True,
    )
    found = referral.placements.filter(organization__name=WALKERS).first()
    assert found is not None
    return found


def events(placement: Placement) -> list[str]:
    found = Event.objects.filter(aggregate_id=placement.id).order_by("id")
    return list(found.values_list("type", flat=True))


def test_the_inbox_shows_the_person_and_nothing_more(walkers: Client, placement: Placement) -> None:
    html = walkers.get("/app/inbox/").content.decode()
    assert placement.referral.code in html
    assert "Josiane" in html
    assert "Préfère les petits groupes." in html
    assert "Ne contactez pas la personne" in html
    assert "Groupe de marche" in html
    for secret in SECRET_BITS:
        assert secret not in html, secret
    labelled(html)


def test_accept_start_and_complete_from_the_inbox(walkers: Client, placement: Placement) -> None:
    base = f"/app/inbox/{placement.id}"
    # Without JavaScript: a form post, then back to the inbox with a message.
    response = walkers.post(f"{base}/accept/")
    assert response.status_code == 302
    assert walkers.get(response["Location"]).content.decode().count("Josiane : Acceptée.") == 1
    # With htmx: the card comes back in place, announced.
    card = walkers.post(f"{base}/start/", headers={"HX-Request": "true"}).content.decode()
    assert card.startswith(f'<li class="card" id="placement-{placement.id}">')
    assert "Participe" in card
    assert 'role="status"' in card
    walkers.post(f"{base}/complete/", headers={"HX-Request": "true"})
    placement.refresh_from_db()
    assert placement.status == "completed"
    assert events(placement) == [
        "placement.requested",
        "placement.accepted",
        "placement.in-progress",
        "placement.completed",
    ]
    audited = AuditEntry.objects.filter(referral_id=placement.referral_id, username="o.petit")
    assert [(e.action, e.role) for e in audited] == [("change", "organization")] * 3
    assert {e.organization_id for e in audited} == {placement.organization_id}
    # Nothing more can happen: a late click is told so, and changes nothing.
    late = walkers.post(f"{base}/accept/", headers={"HX-Request": "true"}).content.decode()
    assert "modifiée entre-temps" in late
    assert events(placement)[-1] == "placement.completed"


def test_decline_needs_a_reason(walkers: Client, placement: Placement) -> None:
    url = f"/app/inbox/{placement.id}/reject/"
    prefix = str(placement.id)
    card = walkers.post(url, {f"{prefix}-reason": ""}, headers={"HX-Request": "true"})
    assert "Dites pourquoi vous refusez." in card.content.decode()
    placement.refresh_from_db()
    assert placement.status == "requested"

    walkers.post(url, {f"{prefix}-reason": "no-capacity", f"{prefix}-note": "Complet en juin"})
    placement.refresh_from_db()
    assert (placement.status, placement.status_reason, placement.note) == (
        "rejected",
        "no-capacity",
        "Complet en juin",
    )
    assert events(placement)[-1] == "placement.rejected"


def test_another_organisation_cannot_see_or_answer(walkers: Client, placement: Placement) -> None:
    other = signed_in("g.roux", create_user("g.roux", "--org", "Entraide Aidants Rhône"))
    assert placement.referral.code not in other.get("/app/inbox/?show=all").content.decode()
    assert other.post(f"/app/inbox/{placement.id}/accept/").status_code == 404
    placement.refresh_from_db()
    assert placement.status == "requested"
    sal = ServiceAtLocation.objects.filter(service__organization__name=WALKERS).first()
    assert sal is not None
    assert other.post(f"/app/capacity/{sal.id}/full/").status_code == 404
    assert other.get(f"/app/activities/{sal.service_id}/").status_code == 404
    # A clinician is told the page is not theirs.
    center, _ = health_center_create(name="Centre de santé Vaise")
    clinician = signed_in("v.durand", create_user("v.durand", "--center", center.name))
    assert clinician.get("/app/activities/").status_code == 403


def test_full_and_places_available_in_one_click(walkers: Client) -> None:
    sal = ServiceAtLocation.objects.filter(service__organization__name=WALKERS).first()
    assert sal is not None
    html = walkers.get("/app/activities/").content.decode()
    assert sal.service.name in html
    labelled(html)

    fragment = walkers.post(f"/app/capacity/{sal.id}/full/", headers={"HX-Request": "true"})
    assert fragment.content.decode().startswith(f'<li class="card" id="capacity-{sal.id}">')
    assert "Complet" in fragment.content.decode()
    sal.refresh_from_db()
    assert sal.capacity_status == "no-capacity"
    walkers.post(f"/app/capacity/{sal.id}/open/")
    sal.refresh_from_db()
    assert sal.capacity_status == "has-capacity"
    changes = Event.objects.filter(type="capacity.changed", aggregate_id=sal.service_id)
    assert [e.payload["status"] for e in changes.order_by("id")] == ["no-capacity", "has-capacity"]


def test_confirm_edit_and_sessions(walkers: Client) -> None:
    service = Service.objects.filter(organization__name=WALKERS).order_by("name").first()
    assert service is not None
    Service.objects.filter(id=service.id).update(assured_date=None)
    walkers.post(f"/app/activities/{service.id}/confirm/")
    service.refresh_from_db()
    assert service.assured_date == timezone.localdate()

    page = walkers.get(f"/app/activities/{service.id}/")
    assert page.status_code == 200
    labelled(page.content.decode())
    form = {
        "name": "Marche douce du mardi",
        "description": "Une heure de marche tranquille.",
        "taxonomy": ["walking-group", "isolation"],
        "application_process": "Venez au départ.",
        "what_to_bring": "De bonnes chaussures",
        "cost": "free",
        "fees_description": "",
        "status": "active",
        "alert": "",
    }
    assert walkers.post(f"/app/activities/{service.id}/", {**form, "name": ""}).status_code == 422
    # "Free" next to a text with a price: refused, the text named.
    contradicted = walkers.post(
        f"/app/activities/{service.id}/", {**form, "fees_description": "Adhésion 10 €/an"}
    )
    assert contradicted.status_code == 422
    assert "somme à payer" in contradicted.content.decode()
    assert walkers.post(f"/app/activities/{service.id}/", form).status_code == 302
    service.refresh_from_db()
    assert service.name == "Marche douce du mardi"
    assert {t.code for t in service.taxonomy_terms.all()} == {"walking-group", "isolation"}
    assert (service.cost_declared, service.cost) == ("free", "free")
    # "Not said", on purpose: the slip tells the person to ask, whatever the rest says.
    walkers.post(
        f"/app/activities/{service.id}/",
        {**form, "cost": "not-stated", "fees_description": "Participation libre"},
    )
    service.refresh_from_db()
    assert (service.cost_declared, service.cost) == ("not-stated", "not-stated")
    walkers.post(f"/app/activities/{service.id}/", {**form, "cost": "paid"})
    service.refresh_from_db()
    assert (service.cost_declared, service.cost) == ("paid", "paid")

    sal = service.service_at_locations.get()
    before = sal.schedules.count()
    walkers.post(
        f"/app/sessions/{sal.id}/",
        {"byday": ["TU", "TH"], "opens_at": "14:00", "closes_at": "15:30", "interval": "1"},
    )
    added = sal.schedules.get(byday="TU,TH")
    assert (str(added.opens_at), str(added.closes_at)) == ("14:00:00", "15:30:00")
    assert (
        "Mardi, Jeudi · de 14:00 à 15:30 · chaque semaine"
        in walkers.get(f"/app/activities/{service.id}/").content.decode()
    )
    # Ends before it starts: refused, nothing added.
    walkers.post(
        f"/app/sessions/{sal.id}/",
        {"byday": ["MO"], "opens_at": "14:00", "closes_at": "13:00", "interval": "1"},
    )
    assert sal.schedules.count() == before + 1
    walkers.post(f"/app/sessions/{sal.id}/{added.id}/delete/")
    assert sal.schedules.count() == before


def test_a_new_place_and_a_new_activity(walkers: Client) -> None:
    response = walkers.post(
        "/app/places/new/",
        {
            "name": "Salle des fêtes de Vaise",
            "address_1": "12 rue de Bourgogne",
            "postal_code": "69009",
            "city": "Lyon",
            "transportation": "Métro D, Gare de Vaise",
        },
    )
    assert response.status_code == 302
    place = Location.objects.get(name="Salle des fêtes de Vaise")
    assert place.latitude is not None  # from the postcode, so matching can measure
    assert "12 rue de Bourgogne" in walkers.get("/app/places/").content.decode()

    response = walkers.post(
        "/app/activities/new/",
        {
            "name": "Marche du samedi à Vaise",
            "description": "Une marche en groupe.",
            "location": str(place.id),
            "taxonomy": ["walking-group"],
            "cost": "free",
        },
    )
    assert response.status_code == 302
    service = Service.objects.get(name="Marche du samedi à Vaise")
    assert service.organization.name == WALKERS
    assert service.assured_date == timezone.localdate()
    assert service.service_at_locations.get().location == place


def test_import_previews_then_applies(walkers: Client) -> None:
    organization = Organization.objects.get(name=WALKERS)
    service = services_for_export(Service.objects.filter(organization=organization)).first()
    assert service is not None
    document = service_export(service)
    document["name"] = "Nouveau nom depuis le fichier"
    bad = {**document, "id": "not-a-uuid"}
    upload = SimpleUploadedFile(
        "annuaire.json", json.dumps([document, bad]).encode(), content_type="application/json"
    )

    preview = walkers.post("/app/import/", {"file": upload})
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Ce que annuaire.json changerait" in html
    assert "Nouveau nom depuis le fichier" in html
    assert "Écartées (invalides)" in html
    service.refresh_from_db()
    assert service.name != "Nouveau nom depuis le fichier"  # a preview writes nothing

    digest = html.split('name="digest" value="')[1].split('"')[0]
    assert walkers.post("/app/import/apply/", {"digest": "0" * 64}).status_code == 302
    service.refresh_from_db()
    assert service.name != "Nouveau nom depuis le fichier"
    walkers.post("/app/import/apply/", {"digest": digest})
    service.refresh_from_db()
    assert service.name == "Nouveau nom depuis le fichier"
    assert Event.objects.filter(type="service.updated", aggregate_id=service.id).exists()

    not_json = SimpleUploadedFile("x.json", b"{not json", content_type="application/json")
    refused = walkers.post("/app/import/", {"file": not_json})
    assert refused.status_code == 422
    assert "pas un fichier JSON HSDS" in refused.content.decode()
