"""A bad value in the environment stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def tisser(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TISSER_PORT": "eighty"}, "TISSER_PORT"),
        ({"DATABASE_URL": "mysql://db/tisser"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"TISSER_ENV": "staging"}, "TISSER_ENV"),
        ({"TISSER_TIME_ZONE": "Mars/Olympus"}, "TISSER_TIME_ZONE"),
        ({"TISSER_ENV": "production", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"TISSER_PUBLIC_URL": "ftp://tisser.example.org"}, "TISSER_PUBLIC_URL"),
        # Messages to people (issue 25).
        ({"TISSER_SMTP_URL": "http://mail.example.org"}, "TISSER_SMTP_URL"),
        ({"TISSER_SMTP_URL": "smtp://mail.example.org:587"}, "TISSER_MAIL_FROM"),
        ({"TISSER_SMS_PROVIDER": "twilio"}, "TISSER_SMS_PROVIDER"),
        ({"TISSER_SMS_PROVIDER": "brevo"}, "TISSER_SMS_API_KEY"),
        ({"TISSER_SMS_SENDER": "Tisser de Lyon"}, "TISSER_SMS_SENDER"),
        ({"TISSER_MESSAGES_QUIET_HOURS": "8pm-9am"}, "TISSER_MESSAGES_QUIET_HOURS"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, env, named) -> None:
    result = tisser("check", env={"TISSER_DATA_DIR": str(tmp_path), **env})

    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_production_needs_allowed_hosts(tmp_path) -> None:
    result = tisser(
        "check",
        env={"TISSER_DATA_DIR": str(tmp_path), "TISSER_ENV": "production", "SECRET_KEY": "x" * 50},
    )

    assert result.returncode == 2
    assert "TISSER_ALLOWED_HOSTS" in result.stderr


def test_production_needs_the_public_url_the_slips_print(tmp_path) -> None:
    env = {
        "TISSER_DATA_DIR": str(tmp_path),
        "TISSER_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "TISSER_ALLOWED_HOSTS": "tisser.example.org",
    }
    result = tisser("check", env=env)

    assert result.returncode == 2
    assert "TISSER_PUBLIC_URL" in result.stderr


def test_defaults_need_nothing(tmp_path) -> None:
    env = {"TISSER_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    result = tisser("check", env=env)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


def test_production_settings_pass_djangos_deployment_checks(tmp_path) -> None:
    env = {
        "TISSER_DATA_DIR": str(tmp_path),
        "TISSER_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-v9Qz_3xLm" * 5,
        "TISSER_ALLOWED_HOSTS": "tisser.example.org",
        "TISSER_PUBLIC_URL": "https://tisser.example.org",
        "TISSER_METRICS_TOKEN": "m" * 32,
    }
    result = tisser("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_needs_a_metrics_token(tmp_path) -> None:
    env = {
        "TISSER_DATA_DIR": str(tmp_path),
        "TISSER_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "TISSER_ALLOWED_HOSTS": "tisser.example.org",
        "TISSER_PUBLIC_URL": "https://tisser.example.org",
        "TISSER_METRICS_TOKEN": "",
    }
    result = tisser("check", env=env)

    assert result.returncode == 2
    assert "TISSER_METRICS_TOKEN" in result.stderr


def test_production_never_installs_the_development_app(tmp_path) -> None:
    """bench/ is in a checkout (so `tisser bench` works there) but production settings
    leave it out: `tisser bench` is an unknown command and no /bench route exists."""
    env = {
        "TISSER_DATA_DIR": str(tmp_path),
        "TISSER_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-v9Qz_3xLm" * 5,
        "TISSER_ALLOWED_HOSTS": "tisser.example.org",
        "TISSER_PUBLIC_URL": "https://tisser.example.org",
        "TISSER_METRICS_TOKEN": "m" * 32,
    }
    production = tisser("bench", "--help", env=env)
    checkout = tisser("bench", "--help", env={"TISSER_DATA_DIR": str(tmp_path)})

    assert production.returncode != 0
    assert "Unknown command: 'bench'" in production.stderr
    assert checkout.returncode == 0, checkout.stderr


def test_the_smtp_url_configures_djangos_email(tmp_path) -> None:
    """TISSER_SMTP_URL as the docs write it: user and password (quoted), host, port, and
    the TLS its scheme names."""
    code = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, "
        "s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.DEFAULT_FROM_EMAIL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "TISSER_DATA_DIR": str(tmp_path),
            "TISSER_SMTP_URL": "smtp+starttls://tisser%40lyon:p%40ss%2Fword@mail.example.org:587",
            "TISSER_MAIL_FROM": "Tisser <no-reply@tisser.example.org>",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.org",
        "587",
        "tisser@lyon",
        "p@ss/word",
        "True",
        "False",
        "Tisser",
        "<no-reply@tisser.example.org>",
    ]
