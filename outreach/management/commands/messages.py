"""`tisser messages due [--as-of DATETIME]`: send, in this process, every message to a
person that is due at that time: a catch-up after an outage (the relay does it every
minute otherwise), and tests."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from outreach.sending import messages_send_due


class Command(BaseCommand):
    help = "Messages to people: `due` sends those due now (or at --as-of)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["due"])
        parser.add_argument(
            "--as-of",
            default="",
            help="Send what is due at this time (ISO 8601 with offset); default: now. In "
            "the past (a catch-up), quiet hours and one a day still follow the time now.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = timezone.now()
        if options["as_of"]:
            try:
                parsed = parse_datetime(options["as_of"])
            except ValueError:  # well formed, but no such day: 2026-13-01
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise CommandError(
                    "--as-of needs a date and time with an offset, e.g. 2026-12-09T10:00+01:00"
                )
            as_of = parsed
        counts = messages_send_due(as_of)
        self.stdout.write(json.dumps({"as_of": as_of.isoformat(), **counts}, sort_keys=True))
