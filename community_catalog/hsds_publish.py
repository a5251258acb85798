"""What the public HSDS 3.0 API publishes (`community_catalog.hsds_api`), built on the
export's serialisers (`hsds_export`).

Published is what organisations publish, and nothing else:
- a confidential place (a shelter, someone's home) is left out whole: no address, no
  position, no name, and no service_at_location that would point at it;
- nothing about referrals; of Tisser's extensions of the export, `translations` (the
  organisation's words) and the capacity's status (taking people or not, as on the
  public activity page), not how many places are left;
- every status of service (`active`, `inactive`, `defunct`, `temporarily closed`), so
  that a directory harvesting this one learns of a closure.

Taxonomies: Tisser's own (`tisser`) and each other taxonomy a service carries a term of
(`ForeignTerm.taxonomy`), identified by a UUID derived from its name.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db.models import Q, QuerySet

from community_catalog.hsds_export import (
    foreign_term_export,
    organization_export,
    places_for_export,
    service_at_location_export,
    service_export,
    services_for_export,
    taxonomy_term_export,
)
from community_catalog.models import (
    ForeignTerm,
    Organization,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.taxonomy import TAXONOMY_NAME

HSDS_VERSION = "3.0"
# Fields of a service in a list: those of HSDS's `service_list` schema (a service's
# one-to-one fields and its organisation).
_LIST_FIELDS = tuple(
    json.loads((Path(__file__).parent / "hsds_schema" / "service_list.json").read_text())[
        "properties"
    ]
)
_MINIMAL_FIELDS = ("id", "name", "status", "last_modified")


def taxonomy_id(name: str) -> str:
    """The id of a taxonomy, stable across instances and exports: from its name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tisser-taxonomy:{name}"))


def public_places() -> Q:
    """The service_at_locations that may be published: not at a confidential place."""
    return Q(location__is_confidential=False)


def published_services() -> QuerySet[Service]:
    """Every service, with everything `service_published` reads: only its public places."""
    return services_for_export(Service.objects.all(), places=public_places()).select_related(
        "provenance"
    )


def _without_private(document: dict[str, Any]) -> dict[str, Any]:
    document.pop("confidential", None)
    return document


def _capacity_status_only(place: dict[str, Any]) -> None:
    """How many places are left is for the referrals' workflow; the public, like the
    public activity page, learns only whether the activity takes people."""
    if "capacity" in place:
        place["capacity"] = {"status": place["capacity"]["status"]}


def service_published(service: Service, *, shape: str = "full") -> dict[str, Any]:
    """One service as published: `full` (HSDS `service`), `list` (`service_list`) or
    `minimal` (id, name, status, last modified)."""
    if "service_at_locations_listed" not in service.__dict__:
        # Without `published_services()`, the export would read every place it has.
        raise ValueError("a published service is read through published_services()")
    document = service_export(service)
    if shape == "minimal":
        return {k: document[k] for k in _MINIMAL_FIELDS if k in document}
    if shape == "list":
        return {k: document[k] for k in _LIST_FIELDS if k in document}
    for place in document.get("service_at_locations", []):
        _without_private(place.get("location", {}))
        _capacity_status_only(place)
    provenance = provenance_metadata(service)
    if provenance:
        document["metadata"] = provenance
    return document


def provenance_metadata(service: Service) -> list[dict[str, Any]]:
    """Where a harvested service came from, as HSDS `metadata`: the source's name
    (`updated_by`), when Tisser last fetched it (`last_action_date`) and its id there
    (`replacement_value` of the field `source_record_id`)."""
    provenance = getattr(service, "provenance", None)
    if provenance is None:
        return []
    return [
        {
            "id": str(uuid.uuid5(service.id, "provenance")),
            "resource_id": str(service.id),
            "resource_type": "service",
            "last_action_date": provenance.fetched_at.isoformat(),
            "last_action_type": "harvested",
            "field_name": "source_record_id",
            "previous_value": "",
            "replacement_value": provenance.record_id,
            "updated_by": provenance.source_name,
        }
    ]


