"""The sample catalogue that `tisser demo` loads: activities in Lyon and Villeurbanne.

The file is validated with pydantic like any other input, and loaded idempotently: ids
are derived from the keys in the file, so loading it twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import time
from pathlib import Path

from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field

from community_catalog.models import (
    Location,
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.services import taxonomy_seed

DEMO_CATALOG = Path(__file__).resolve().parent / "demo" / "lyon.json"
_NAMESPACE = uuid.UUID("6f1d2c1e-6a43-4a8e-9d3f-7d0f0b7c9a11")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DemoSchedule(_Strict):
    freq: Schedule.Freq
    interval: int = Field(ge=1)
    byday: str
    opens_at: time
    closes_at: time


class DemoServiceAtLocation(_Strict):
    location: str
    schedules: list[DemoSchedule]


class DemoService(_Strict):
    key: str
    name: str
    description: str
    taxonomy: list[str]
    is_free: bool
    fees_description: str
    contact_name: str
    contact_phone: str
    application_process: str
    translations: dict[str, dict[str, str]]
    locations: list[DemoServiceAtLocation]


class DemoLocation(_Strict):
    key: str
    name: str
    address_1: str
    postal_code: str
    city: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    transportation: str = ""
    confidential: bool = False


class DemoOrganization(_Strict):
    key: str
    name: str
    description: str
    email: str
    website: str
    locations: list[DemoLocation]
    services: list[DemoService]


class DemoCatalog(_Strict):
    organizations: list[DemoOrganization]


def _id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def demo_catalog_load(path: Path = DEMO_CATALOG) -> int:
    """Load (or refresh) the demo catalogue. Returns the number of services."""
    catalog = DemoCatalog.model_validate_json(path.read_text(encoding="utf-8"))
    taxonomy_seed()
    terms = {t.code: t for t in TaxonomyTerm.objects.all()}
    count = 0
    with transaction.atomic():
        for org in catalog.organizations:
            organization, _ = Organization.objects.update_or_create(
                id=_id(org.key),
                defaults={
                    "name": org.name,
                    "description": org.description,
                    "email": org.email,
                    "website": org.website,
                },
            )
            locations = {}
            for loc in org.locations:
                locations[loc.key], _ = Location.objects.update_or_create(
                    id=_id(org.key, "location", loc.key),
                    defaults={
                        "organization": organization,
                        "name": loc.name,
                        "address_1": loc.address_1,
                        "postal_code": loc.postal_code,
                        "city": loc.city,
                        "latitude": loc.latitude,
                        "longitude": loc.longitude,
                        "transportation": loc.transportation,
                        "is_confidential": loc.confidential,
                    },
                )
            for svc in org.services:
                service, _ = Service.objects.update_or_create(
                    id=_id(org.key, "service", svc.key),
                    defaults={
                        "organization": organization,
                        "name": svc.name,
                        "description": svc.description,
                        "is_free": svc.is_free,
                        "fees_description": svc.fees_description,
                        "contact_name": svc.contact_name,
                        "contact_phone": svc.contact_phone,
                        "application_process": svc.application_process,
                        "translations": svc.translations,
                        "status": Service.Status.ACTIVE,
                    },
                )
                service.taxonomy_terms.set([terms[code] for code in svc.taxonomy])
                for at in svc.locations:
                    sal, _ = ServiceAtLocation.objects.update_or_create(
                        id=_id(org.key, "service", svc.key, at.location),
                        defaults={"service": service, "location": locations[at.location]},
                    )
                    sal.schedules.all().delete()
                    Schedule.objects.bulk_create(
                        Schedule(service_at_location=sal, **s.model_dump()) for s in at.schedules
                    )
                count += 1
    return count
