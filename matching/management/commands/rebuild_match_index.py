from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from matching.index import match_points_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild matching's index of the catalogue from scratch. Not needed in normal use "
        "(every catalogue change refreshes it); use it after writing the catalogue tables "
        "by hand."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            count = match_points_rebuild()
        self.stdout.write(f"{count} matching point(s) written.")