def published_places() -> QuerySet[ServiceAtLocation]:
    places = ServiceAtLocation.objects.filter(public_places())
    return places_for_export(places).select_related("service__organization").order_by("id")


def place_published(sal: ServiceAtLocation, *, full: bool = True) -> dict[str, Any]:
    """A service_at_location with its place and its service's summary; in a list
    (`full=False`, HSDS `service_at_location_list`), without its contacts, phones,
    sessions and capacity."""
    document = service_at_location_export(sal)
    _without_private(document.get("location", {}))
    _capacity_status_only(document)
    document["service"] = service_summary(sal.service)
    if full:
        return document
    keep = ("id", "service_id", "location_id", "description", "location", "service")
    return {k: document[k] for k in keep if k in document}


def service_summary(service: Service) -> dict[str, Any]:
    """A service's main one-to-one fields, read without a query."""
    summary = {
        "id": str(service.id),
        "organization_id": str(service.organization_id),
        "name": service.name,
        "description": service.description,
        "status": service.status,
        "last_modified": service.last_modified.isoformat(),
    }
    return {k: v for k, v in summary.items() if v != "" or k in ("id", "name", "status")}


def organizations_published(
    organizations: Sequence[Organization], *, full: bool
) -> list[dict[str, Any]]:
    """Organisations as published; `full`: with their services in full, read in a fixed
    number of queries."""
    by_organization: dict[uuid.UUID, list[Service]] = {o.id: [] for o in organizations}
    if full:
        for service in published_services().filter(organization__in=organizations):
            by_organization[service.organization_id].append(service)
    documents = []
    for organization in organizations:
        document = organization_export(organization)
        if full:
            services = by_organization[organization.id]
            document["services"] = [service_published(s) for s in services]
        documents.append(document)
    return documents


def taxonomies() -> list[dict[str, Any]]:
    """Tisser's taxonomy, then every other taxonomy a service carries a term of."""
    found = [
        {
            "id": taxonomy_id(TAXONOMY_NAME),
            "name": TAXONOMY_NAME,
            "description": "Tisser's needs and kinds of activity.",
        }
    ]
    others = ForeignTerm.objects.order_by("taxonomy").values_list("taxonomy", flat=True)
    for name in dict.fromkeys(others):
        found.append(
            {
                "id": taxonomy_id(name),
                "name": name or "(no taxonomy)",
                "description": "A taxonomy of another directory, as its services name it.",
                **({"uri": name} if name.startswith(("http://", "https://")) else {}),
            }
        )
    return found


def taxonomy_terms(taxonomy: str | None = None) -> list[dict[str, Any]]:
    """Every term, Tisser's first (`taxonomy`: a taxonomy id, to keep one)."""
    terms: list[dict[str, Any]] = []
    if taxonomy in (None, taxonomy_id(TAXONOMY_NAME)):
        for term in TaxonomyTerm.objects.order_by("code"):
            terms.append({**taxonomy_term_export(term), "taxonomy_id": taxonomy_id(TAXONOMY_NAME)})
    for foreign in ForeignTerm.objects.order_by("taxonomy", "code"):
        if taxonomy in (None, taxonomy_id(foreign.taxonomy)):
            terms.append(
                {**foreign_term_export(foreign), "taxonomy_id": taxonomy_id(foreign.taxonomy)}
            )
    return terms


def services_with_term(term_id: uuid.UUID) -> Q:
    return Q(taxonomy_terms__id=term_id) | Q(foreign_terms__id=term_id)


def services_in_taxonomy(taxonomy: str) -> Q:
    """Services carrying any term of the taxonomy with this id."""
    if taxonomy == taxonomy_id(TAXONOMY_NAME):
        return Q(taxonomy_terms__isnull=False)
    names = [
        name
        for name in ForeignTerm.objects.values_list("taxonomy", flat=True).distinct()
        if taxonomy_id(name) == taxonomy
    ]
    return Q(foreign_terms__taxonomy__in=names)
