"""A signed-in session ends after TISSER_SESSION_IDLE_MINUTES without a request, and
TISSER_SESSION_MAX_HOURS after the sign-in however busy it was: a computer left signed
in at a reception desk does not stay open for days."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "an operator passphrase 42"


@pytest.fixture
def client(django_user_model: type[User]) -> Client:
    django_user_model.objects.create_user("op", password=PASSWORD)
    client = Client()
    response = client.post("/accounts/login/", {"username": "op", "password": PASSWORD})
    assert response.status_code == 302
    return client


def signed_in(client: Client) -> bool:
    # The password page is for signed-in people only.
    return client.get("/accounts/password/").status_code == 200


def test_a_session_ends_after_the_idle_minutes_and_each_request_extends_it(
    client: Client, settings: Any
) -> None:
    expires = Session.objects.get().expire_date
    assert expires < timezone.now() + timedelta(days=1)  # not Django's two weeks
    idle = timedelta(minutes=settings.TISSER_SESSION_IDLE_MINUTES)
    assert abs(expires - (timezone.now() + idle)) < timedelta(minutes=1)
    assert client.cookies["sessionid"]["max-age"] == idle.total_seconds()

    # Idle all but a minute: the next request starts a new idle period.
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=1))
    assert signed_in(client)
    assert Session.objects.get().expire_date > timezone.now() + idle - timedelta(minutes=1)

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert not signed_in(client)


def test_a_session_ends_hours_after_the_sign_in_however_busy(client: Client, settings: Any) -> None:
    assert signed_in(client)
    from accounts.middleware import SIGNED_IN_AT

    session = client.session
    hours = settings.TISSER_SESSION_MAX_HOURS
    session[SIGNED_IN_AT] = int(time.time() - hours * 3600 + 60)
    session.save()
    assert signed_in(client)  # a minute left

    session[SIGNED_IN_AT] = int(time.time() - hours * 3600 - 1)
    session.save()
    response = client.get("/app/", headers={"Accept-Language": "en"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/app/"
    assert not signed_in(client)
    page = client.get(response["Location"], headers={"Accept-Language": "en"})
    assert "sign in again" in page.content.decode()


def test_a_session_ended_while_idle_is_explained_on_the_sign_in_page(client: Client) -> None:
    """The GP comes back after lunch: the page asks to sign in again and says why. The
    browser's session cookie has expired, so the server has nothing left of it."""
    assert signed_in(client)
    del client.cookies["sessionid"]
    Session.objects.all().delete()

    response = client.get("/app/referrals/", headers={"Accept-Language": "en"})
    assert response.status_code == 302
    page = client.get(response["Location"], headers={"Accept-Language": "en"})
    assert "Your session has ended" in page.content.decode()


def test_signing_out_is_not_called_a_session_that_ended(client: Client) -> None:
    assert signed_in(client)
    client.post("/accounts/logout/")
    response = client.get("/app/referrals/", headers={"Accept-Language": "en"})
    page = client.get(response["Location"], headers={"Accept-Language": "en"})
    assert "Your session has ended" not in page.content.decode()
