"""A forgotten password and invitations by e-mail (issue 26, part 1): Django's password
reset through the real SMTP transport (aiosmtpd), the link built on TISSER_PUBLIC_URL,
`tisser create-user --email` sending a link instead of printing a password.

Expected before running: no e-mail without TISSER_SMTP_URL (the page says to ask the
coordinator); the same page whether the address is known or not, and a mail only for a
known one; a link that works once and sets the password (ending a first password's
requirement); the link on TISSER_PUBLIC_URL whatever Host the request names; at most two
mails a minute to one address."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from accounts.keys import health_center_create
from accounts.models import PasswordChangeRequired
from tests.transports import Inbox

pytestmark = pytest.mark.django_db

PUBLIC = "https://tisser.example.org"


@pytest.fixture
def mail(smtp: Inbox, settings: Any) -> Inbox:
    settings.TISSER_PUBLIC_URL = PUBLIC
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    return smtp


def link_in(text: str) -> str:
    found = re.search(r"https://tisser\.example\.org(/accounts/password/reset/\S+/)", text)
    assert found, text
    return found.group(1)


def choose_password(path: str, password: str) -> Client:
    browser = Client()
    opened = browser.get(path)
    assert opened.status_code == 302  # Django moves the token out of the URL
    form = browser.get(opened["Location"])
    assert "new_password1" in form.content.decode()
    saved = browser.post(opened["Location"], {"new_password1": password, "new_password2": password})
    assert saved.status_code == 302
    assert saved["Location"] == "/accounts/password/reset/done/"
    return browser


def test_without_email_the_page_says_to_ask_the_coordinator(client: Client) -> None:
    page = client.get("/accounts/password/reset/")
    assert page.status_code == 200
    assert "Demandez à votre coordinateur" in page.content.decode()
    assert 'href="/accounts/password/reset/"' in client.get("/accounts/login/").content.decode()


def test_an_invitation_sends_a_link_instead_of_a_password(mail: Inbox, client: Client) -> None:
    center, _key = health_center_create(name="Maison de santé Gerland")
    out = StringIO()
    call_command(
        "create_user",
        "c.martin",
        "--center",
        center.name,
        "--email",
        "c.martin@example.org",
        stdout=out,
    )
    printed = out.getvalue()
    assert "Invitation sent to c.martin@example.org" in printed
    assert "First password" not in printed
    user = get_user_model().objects.get(username="c.martin")
    assert not PasswordChangeRequired.objects.filter(user=user).exists()
    (invitation,) = mail.messages
    assert invitation["To"] == "c.martin@example.org"
    assert invitation["Subject"] == "Votre accès à Tisser"
    text = invitation.get_content()
    assert "Maison de santé Gerland" in text
    assert "c.martin" in text
    path = link_in(text)
    choose_password(path, "un-mot-de-passe-solide-42")
    signed = client.post(
        "/accounts/login/", {"username": "c.martin", "password": "un-mot-de-passe-solide-42"}
    )
    assert signed.status_code == 302
    assert signed["Location"] == "/app/"  # no first password to change
    # The link works once.
    again = Client().get(path, follow=True)
    assert "ne fonctionne plus" in again.content.decode()


def test_a_forgotten_password_by_email(mail: Inbox, client: Client) -> None:
    User = get_user_model()
    user = User.objects.create_user("o.durand", email="o.durand@example.org", password="old-pw-1")
    PasswordChangeRequired.objects.create(user=user)
    # Unknown address: the same answer, no e-mail.
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert unknown.status_code == 302
    assert unknown["Location"] == "/accounts/password/reset/sent/"
    assert mail.wait_for(1, timeout=1) == []
    # Known address, asked through another Host: the link is still on the public URL.
    known = client.post(
        "/accounts/password/reset/", {"email": "O.Durand@example.org"}, HTTP_HOST="evil.example"
    )
    assert known["Location"] == "/accounts/password/reset/sent/"
    (sent,) = mail.wait_for(1)
    assert sent["To"] == "o.durand@example.org"
    assert "evil.example" not in sent.get_content()
    choose_password(link_in(sent.get_content()), "encore-un-autre-mot-2")
    user.refresh_from_db()
    assert user.check_password("encore-un-autre-mot-2")
    # A first password's requirement ends: the password is the person's own now.
    assert not PasswordChangeRequired.objects.filter(user=user).exists()


def test_one_address_gets_at_most_two_mails_a_minute(mail: Inbox, client: Client) -> None:
    get_user_model().objects.create_user("a.b", email="a.b@example.org", password="pw-xyz-1")
    for _ in range(5):
        response = client.post("/accounts/password/reset/", {"email": "a.b@example.org"})
        assert response["Location"] == "/accounts/password/reset/sent/"
    mail.wait_for(3, timeout=2)  # a third would be a defect: give it time to come
    assert len(mail.messages) == 2
