"""Web sign-in: an operator creates a person's login for one health centre or one
organisation; the person signs in, sees whom they act for, changes their password,
signs out; French by default, English on request; every field labelled."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.keys import health_center_create
from accounts.models import Membership, PasswordChangeRequired
from community_catalog.services import organization_create

pytestmark = pytest.mark.django_db


def create_user(*args: str) -> str:
    out = StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def signed_in(username: str, password: str) -> Client:
    """A person signed in through the form, past their first password: changing it is
    tested in tests/accounts/test_first_password.py; here it would only cost two
    password hashes per test."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/app/"
    PasswordChangeRequired.objects.filter(user__username=username).delete()
    return client


def labelled(html: str) -> None:
    """Every visible input and select has a <label for> naming it."""
    ids = re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
    assert ids
    for field_id in ids:
        assert f'for="{field_id}"' in html, field_id


def test_a_clinician_signs_in_and_sees_their_centre() -> None:
    health_center_create(name="Maison de santé Gerland")
    password = create_user("c.martin", "--center", "Maison de santé Gerland")

    client = signed_in("c.martin", password)
    home = client.get("/app/")

    assert home.status_code == 200
    text = home.content.decode()
    assert "Bienvenue, c.martin" in text
    assert "centre de santé Maison de santé Gerland" in text
    assert '<html lang="fr">' in text
    membership = Membership.objects.get(user__username="c.martin")
    assert membership.health_center is not None
    assert membership.organization is None


def test_an_organisation_member_signs_in_and_sees_their_organisation() -> None:
    organization_create(name="Centre social Bonnefoi")
    password = create_user("r.diallo", "--org", "Centre social Bonnefoi", "--email", "r@x.org")

    text = signed_in("r.diallo", password).get("/app/").content.decode()

    assert "association Centre social Bonnefoi" in text


def test_the_first_password_is_long_random_and_shown_once() -> None:
    health_center_create(name="Centre A")
    first = create_user("a.one", "--center", "Centre A")
    second = create_user("a.two", "--center", "Centre A")

    assert len(first) >= 16
    assert first != second
    # Only a hash is stored.
    assert first not in Membership.objects.get(user__username="a.one").user.password


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--center", "Nowhere"], "No health centre named"),
        (["x", "--org", "Nobody"], "No organisation named"),
        (["  ", "--center", "Centre A"], "cannot be empty"),
    ],
)
def test_create_user_refuses_what_it_cannot_do(args: list[str], message: str) -> None:
    health_center_create(name="Centre A")
    with pytest.raises(CommandError, match=message):
        create_user(*args)


def test_a_username_is_taken_once_and_a_party_is_required() -> None:
    health_center_create(name="Centre A")
    create_user("dup", "--center", "Centre A")
    with pytest.raises(CommandError, match="exists already"):
        create_user("dup", "--center", "Centre A")
    with pytest.raises(CommandError):
        create_user("nobody-party")


def test_a_wrong_password_is_refused_with_a_message_and_nothing_else() -> None:
    health_center_create(name="Centre A")
    create_user("c.martin", "--center", "Centre A")
    client = Client()

    response = client.post("/accounts/login/", {"username": "c.martin", "password": "nope"})

    assert response.status_code == 200
    text = response.content.decode()
    assert "n'est pas le bon" in text
    assert 'role="alert"' in text
    assert client.get("/app/").status_code == 302


def test_pages_need_a_sign_in_and_sign_out_ends_it() -> None:
    health_center_create(name="Centre A")
    client = signed_in("c.martin", create_user("c.martin", "--center", "Centre A"))
    assert Client().get("/app/")["Location"] == "/accounts/login/?next=/app/"
    assert Client().get("/")["Location"] == "/app/"

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/app/").status_code == 302


def test_the_password_can_be_changed() -> None:
    health_center_create(name="Centre A")
    first = create_user("c.martin", "--center", "Centre A")
    client = signed_in("c.martin", first)
    form = client.get("/accounts/password/").content.decode()
    labelled(form)

    for weak in ("short1", "123456789012345", "c.martin2024"):
        refused = client.post(
            "/accounts/password/",
            {"old_password": first, "new_password1": weak, "new_password2": weak},
        )
        assert refused.status_code == 200, weak
        assert 'role="alert"' in refused.content.decode()

    response = client.post(
        "/accounts/password/",
        {
            "old_password": first,
            "new_password1": "a new long passphrase 42",
            "new_password2": "a new long passphrase 42",
        },
    )

    assert response.status_code == 302
    assert "Mot de passe changé" in client.get(response["Location"]).content.decode()
    client.post("/accounts/logout/")
    signed_in("c.martin", "a new long passphrase 42")
    assert (
        Client().post("/accounts/login/", {"username": "c.martin", "password": first}).status_code
        == 200
    )


def test_an_account_for_no_party_is_sent_to_the_administration(django_user_model: Any) -> None:
    django_user_model.objects.create_user(username="op", password="an operator pass 42")
    client = signed_in("op", "an operator pass 42")

    response = client.get("/app/")

    assert response.status_code == 403
    assert "/admin/" in response.content.decode()


def test_french_by_default_english_on_request_and_every_field_labelled() -> None:
    client = Client()
    french = client.get("/accounts/login/").content.decode()
    assert '<html lang="fr">' in french
    assert "Se connecter" in french
    labelled(french)

    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert switched.status_code == 302
    english = client.get("/accounts/login/").content.decode()

    assert '<html lang="en">' in english
    assert "Sign in" in english
    assert "Se connecter" not in english
    labelled(english)
    # A browser that asks for English gets it before choosing.
    asked = Client().get("/accounts/login/", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in asked.content.decode()
