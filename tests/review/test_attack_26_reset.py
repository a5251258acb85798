"""Review 39 (issue 26 part 1): reproductions for the password reset and invitations.
Each test asserts the behaviour one would expect; a failure is the defect."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from accounts.keys import health_center_create
from core.logs import path_redacted
from tests.transports import Inbox

pytestmark = pytest.mark.django_db

PUBLIC = "https://tisser.example.org"


class SlowInbox(Inbox):
    """An SMTP relay that takes DELAY seconds to accept a message (a real relay over
    TLS with authentication takes a few hundred milliseconds to seconds)."""

    DELAY = 0.8

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.DELAY)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_mail(settings: Any) -> Iterator[SlowInbox]:
    inbox = SlowInbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.TISSER_SMTP_URL = f"smtp://127.0.0.1:{port}"
    settings.TISSER_MAIL_FROM = settings.DEFAULT_FROM_EMAIL = "Tisser <no-reply@example.org>"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.TISSER_PUBLIC_URL = PUBLIC
    yield inbox
    controller.stop()


@pytest.fixture
def mail(smtp: Inbox, settings: Any) -> Inbox:
    settings.TISSER_PUBLIC_URL = PUBLIC
    return smtp


def test_the_reset_page_answers_as_fast_for_a_known_address_as_for_an_unknown_one(
    slow_mail: SlowInbox,
) -> None:
    """F1: the mail is sent inside the request, so a known address answers only after
    the SMTP relay has accepted it: the response time says which addresses have a
    sign-in, although the page's text is the same."""
    get_user_model().objects.create_user("gp", email="gp@example.org", password="pw-1234-x")

    def timed(address: str) -> float:
        started = time.perf_counter()
        response = Client().post("/accounts/password/reset/", {"email": address})
        assert response["Location"] == "/accounts/password/reset/sent/"
        return time.perf_counter() - started

    timed("warm-up@example.org")  # the first request loads templates and translations
    unknown = min(timed(f"nobody{i}@example.org") for i in range(2))
    known = timed("gp@example.org")
    assert len(slow_mail.wait_for(1)) == 1
    assert known < unknown + 0.2, f"known {known:.3f} s vs unknown {unknown:.3f} s"


def test_a_reset_or_invitation_token_never_reaches_a_log_line(mail: Inbox, client: Client) -> None:
    """F2: the access log writes `path_redacted(PATH_INFO)` (workers/server.py); only
    /p/<token> is redacted, so the first GET of an invitation or reset link is logged
    with its token, which sets the account's password for three days."""
    center, _ = health_center_create(name="MSP Gerland")
    call_command(
        "create_user",
        "c.martin",
        "--center",
        center.name,
        "--email",
        "c@example.org",
        stdout=StringIO(),
    )
    (invitation,) = mail.messages
    found = re.search(
        r"https://tisser\.example\.org(/accounts/password/reset/\S+/)", invitation.get_content()
    )
    assert found
    path = found.group(1)
    logged = path_redacted(f"GET {path} HTTP/1.1")  # what gunicorn's access log writes
    token = path.rstrip("/").rsplit("/", 1)[-1]
    assert token not in logged, f"the access log line holds the token: {logged}"
    # Whoever reads the log line cannot set the account's password with it.
    reader = Client()
    found_path = re.search(r"GET (\S+) ", logged)
    assert found_path
    opened = reader.get(found_path.group(1), follow=True)
    assert "new_password1" not in opened.content.decode()


def test_the_two_a_minute_limit_holds_for_unicode_variants_of_the_address(
    mail: Inbox, client: Client
) -> None:
    """F3: the limit's key is `address.strip().lower()`, but Django finds the user with
    `email__iexact` (PostgreSQL UPPER) and NFKC + casefold: the long s (U+017F, LATIN SMALL
    LETTER LONG S) passes the form's EmailField, is its own lower case, and UPPERs and
    NFKC-folds to 's'. Each 's' of the address doubles the mails an attacker may send."""
    get_user_model().objects.create_user("s", email="sos@sante.fr", password="pw-1234-x")
    LONG_S = "\N{LATIN SMALL LETTER LONG S}"
    variants = [
        "sos@sante.fr",
        "\N{LATIN SMALL LETTER LONG S}os@sante.fr",
        "so\N{LATIN SMALL LETTER LONG S}@sante.fr",
        "\N{LATIN SMALL LETTER LONG S}o\N{LATIN SMALL LETTER LONG S}@sante.fr",
        "sos@\N{LATIN SMALL LETTER LONG S}ante.fr",
        "\N{LATIN SMALL LETTER LONG S}os@\N{LATIN SMALL LETTER LONG S}ante.fr",
        "so\N{LATIN SMALL LETTER LONG S}@\N{LATIN SMALL LETTER LONG S}ante.fr",
        LONG_S + "o" + LONG_S + "@" + LONG_S + "ante.fr",
    ]
    for address in variants:
        for _ in range(2):
            response = client.post("/accounts/password/reset/", {"email": address})
            assert response["Location"] == "/accounts/password/reset/sent/"
    mail.wait_for(3, timeout=2)  # a third would be a defect: give it time to come
    assert {m["To"] for m in mail.messages} == {"sos@sante.fr"}
    assert len(mail.messages) <= 2


def test_a_forgotten_password_lets_a_locked_out_person_back_in(
    mail: Inbox, client: Client, settings: Any
) -> None:
    """F8: ten wrong guesses at a username (anyone can make them) lock it out; the
    person uses 'Forgotten password?', chooses a new password... and is still refused
    until the lockout ends: the reset does not clear the username's failures."""
    User = get_user_model()
    User.objects.create_user("v.bene", email="v@example.org", password="old-pw-1234")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR="203.0.113.9").post(
            "/accounts/login/", {"username": "v.bene", "password": "wrong"}
        )
    client.post("/accounts/password/reset/", {"email": "v@example.org"})
    (sent,) = mail.wait_for(1)
    found = re.search(
        r"https://tisser\.example\.org(/accounts/password/reset/\S+/)", sent.get_content()
    )
    assert found
    path = found.group(1)
    browser = Client()
    opened = browser.get(path)
    browser.post(
        opened["Location"],
        {"new_password1": "neuf-et-solide-77", "new_password2": "neuf-et-solide-77"},
    )
    assert User.objects.get(username="v.bene").check_password("neuf-et-solide-77")
    signed = browser.post(
        "/accounts/login/", {"username": "v.bene", "password": "neuf-et-solide-77"}
    )
    assert signed.status_code == 302, signed.status_code
