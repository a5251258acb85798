"""HSDS documents as another directory writes them: a service at one place, classed in
the directory's own taxonomy. Shared by the crosswalk tests."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Organization, Service

CITY = "https://annuaire.ville.example/categories"


def directory_term(
    code: str, name: str, taxonomy: str = CITY, *, detail: bool = False
) -> dict[str, Any]:
    """An attribute carrying a term of `taxonomy`: named in `taxonomy`, or (`detail`) in
    `taxonomy_detail.uri` with a trailing slash, as some directories write it."""
    term: dict[str, Any] = {"id": str(uuid.uuid4()), "code": code, "name": name, "description": ""}
    if detail:
        term["taxonomy_detail"] = {
            "id": str(uuid.uuid4()),
            "name": "Annuaire de la ville",
            "description": "",
            "uri": taxonomy + "/",
        }
    else:
        term["taxonomy"] = taxonomy
    return {"id": str(uuid.uuid4()), "taxonomy_term": term}


def directory_service(
    organization: Organization, *terms: dict[str, Any], name: str = "Atelier"
) -> dict[str, Any]:
    """A service of `organization` at a place in Lyon, carrying these terms."""
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "status": "active",
        "organization": {"id": str(organization.id), "name": organization.name, "description": ""},
        "assured_date": date.today().isoformat(),
        "attributes": list(terms),
        "service_at_locations": [
            {
                "id": str(uuid.uuid4()),
                "location": {
                    "id": str(uuid.uuid4()),
                    "location_type": "physical",
                    "latitude": 45.75,
                    "longitude": 4.85,
                },
            }
        ],
    }


def directory_import(
    organization: Organization, *terms: dict[str, Any], name: str = "Atelier"
) -> Service:
    document = directory_service(organization, *terms, name=name)
    report = hsds_import(hsds_read([document]), organization=organization)
    assert not report.errors, report.errors
    return Service.objects.get(id=document["id"])
