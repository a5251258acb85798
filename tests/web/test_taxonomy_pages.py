"""An operator's pages for the taxonomy and the other directories' terms: staff only,
every change through the same services as the API, suggestions never applied by
themselves."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from community_catalog.models import Crosswalk, ForeignTerm, Service, TaxonomyTerm
from community_catalog.services import organization_create
from matching.index import match_points_refresh
from matching.models import MatchPoint
from tests.community_catalog.directory import CITY, directory_import, directory_term
from tests.web.test_accounts import create_user, labelled, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(User.objects.create_user("coordination", is_staff=True))
    return client


@pytest.fixture
def pairs() -> Service:
    organization = organization_create(name="Maison de quartier")[0]
    return directory_import(
        organization, directory_term("binomes", "Binômes d'entraide"), name="Binômes"
    )


def test_the_pages_are_for_staff_only(catalog: int) -> None:
    password = create_user("o.petit", "--org", "Marche Solidaire Lyon")
    member = signed_in("o.petit", password)
    for page in ("/app/taxonomy/", "/app/taxonomy/term/isolation/", "/app/crosswalks/"):
        assert member.get(page).status_code == 403
        assert Client().get(page).status_code == 302  # to the sign-in page
    assert member.post("/app/crosswalks/set/", {"code": "x"}).status_code == 403


def test_an_operator_changes_the_activities_answering_a_need(staff: Client) -> None:
    page = staff.get("/app/taxonomy/")
    assert page.status_code == 200
    assert "Isolement" in page.content.decode()
    edit = staff.get("/app/taxonomy/term/caring-burden/")
    labelled(edit.content.decode())
    response = staff.post(
        "/app/taxonomy/term/caring-burden/",
        {
            "name_fr": "Épuisement d'aidant",
            "name_en": "Caring burden",
            "parent": "needs",
            "active": "on",
            "activities": ["talk-group", "gardening"],
        },
    )
    assert response.status_code == 302
    need = TaxonomyTerm.objects.get(code="caring-burden")
    assert {a.code for a in need.activities.all()} == {"talk-group", "gardening"}


def test_an_operator_adds_a_term_with_a_code_for_good(staff: Client) -> None:
    response = staff.post(
        "/app/taxonomy/new/",
        {
            "code": "choir",
            "kind": "activity",
            "name_fr": "Chorale",
            "name_en": "Choir",
            "parent": "creative",
        },
    )
    assert response.status_code == 302
    parent = TaxonomyTerm.objects.get(code="choir").parent
    assert parent is not None
    assert parent.code == "creative"
    again = staff.post(
        "/app/taxonomy/new/",
        {"code": "choir", "kind": "activity", "name_fr": "Chorale", "name_en": "Choir"},
    )
    assert again.status_code == 422
    assert "choir" in again.content.decode()


def test_unmapped_terms_come_with_suggestions_the_operator_must_tick(
    staff: Client, pairs: Service
) -> None:
    html = staff.get("/app/crosswalks/").content.decode()
    assert "Binômes d&#x27;entraide" in html
    assert 'value="peer-support"' in html
    # Shown, not applied.
    assert not Crosswalk.objects.filter(taxonomy=CITY).exists()
    point = MatchPoint.objects.get(service_key=str(pairs.id))
    assert point.codes == ""
    assert point.unmapped
    response = staff.post(
        "/app/crosswalks/set/",
        {
            "prefix": "t0",
            "t0-taxonomy": CITY,
            "t0-code": "binomes",
            "t0-label": "Binômes d'entraide",
            "t0-tisser_codes": ["peer-support"],
        },
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.codes == ",peer-support,"
    assert not point.unmapped
    listed = staff.get("/app/crosswalks/").content.decode()
    assert "Binômes d&#x27;entraide" in listed  # now among the mappings, with a remove button
    staff.post("/app/crosswalks/remove/", {"taxonomy": CITY, "code": "binomes"})
    point.refresh_from_db()
    assert point.codes == ""
    assert point.unmapped


def test_no_correspondence_is_a_choice_too(staff: Client, pairs: Service) -> None:
    staff.post(
        "/app/crosswalks/set/",
        {"prefix": "t0", "t0-taxonomy": CITY, "t0-code": "binomes", "t0-none": "1"},
    )
    crosswalk = Crosswalk.objects.get(taxonomy=CITY, code="binomes")
    assert not crosswalk.terms.exists()
    assert (
        "0 terms not mapped yet"
        in staff.get("/app/crosswalks/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )


def test_an_automatic_mapping_is_shown_and_can_be_overridden_from_the_page(
    staff: Client, pairs: Service
) -> None:
    # Another service of the same directory says "gardening", Tisser's own code.
    garden = MatchPoint.objects.get(service_key=str(pairs.id))
    term = ForeignTerm.objects.create(taxonomy=CITY, code="gardening", label="Jardins")
    pairs.foreign_terms.add(term)
    match_points_refresh([pairs.id])
    garden.refresh_from_db()
    assert garden.codes == ",gardening,"
    html = staff.get("/app/crosswalks/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "automatic" in html
    staff.post(
        "/app/crosswalks/set/",
        {"prefix": "m0", "m0-taxonomy": CITY, "m0-code": "gardening", "m0-none": "1"},
    )
    garden.refresh_from_db()
    assert garden.codes == ""
