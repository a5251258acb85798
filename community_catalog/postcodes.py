"""Postcodes and their positions, from GeoNames' postal code files.

The full files are at https://download.geonames.org/export/zip/ (one per country, e.g.
`FR.zip`, CC BY 4.0). Each line holds, separated by tabs: country code, postal code,
place name, admin name 1, admin code 1, admin name 2, admin code 2, admin name 3,
admin code 3, latitude, longitude, accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from community_catalog.models import PostalCode
from community_catalog.selectors import postcode_positions_forget

DEMO_POSTCODES = Path(__file__).resolve().parent / "demo" / "postcodes-lyon.txt"
_BATCH = 5000


@dataclass(frozen=True)
class PostcodeLineError(ValueError):
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _rows(path: Path) -> Iterator[PostalCode]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 11:
                raise PostcodeLineError(
                    number, f"expected 12 tab-separated columns, got {len(cells)}"
                )
            try:
                latitude, longitude = float(cells[9]), float(cells[10])
            except ValueError:
                raise PostcodeLineError(number, "latitude and longitude must be numbers") from None
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                raise PostcodeLineError(number, "latitude or longitude out of range")
            yield PostalCode(
                country_code=cells[0].strip().upper()[:2],
                postal_code=cells[1].strip().upper()[:20],
                place_name=cells[2].strip()[:180],
                admin_name1=cells[3].strip()[:100],
                latitude=latitude,
                longitude=longitude,
            )


def postcodes_load(path: Path, *, progress: Callable[[int], object] | None = None) -> int:
    """Create or update the postcodes in a GeoNames file; all or nothing. Returns the
    number of lines loaded."""
    count = 0
    batch: list[PostalCode] = []
    with transaction.atomic():
        for row in _rows(path):
            batch.append(row)
            if len(batch) >= _BATCH:
                count += _write(batch, progress)
                batch = []
        count += _write(batch, progress)
    postcode_positions_forget()
    return count


def _write(batch: list[PostalCode], progress: Callable[[int], object] | None) -> int:
    if not batch:
        return 0
    PostalCode.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["country_code", "postal_code", "place_name"],
        update_fields=["admin_name1", "latitude", "longitude"],
    )
    if progress:
        progress(len(batch))
    return len(batch)
