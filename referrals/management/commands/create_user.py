from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import HealthCenter, Membership
from accounts.services import password_change_require
from accounts.views import email_configured, invitation_send
from community_catalog.models import Organization


class Command(BaseCommand):
    help = (
        "Create a person's web sign-in for one health centre (--center) or one organisation "
        "(--org). With --email and e-mail configured (TISSER_SMTP_URL), they are sent a "
        "link to choose their password; otherwise a first password is printed once, which "
        "they must change when they sign in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="What they type to sign in, e.g. 'c.martin'")
        party = parser.add_mutually_exclusive_group(required=True)
        party.add_argument("--center", help="The health centre's name, as created.")
        party.add_argument("--org", help="The organisation's name, as created.")
        parser.add_argument(
            "--email",
            default="",
            help="Their e-mail address: where the invitation goes, and a forgotten "
            "password's link.",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        center: str | None,
        org: str | None,
        email: str,
        **options: Any,
    ) -> None:
        username = username.strip()
        if not username:
            raise CommandError("The username cannot be empty.")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"{username!r} exists already.")
        health_center = organization = None
        if center is not None:
            health_center = HealthCenter.objects.filter(name=center.strip()).first()
            if health_center is None:
                raise CommandError(f"No health centre named {center!r} (tisser create-center).")
        else:
            organization = Organization.objects.filter(name=(org or "").strip()).first()
            if organization is None:
                raise CommandError(f"No organisation named {org!r} (tisser create-org).")
        email = email.strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise CommandError(f"{email!r} is not an e-mail address.") from None
        invite = bool(email) and email_configured()
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            Membership.objects.create(
                user=user, health_center=health_center, organization=organization
            )
            if not invite:
                # Printed below, so known to whoever ran this: theirs to replace at sign-in.
                password_change_require(user=user)
        party = str(health_center or organization)
        self.stdout.write(f"Sign-in for {username}: {party}")
        if invite:
            # The password is never shown: the person chooses theirs through the link.
            try:
                invitation_send(user, party=party)
            except OSError as exc:
                raise CommandError(
                    f"The sign-in exists, but the invitation could not be sent ({exc}); "
                    "they can use 'Forgotten password?' once e-mail works."
                ) from exc
            self.stdout.write(f"Invitation sent to {email}: a link to choose their password.")
            return
        self.stdout.write("First password (shown once; they must change it when they sign in):")
        self.stdout.write(password)
