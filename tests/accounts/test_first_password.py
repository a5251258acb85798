"""A first password is printed by `tisser create-user`, so whoever ran the command knows
it: the person must choose their own before any other page, through the real forms."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.keys import health_center_create
from referrals.models import Referral
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


def test_the_first_password_typed_again_is_not_a_password_of_ones_own() -> None:
    client, first = first_sign_in()

    same = client.post(
        "/accounts/password/",
        {"old_password": first, "new_password1": first, "new_password2": first},
    )

    assert same.status_code == 200
    assert "new_password1" in same.context["form"].errors
    assert client.get("/app/")["Location"] == "/accounts/password/"


def test_guessing_the_current_password_on_the_change_form_is_throttled_too() -> None:
    """Whoever holds a session (a shared reception computer) must not try passwords on
    the change form without limit: it counts as failed sign-ins, and the lockout ends
    the session."""
    client, first = first_sign_in()
    for attempt in range(10):
        guess = client.post(
            "/accounts/password/",
            {"old_password": f"guess {attempt}", "new_password1": OWN, "new_password2": OWN},
        )
        if guess.status_code == 429:
            break
        assert guess.status_code == 200
    else:
        raise AssertionError("ten wrong current passwords were all let through")
    right = client.post(
        "/accounts/password/",
        {"old_password": first, "new_password1": OWN, "new_password2": OWN},
    )
    assert right.status_code in (302, 429)
    assert right.status_code == 429 or right["Location"].startswith("/accounts/login/")
    assert client.get("/app/").status_code == 302
    assert client.get("/app/")["Location"].startswith("/accounts/login/")
