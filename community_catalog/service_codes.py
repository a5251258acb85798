"""The Tisser codes each service answers to: its own taxonomy terms, and the terms of
other taxonomies it carries, read through the crosswalks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from community_catalog.models import Crosswalk, Service, TaxonomyTerm
from core.lookups import any_of


@dataclass(frozen=True)
class ServiceCodes:
    codes: tuple[str, ...]
    # Carries a term of another taxonomy that nothing maps.
    unmapped: bool


def service_codes(service_ids: list[uuid.UUID]) -> dict[uuid.UUID, ServiceCodes]:
    """The Tisser codes each service answers to: its own, and those its terms of other
    taxonomies map to (a crosswalk row, else a code equal to a Tisser code)."""
    own: dict[uuid.UUID, set[str]] = {}
    for service_id, code in Service.taxonomy_terms.through.objects.filter(
        any_of("service_id", service_ids)
    ).values_list("service_id", "taxonomyterm__code"):
        own.setdefault(service_id, set()).add(code)
    carried: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for service_id, taxonomy, code in Service.foreign_terms.through.objects.filter(
        any_of("service_id", service_ids)
    ).values_list("service_id", "foreignterm__taxonomy", "foreignterm__code"):
        carried.setdefault(service_id, []).append((taxonomy, code))
    return codes_mapped(service_ids, own, carried)


def codes_mapped(
    service_ids: list[uuid.UUID],
    own: dict[uuid.UUID, set[str]],
    carried: dict[uuid.UUID, list[tuple[str, str]]],
) -> dict[uuid.UUID, ServiceCodes]:
    """Each service's codes from its own Tisser codes and the (taxonomy, code) terms of
    other taxonomies it carries."""
    keys = {key for pairs in carried.values() for key in pairs}
    mapped: dict[tuple[str, str], set[str]] = {}
    if keys:
        rows = Crosswalk.objects.filter(
            taxonomy__in={t for t, _ in keys}, code__in={c for _, c in keys}
        ).values_list("taxonomy", "code")
        mapped = {key: set() for key in rows if key in keys}
        for taxonomy, code, tisser_code in Crosswalk.terms.through.objects.filter(
            crosswalk__taxonomy__in={t for t, _ in keys}, crosswalk__code__in={c for _, c in keys}
        ).values_list("crosswalk__taxonomy", "crosswalk__code", "taxonomyterm__code"):
            if (taxonomy, code) in mapped:
                mapped[(taxonomy, code)].add(tisser_code)
        tisser = set(TaxonomyTerm.objects.values_list("code", flat=True))
    found = {}
    for service_id in service_ids:
        codes = set(own.get(service_id, ()))
        unmapped = False
        for taxonomy, code in carried.get(service_id, ()):
            if (taxonomy, code) in mapped:
                codes |= mapped[(taxonomy, code)]
            elif code.casefold() in tisser:
                codes.add(code.casefold())
            else:
                unmapped = True
        found[service_id] = ServiceCodes(tuple(sorted(codes)), unmapped)
    return found
