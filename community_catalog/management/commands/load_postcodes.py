from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from community_catalog.postcodes import PostcodeLineError, postcodes_load


class Command(BaseCommand):
    help = (
        "Load postcodes from a GeoNames postal code file (tab-separated text, e.g. FR.txt "
        "from https://download.geonames.org/export/zip/FR.zip) so that search and "
        "referrals can use a postcode instead of coordinates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        with tqdm(unit="postcode", disable=None, file=self.stderr) as bar:
            try:
                count = postcodes_load(file, progress=bar.update)
            except PostcodeLineError as exc:
                raise CommandError(f"{file}: {exc}; nothing was loaded") from None
        self.stdout.write(f"{count} postcodes loaded from {file}")
