from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.keys import api_key_create
from community_catalog.models import Organization
from community_catalog.services import organization_create


class Command(BaseCommand):
    help = (
        "Create a community organisation (or a new key for an existing one) and print its "
        "API key once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The organisation's name, e.g. 'Centre social Bonnefoi'")
        parser.add_argument(
            "--new-key", action="store_true", help="Add a key to an existing organisation."
        )

    def handle(self, *args: Any, name: str, new_key: bool, **options: Any) -> None:
        name = name.strip()
        if not name:
            raise CommandError("The name cannot be empty.")
        existing = Organization.objects.filter(name=name).first()
        if existing and not new_key:
            raise CommandError(f"{name!r} exists already; use --new-key to add a key.")
        if existing:
            organization, key = existing, api_key_create(organization=existing, name="added")
        elif new_key:
            raise CommandError(f"No organisation named {name!r}.")
        else:
            organization, key = organization_create(name=name)
        self.stdout.write(f"Organisation: {organization.name} ({organization.id})")
        self.stdout.write("API key (shown once, keep it safe; only a hash is stored):")
        self.stdout.write(key)
