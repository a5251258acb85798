"""The sample catalogue that `tisser demo` loads: activities in Lyon and Villeurbanne.

The file is a compact, hand-written form; it is turned into HSDS 3.0 and loaded through
the importer, like any organisation's file. Ids are derived from the keys in the file,
so loading it twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import time
from pathlib import Path
from typing import Any

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from community_catalog.hsds import hsds_read
from community_catalog.hsds_export import taxonomy_term_export
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Schedule, TaxonomyTerm
from community_catalog.postcodes import DEMO_POSTCODES, postcodes_load
from community_catalog.taxonomy_services import taxonomy_seed

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
    what_to_bring: str = ""
    # Paid activities: the price in euros and what it covers ("la séance", "l'année").
    price_eur: float | None = None
    price_per: str = ""
    locations: list[DemoServiceAtLocation]
    # Languages it is run in (ISO 639-1); none given: the catalogue's own (French).
    languages: list[str] = []
    interpretation_services: str = ""


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


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def demo_catalog_hsds(catalog: DemoCatalog) -> list[dict[str, Any]]:
    """The demo catalogue as HSDS 3.0 services, ready for `hsds_import`."""
    today = timezone.localdate().isoformat()
    terms = {term.code: term for term in TaxonomyTerm.objects.all()}
    services: list[dict[str, Any]] = []
    for org in catalog.organizations:
        organization = {
            "id": _id(org.key),
            "name": org.name,
            "description": org.description,
            "email": org.email,
            "website": org.website,
        }
        locations = {
            loc.key: {
                "id": _id(org.key, "location", loc.key),
                "location_type": "physical",
                "name": loc.name,
                "latitude": loc.latitude,
                "longitude": loc.longitude,
                "transportation": loc.transportation,
                "confidential": loc.confidential,
                "addresses": [
                    {
                        "id": _id(org.key, "location", loc.key, "address"),
                        "address_1": loc.address_1,
                        "city": loc.city,
                        "state_province": "",
                        "postal_code": loc.postal_code,
                        "country": "FR",
                        "address_type": "physical",
                    }
                ],
            }
            for loc in org.locations
        }
        for svc in org.services:
            key = _id(org.key, "service", svc.key)
            services.append(
                {
                    "id": key,
                    "name": svc.name,
                    "description": svc.description,
                    "status": "active",
                    "fees_description": svc.fees_description,
                    "application_process": svc.application_process,
                    "what_to_bring": svc.what_to_bring,
                    "assured_date": today,
                    "organization": organization,
                    "translations": svc.translations,
                    "languages": [
                        {"id": _id(key, "language", code), "code": code} for code in svc.languages
                    ],
                    "interpretation_services": svc.interpretation_services,
                    "contacts": [
                        {
                            "id": _id(key, "contact"),
                            "name": svc.contact_name,
                            "phones": [{"id": _id(key, "phone"), "number": svc.contact_phone}],
                        }
                    ],
                    "cost_options": [
                        {
                            "id": _id(key, "cost"),
                            "option": "Gratuit",
                            "amount": 0,
                            "currency": "EUR",
                        }
                    ]
                    if svc.is_free
                    else [
                        {
                            "id": _id(key, "cost"),
                            "option": svc.price_per,
                            "amount": svc.price_eur,
                            "currency": "EUR",
                        }
                    ]
                    if svc.price_eur is not None
                    else [],
                    "attributes": [
                        {"id": _id(key, code), "taxonomy_term": taxonomy_term_export(terms[code])}
                        for code in svc.taxonomy
                    ],
                    "service_at_locations": [
                        {
                            "id": _id(org.key, "service", svc.key, at.location),
                            "location": locations[at.location],
                            "schedules": [
                                {
                                    "id": _id(key, at.location, str(i)),
                                    **schedule.model_dump(mode="json"),
                                }
                                for i, schedule in enumerate(at.schedules)
                            ],
                        }
                        for at in svc.locations
                    ],
                }
            )
    return services


def demo_catalog_load(path: Path = DEMO_CATALOG) -> int:
    """Load (or refresh) the demo catalogue through the HSDS importer, as an operator
    would. Returns the number of services."""
    catalog = DemoCatalog.model_validate_json(path.read_text(encoding="utf-8"))
    taxonomy_seed()
    read = hsds_read(demo_catalog_hsds(catalog))
    report = hsds_import(read, organization=None)
    if report.warnings:
        raise ValueError(f"the demo catalogue has problems: {report.warnings}")
    postcodes_load(DEMO_POSTCODES)
    return len(read.records)
