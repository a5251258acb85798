from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.keys import api_key_create, health_center_create
from accounts.models import HealthCenter


class Command(BaseCommand):
    help = "Create a health centre (or a new key for an existing one) and print its API key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The health centre's name, e.g. 'Maison de santé Gerland'")
        parser.add_argument(
            "--new-key", action="store_true", help="Add a key to an existing centre."
        )

    def handle(self, *args: Any, name: str, new_key: bool, **options: Any) -> None:
        name = name.strip()
        if not name:
            raise CommandError("The name cannot be empty.")
        existing = HealthCenter.objects.filter(name=name).first()
        if existing and not new_key:
            raise CommandError(f"{name!r} exists already; use --new-key to add a key.")
        if existing:
            center, key = existing, api_key_create(health_center=existing, name="added")
        elif new_key:
            raise CommandError(f"No health centre named {name!r}.")
        else:
            center, key = health_center_create(name=name)
        self.stdout.write(f"Health centre: {center.name} ({center.id})")
        self.stdout.write("API key (shown once, keep it safe; only a hash is stored):")
        self.stdout.write(key)
