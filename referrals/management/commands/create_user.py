from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import HealthCenter, Membership
from accounts.services import password_change_require
from community_catalog.models import Organization


class Command(BaseCommand):
    help = (
        "Create a person's web sign-in for one health centre (--center) or one organisation "
        "(--org), and print a first password once; they must change it when they sign in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="What they type to sign in, e.g. 'c.martin'")
        party = parser.add_mutually_exclusive_group(required=True)
        party.add_argument("--center", help="The health centre's name, as created.")
        party.add_argument("--org", help="The organisation's name, as created.")
        parser.add_argument("--email", default="", help="Their e-mail address (optional).")

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
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            Membership.objects.create(
                user=user, health_center=health_center, organization=organization
            )
            # Printed below, so known to whoever ran this: theirs to replace at sign-in.
            password_change_require(user=user)
        self.stdout.write(f"Sign-in for {username}: {health_center or organization}")
        self.stdout.write("First password (shown once; they must change it when they sign in):")
        self.stdout.write(password)
