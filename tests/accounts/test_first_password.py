"""A first password is printed by `tisser create-user`, so whoever ran the command knows
it: the person must choose their own before any other page, through the real forms."""

from __future__ import annotations

import pytest
from django.test import Client

from referrals.models import Referral
from referrals.services import health_center_create
from tests.web.test_accounts import create_user

pytestmark = pytest.mark.django_db

OWN = "a passphrase of my own 42"


def first_sign_in() -> tuple[Client, str]:
    health_center_create(name="Centre A")
    first = create_user("c.martin", "--center", "Centre A")
    client = Client(headers={"Accept-Language": "en"})
    response = client.post("/accounts/login/", {"username": "c.martin", "password": first})
    assert response.status_code == 302
    return client, first


def test_every_page_sends_a_first_password_to_be_changed() -> None:
    client, _first = first_sign_in()

    for page in ("/app/", "/app/referrals/", "/app/referrals/new/", "/admin/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == "/accounts/password/", page
    filed = client.post("/app/referrals/new/", {"first_name": "Josiane"})
    assert filed["Location"] == "/accounts/password/"
    assert Referral.objects.count() == 0
    form = client.get("/accounts/password/")
    assert form.status_code == 200
    assert "Choose a password of your own" in form.content.decode()


def test_once_changed_the_pages_open_and_stay_open() -> None:
    client, first = first_sign_in()

    changed = client.post(
        "/accounts/password/",
        {"old_password": first, "new_password1": OWN, "new_password2": OWN},
    )

    assert changed.status_code == 302
    assert client.get("/app/").status_code == 200
    client.post("/accounts/logout/")
    again = Client()
    again.post("/accounts/login/", {"username": "c.martin", "password": OWN})
    assert again.get("/app/").status_code == 200


def test_a_refused_new_password_keeps_the_requirement() -> None:
    client, first = first_sign_in()

    refused = client.post(
        "/accounts/password/",
        {"old_password": first, "new_password1": "short1", "new_password2": "short1"},
    )

    assert refused.status_code == 200
    assert client.get("/app/")["Location"] == "/accounts/password/"
