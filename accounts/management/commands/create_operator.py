from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.keys import api_key_create


class Command(BaseCommand):
    help = "Create an operator's API key (reads the audit log) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who holds the key, e.g. 'Camille, coordination'")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        if not name:
            raise CommandError("The name cannot be empty.")
        key = api_key_create(name=name)
        self.stdout.write(f"Operator key for {name}")
        self.stdout.write("API key (shown once, keep it safe; only a hash is stored):")
        self.stdout.write(key)
