"""The public activity page: what a slip's QR code opens, for anyone, without sign-in."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from community_catalog.models import Service, ServiceAtLocation
from community_catalog.services import (
    capacity_set,
    service_delete,
    service_status_set,
    service_update,
)
from slips.content import public_activity_url
from tests.conftest import ApiClient, referral_slipped

pytestmark = pytest.mark.django_db


def _open_sal() -> ServiceAtLocation:
    sal = (
        ServiceAtLocation.objects.filter(
            location__is_confidential=False,
            service__status=Service.Status.ACTIVE,
            location__addresses__isnull=False,
        )
        .select_related("service__organization", "location")
        .order_by("service__name")
        .first()
    )
    assert sal is not None
    return sal


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_page_says_what_where_when_and_who_to_call(catalog: int) -> None:
    sal = _open_sal()
    response = Client().get(f"/a/{sal.id}")
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    service, location = sal.service, sal.location
    assert service.name in text
    assert service.organization.name in text
    address = location.physical_address
    assert address is not None
    assert address.one_line() in text
    assert "Prochaines séances" in text
    assert "Prix" in text
    assert 'href="tel:' in html
    assert "openstreetmap.org/?mlat=" in html
    # Public and cacheable, with no cookie: nobody signs in and nothing follows them.
    assert response.cookies == {}
    assert "public" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert '<html lang="fr">' in html


def test_the_page_speaks_english_on_request(catalog: int) -> None:
    sal = _open_sal()
    asked = Client().get(f"/a/{sal.id}?lang=en")
    assert "Next sessions" in asked.content.decode()
    assert '<html lang="en">' in asked.content.decode()
    browser = Client(headers={"accept-language": "en-GB,en;q=0.9"}).get(f"/a/{sal.id}")
    assert "Next sessions" in browser.content.decode()
    assert browser["Content-Language"] == "en"


def test_a_confidential_place_keeps_its_address_off_the_page(catalog: int) -> None:
    sal = ServiceAtLocation.objects.filter(location__is_confidential=True).first()
    assert sal is not None, "the demo catalogue has a confidential place"
    html = Client().get(f"/a/{sal.id}").content.decode()
    assert "gardé confidentiel" in _text(html)
    address = sal.location.physical_address
    assert address is not None, "the demo's confidential place has an address, to hide"
    assert address.address_1 not in html
    assert "openstreetmap" not in html
    assert str(round(sal.location.latitude or 0, 3)) not in html


def test_the_page_shows_no_patient_data(api: ApiClient, catalog: int, media: Any) -> None:
    referral = referral_slipped(
        api, first_name="Bérénice", patient_ref="pat-7f3a9c", note_for_patient="Courage !"
    )
    match = referral.matches.select_related("service_at_location").first()
    assert match is not None
    path = public_activity_url(match.service_at_location_id).split("://", 1)[1]
    path = path[path.index("/") :]
    html = Client().get(path).content.decode()
    for private in ("Bérénice", "pat-7f3a9c", "Courage", referral.code):
        assert private not in html


def test_an_edit_shows_on_the_next_visit(catalog: int) -> None:
    sal = _open_sal()
    client = Client()
    with CaptureQueriesContext(connection) as first:
        assert client.get(f"/a/{sal.id}").status_code == 200
    with CaptureQueriesContext(connection) as kept:
        assert client.get(f"/a/{sal.id}").status_code == 200
    assert len(first.captured_queries) > 5
    assert len(kept.captured_queries) == 1  # the catalogue's version; the page is kept
    service_update(
        organization=sal.service.organization,
        service_id=sal.service_id,
        changes={"name": "Atelier renommé"},
    )
    assert "Atelier renommé" in client.get(f"/a/{sal.id}").content.decode()
    capacity_set(
        organization=sal.service.organization,
        sal_id=sal.id,
        status=ServiceAtLocation.CapacityStatus.NO_CAPACITY,
        available=None,
        maximum=None,
        fields_set={"status"},
    )
    assert "Le groupe est complet" in _text(client.get(f"/a/{sal.id}").content.decode())
    service_status_set(
        organization=sal.service.organization,
        service_id=sal.service_id,
        status=Service.Status.TEMPORARILY_CLOSED,
        alert="Travaux jusqu'en janvier.",
    )
    text = _text(client.get(f"/a/{sal.id}").content.decode())
    assert "Fermé pour le moment." in text
    assert "Travaux jusqu'en janvier." in text


def test_a_stopped_activity_answers_404_with_a_way_forward(
    api: ApiClient, catalog: int, media: Any
) -> None:
    referral = referral_slipped(api)
    match = referral.matches.select_related("service_at_location__service").first()
    assert match is not None
    sal = match.service_at_location
    outcome = service_delete(organization=sal.service.organization, service_id=sal.service_id)
    assert outcome["deleted"] is False  # people were referred to it: kept, inactive
    response = Client().get(f"/a/{sal.id}")
    assert response.status_code == 404
    html = response.content.decode()
    assert "n'est plus proposée" in _text(html)
    assert "code" in _text(html)  # the slip's code, to give the health centre
    others = re.findall(r'href="/a/([0-9a-f-]{36})\?lang=fr"', html)
    assert others, "activities of the same kind are offered"
    kinds = set(sal.service.taxonomy_terms.values_list("id", flat=True))
    for other in others:
        other_sal = ServiceAtLocation.objects.get(id=other)
        assert other_sal.service.status == Service.Status.ACTIVE
        assert kinds & set(other_sal.service.taxonomy_terms.values_list("id", flat=True))


def test_an_unknown_activity_answers_404_with_advice(db: None) -> None:
    response = Client().get(f"/a/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "centre de santé" in _text(response.content.decode())
    assert Client().post(f"/a/{uuid.uuid4()}").status_code == 405
