"""Sign-in throttle: after TISSER_SIGNIN_FAILURE_LIMIT (10) failed sign-ins for one
username, or from one address, within TISSER_SIGNIN_LOCKOUT_MINUTES (15), sign-in is
refused for that long, even with the right password, on the people's page and on the
administration's; every failure is logged with the username and the address, never the
password. Everything goes through the real sign-in forms, CSRF token included."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

RIGHT = "the right passphrase 42"
PEOPLE = "/accounts/login/"
ADMIN = "/admin/login/"


@pytest.fixture
def person(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("c.martin", password=RIGHT)


def sign_in(
    path: str, username: str, password: str, *, ip: str = "203.0.113.7", forwarded: str = ""
) -> tuple[Client, Any]:
    """Opens the sign-in page, then sends the form with the page's CSRF token."""
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    assert client.get(path, REMOTE_ADDR=ip).status_code == 200
    form = {
        "username": username,
        "password": password,
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "next": "/admin/" if path == ADMIN else "",
    }
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client, client.post(path, form, REMOTE_ADDR=ip, headers=headers)


def fail(path: str, times: int, *, username: str = "c.martin", ip: str = "203.0.113.7") -> None:
    for attempt in range(times):
        _, response = sign_in(path, username, f"wrong guess {attempt}", ip=ip)
        assert response.status_code in (200, 429), response.status_code


def locked_out(response: Any) -> bool:
    text = response.content.decode()
    return response.status_code == 429 and "Too many failed sign-ins" in text


def time_passes(minutes: float) -> None:
    """The failures happened that much earlier (the throttle counts from their times)."""
    from axes.models import AccessAttempt

    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=minutes)
        attempt.save(update_fields=["attempt_time"])


def test_ten_failures_for_a_username_refuse_even_the_right_password(person: User) -> None:
    # From ten addresses: the username alone is counted.
    responses = [
        sign_in(PEOPLE, "c.martin", f"guess {n}", ip=f"198.51.100.{n}")[1] for n in range(10)
    ]
    assert [r.status_code for r in responses[:9]] == [200] * 9
    assert locked_out(responses[9])

    client, refused = sign_in(PEOPLE, "c.martin", RIGHT, ip="192.0.2.50")

    assert locked_out(refused)
    assert "15 minutes" in refused.content.decode()
    assert client.get("/app/").status_code == 302  # not signed in
    time_passes(14)
    assert locked_out(sign_in(PEOPLE, "c.martin", RIGHT, ip="192.0.2.50")[1])
    time_passes(1.1)
    _, welcome = sign_in(PEOPLE, "c.martin", RIGHT, ip="192.0.2.50")
    assert welcome.status_code == 302
    assert welcome["Location"] == "/app/"


def test_nine_failures_leave_the_door_open(person: User) -> None:
    fail(PEOPLE, 9)

    _, response = sign_in(PEOPLE, "c.martin", RIGHT)

    assert response.status_code == 302


def test_one_address_trying_many_usernames_is_locked_out(person: User) -> None:
    for n in range(10):
        fail(PEOPLE, 1, username=f"someone.{n}", ip="203.0.113.66")

    assert locked_out(sign_in(PEOPLE, "c.martin", RIGHT, ip="203.0.113.66")[1])
    # The person, from anywhere else, is not.
    assert sign_in(PEOPLE, "c.martin", RIGHT, ip="192.0.2.10")[1].status_code == 302


def test_the_administration_sign_in_is_throttled_too(django_user_model: type[User]) -> None:
    django_user_model.objects.create_user("operator", password=RIGHT, is_staff=True)
    fail(ADMIN, 10, username="operator")

    client, refused = sign_in(ADMIN, "operator", RIGHT)

    assert locked_out(refused)
    assert client.get("/admin/").status_code == 302
    time_passes(15.1)
    client, welcome = sign_in(ADMIN, "operator", RIGHT)
    assert welcome.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_failures_are_logged_with_username_and_address_never_the_password(
    person: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-my-real-bank-password"

    _, response = sign_in(PEOPLE, "c.martin", secret, ip="203.0.113.99")

    assert response.status_code == 200
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("c.martin" in m and "203.0.113.99" in m for m in failures), failures
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in repr(record.args)
    from axes.models import AccessAttempt

    stored = AccessAttempt.objects.get()
    assert secret not in stored.post_data


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    person: User, settings: Any
) -> None:
    from ipaddress import ip_network

    settings.TISSER_TRUSTED_PROXIES = (ip_network("10.0.0.0/8"),)
    proxy = "10.0.0.2"
    for n in range(10):
        sign_in(PEOPLE, f"someone.{n}", "guess", ip=proxy, forwarded="198.51.100.1")

    _, other = sign_in(PEOPLE, "c.martin", RIGHT, ip=proxy, forwarded="198.51.100.2")
    _, same = sign_in(PEOPLE, "c.martin", RIGHT, ip=proxy, forwarded="198.51.100.1")

    assert other.status_code == 302  # another person behind the same proxy
    assert locked_out(same)


def test_a_forwarded_address_from_anyone_else_is_ignored(person: User, settings: Any) -> None:
    from ipaddress import ip_network

    settings.TISSER_TRUSTED_PROXIES = (ip_network("10.0.0.0/8"),)
    # One address, pretending to be ten.
    for n in range(10):
        sign_in(PEOPLE, f"someone.{n}", "guess", ip="203.0.113.5", forwarded=f"192.0.2.{n}")

    _, response = sign_in(PEOPLE, "c.martin", RIGHT, ip="203.0.113.5", forwarded="192.0.2.99")

    assert locked_out(response)


def test_signing_in_to_ones_own_account_does_not_clear_failures_against_another(
    person: User, django_user_model: type[User]
) -> None:
    """The reviewer's loop: nine guesses at a colleague, one good sign-in of one's own to
    clear the count, and again. The colleague's failures must stay counted."""
    django_user_model.objects.create_user("mallory", password="mallory's own pass 1")
    fail(PEOPLE, 9)
    _, own = sign_in(PEOPLE, "mallory", "mallory's own pass 1")
    assert own.status_code == 302
    fail(PEOPLE, 1, ip="198.51.100.9")
    # Ten failures for c.martin: refused, from anywhere, right password or not.
    _, response = sign_in(PEOPLE, "c.martin", RIGHT, ip="192.0.2.44")
    assert response.status_code == 429
