"""The catalogue as HSDS 3.0 JSON: what `GET /api/v1/catalog/export` returns.

Empty values are left out (HSDS types most fields as strings with formats, so an empty
e-mail would not be valid), except the fields HSDS requires. Tisser's extensions,
which HSDS allows as additional properties: `capacity` on service_at_location,
`confidential` on location, `translations`, `what_to_bring` and `cost` (what the
organisation declared: "free", "paid" or "not-stated") on service.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from community_catalog.models import (
    Accessibility,
    Address,
    Contact,
    CostOption,
    ForeignTerm,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from community_catalog.taxonomy import TAXONOMY_NAME
from core.names import uuid5_text


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        # HSDS types amounts as numbers.
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# Values that go out as they are (the others through `_value`).
_AS_THEY_ARE = frozenset({str, int, float, bool, list, dict, type(None)})
_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _clean(data: dict[str, Any], required: Collection[str] = ("id",)) -> dict[str, Any]:
    return {
        key: value if type(value) in _AS_THEY_ARE else _value(value)
        for key, value in data.items()
        if key in required or value not in _EMPTY
    }


def _id(obj: Any) -> str:
    return str(obj.hsds_id if hasattr(obj, "hsds_id") else obj.id)


def _listed(obj: Any, relation: str) -> Any:
    """The related objects `services_for_export` or `places_for_export` read ahead (as a
    list: Django's `to_attr`, which costs nothing per object, where its own prefetch
    cache builds a queryset per object and relation, two thirds of an export's time),
    else those a prefetch left in the relation's cache, else a query."""
    found = obj.__dict__.get(f"{relation}_listed")
    return found if found is not None else getattr(obj, relation).all()


def language_export(language: Language) -> dict[str, Any]:
    return _clean(
        {"id": _id(language), "name": language.name, "code": language.code, "note": language.note}
    )


def phone_export(phone: Phone) -> dict[str, Any]:
    return _clean(
        {
            "id": _id(phone),
            "number": phone.number,
            "extension": int(phone.extension) if phone.extension.isdigit() else None,
            "type": phone.type,
            "description": phone.description,
            "languages": [language_export(lang) for lang in _listed(phone, "languages")],
        },
        required=("id", "number"),
    )


def contact_export(contact: Contact) -> dict[str, Any]:
    return _clean(
        {
            "id": _id(contact),
            "name": contact.name,
            "title": contact.title,
            "department": contact.department,
            "email": contact.email,
            "phones": [phone_export(phone) for phone in _listed(contact, "phones")],
        }
    )


SCHEDULE_FIELDS = (
    "freq",
    "interval",
    "byday",
    "bymonthday",
    "byweekno",
    "byyearday",
    "wkst",
    "count",
    "opens_at",
    "closes_at",
    "valid_from",
    "valid_to",
    "dtstart",
    "until",
    "timezone",
    "description",
    "schedule_link",
    "attending_type",
    "notes",
)


def schedule_export(schedule: Schedule) -> dict[str, Any]:
    data = {"id": _id(schedule), **{f: getattr(schedule, f) for f in SCHEDULE_FIELDS}}
    if isinstance(schedule.timezone, float) and math.isfinite(schedule.timezone):
        whole = int(schedule.timezone)
        data["timezone"] = whole if whole == schedule.timezone else schedule.timezone
    return _clean(data)


def address_export(address: Address) -> dict[str, Any]:
    return _clean(
        {
            "id": _id(address),
            "attention": address.attention,
            "address_1": address.address_1,
            "address_2": address.address_2,
            "city": address.city,
            "region": address.region,
            "state_province": address.state_province,
            "postal_code": address.postal_code,
            "country": address.country,
            "address_type": address.address_type,
        },
        required=(
            "id",
            "address_1",
            "city",
            "state_province",
            "postal_code",
            "country",
            "address_type",
        ),
    )


def accessibility_export(accessibility: Accessibility) -> dict[str, Any]:
    return _clean(
        {
            "id": _id(accessibility),
            "description": accessibility.description,
            "details": accessibility.details,
            "url": accessibility.url,
        }
    )


def location_export(location: Location) -> dict[str, Any]:
    return _clean(
        {
            "id": str(location.id),
            "location_type": location.location_type,
            "url": location.url,
            "name": location.name,
            "alternate_name": location.alternate_name,
            "description": location.description,
            "transportation": location.transportation,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "languages": [language_export(lang) for lang in _listed(location, "languages")],
            "addresses": [address_export(a) for a in _listed(location, "addresses")],
            "accessibility": [accessibility_export(a) for a in _listed(location, "accessibility")],
            "phones": [phone_export(p) for p in _listed(location, "phones")],
            "contacts": [contact_export(c) for c in _listed(location, "contacts")],
            "schedules": [schedule_export(s) for s in _listed(location, "schedules")],
            "confidential": location.is_confidential or None,
        },
        required=("id", "location_type"),
    )


def capacity_export(sal: ServiceAtLocation) -> dict[str, Any]:
    return _clean(
        {
            "status": sal.capacity_status,
            "available": sal.capacity_available,
            "maximum": sal.capacity_maximum,
            "updated": sal.capacity_updated,
        },
        required=("status",),
    )


def service_at_location_export(sal: ServiceAtLocation) -> dict[str, Any]:
    return _clean(
        {
            "id": str(sal.id),
            "service_id": str(sal.service_id),
            "location_id": str(sal.location_id),
            "description": sal.description,
            "contacts": [contact_export(c) for c in _listed(sal, "contacts")],
            "phones": [phone_export(p) for p in _listed(sal, "phones")],
            "schedules": [schedule_export(s) for s in _listed(sal, "schedules")],
            "location": location_export(sal.location),
            "capacity": capacity_export(sal),
        }
    )


def organization_export(organization: Organization) -> dict[str, Any]:
    return _clean(
        {
            "id": str(organization.id),
            "name": organization.name,
            "alternate_name": organization.alternate_name,
            "description": organization.description,
            "email": organization.email,
            "website": organization.website,
        },
        required=("id", "name", "description"),
    )


def taxonomy_term_export(term: TaxonomyTerm) -> dict[str, Any]:
    return _clean(
        {
            "id": str(term.id),
            "code": term.code,
            "name": term.name,
            "description": term.description,
            "parent_id": str(term.parent_id) if term.parent_id else None,
            "taxonomy": TAXONOMY_NAME,
            "language": "fr",
        },
        required=("id", "name", "description"),
    )


def foreign_term_export(term: ForeignTerm) -> dict[str, Any]:
    """A term of another taxonomy, as the directory wrote it."""
    return _clean(
        {
            "id": str(term.id),
            "code": term.code,
            "name": term.label or term.code,
            "description": "",
            "taxonomy": term.taxonomy,
        },
        required=("id", "name", "description"),
    )


def _attribute(service: Service, key: str, term: dict[str, Any]) -> dict[str, Any]:
    return {
        # One attribute per term and service, with an id stable across exports.
        "id": uuid5_text(service.id, key),
        "link_id": str(service.id),
        "link_type": "service",
        "link_entity": "service",
        "taxonomy_term_id": term["id"],
        "taxonomy_term": term,
    }


def service_attributes(service: Service) -> list[dict[str, Any]]:
    """The terms a service carries: Tisser's own codes, then other taxonomies' terms."""
    terms = sorted(_listed(service, "taxonomy_terms"), key=lambda t: t.code)
    foreign = sorted(_listed(service, "foreign_terms"), key=lambda t: (t.taxonomy, t.code))
    return [_attribute(service, term.code, taxonomy_term_export(term)) for term in terms] + [
        _attribute(service, f"{term.taxonomy}\n{term.code}", foreign_term_export(term))
        for term in foreign
    ]


def cost_option_export(option: CostOption) -> dict[str, Any]:
    return _clean(
        {
            "id": _id(option),
            "valid_from": option.valid_from,
            "valid_to": option.valid_to,
            "option": option.option,
            "currency": option.currency,
            "amount": option.amount,
            "amount_description": option.amount_description,
        }
    )


def service_export(service: Service) -> dict[str, Any]:
    """One service as HSDS 3.0, with its organization, places, sessions and contacts.

    Prefetch with `services_for_export` when exporting many.
    """
    return _clean(
        {
            "id": str(service.id),
            "organization_id": str(service.organization_id),
            "name": service.name,
            "alternate_name": service.alternate_name,
            "description": service.description,
            "url": service.url,
            "email": service.email,
            "status": service.status,
            "interpretation_services": service.interpretation_services,
            "application_process": service.application_process,
            "what_to_bring": service.what_to_bring,
            "fees_description": service.fees_description,
            "wait_time": service.wait_time,
            "eligibility_description": service.eligibility_description,
            "minimum_age": service.minimum_age,
            "maximum_age": service.maximum_age,
            "assured_date": service.assured_date,
            "alert": service.alert,
            "last_modified": service.last_modified,
            "phones": [phone_export(p) for p in _listed(service, "phones")],
            "schedules": [schedule_export(s) for s in _listed(service, "schedules")],
            "service_at_locations": [
                service_at_location_export(sal) for sal in _listed(service, "service_at_locations")
            ],
            "languages": [language_export(lang) for lang in _listed(service, "languages")],
            "organization": organization_export(service.organization),
            "cost_options": [cost_option_export(c) for c in _listed(service, "cost_options")],
            "contacts": [contact_export(c) for c in _listed(service, "contacts")],
            "attributes": service_attributes(service),
            "translations": service.translations,
            "cost": service.cost_declared or None,
        },
        required=("id", "name", "status"),
    )


def _ahead(lookup: str, queryset: QuerySet[Any] | None = None) -> Prefetch:
    """Read `lookup` ahead into a list named after its last relation (see `_listed`)."""
    return Prefetch(lookup, queryset=queryset, to_attr=f"{lookup.rsplit('__', 1)[-1]}_listed")


def _phones(lookup: str = "phones") -> Prefetch:
    return _ahead(lookup, Phone.objects.prefetch_related(_ahead("languages")))


def _contacts(lookup: str = "contacts") -> Prefetch:
    return _ahead(lookup, Contact.objects.prefetch_related(_phones()))


# Everything `location_export` reads, for prefetch_related on locations.
LOCATION_PARTS = ("languages", "addresses", "accessibility", "phones", "contacts", "schedules")


def places_for_export(queryset: QuerySet[ServiceAtLocation]) -> QuerySet[ServiceAtLocation]:
    """`queryset` with everything `service_at_location_export` reads."""
    return queryset.select_related("location").prefetch_related(
        _ahead("schedules"),
        _contacts(),
        _phones(),
        _ahead("location__languages"),
        _ahead("location__addresses"),
        _ahead("location__accessibility"),
        _ahead("location__schedules"),
        _phones("location__phones"),
        _contacts("location__contacts"),
    )


def services_for_export(queryset: QuerySet[Service], places: Q | None = None) -> QuerySet[Service]:
    """`queryset` with everything `service_export` reads, in a fixed number of queries;
    `places` keeps only the service_at_locations it matches."""
    sal_queryset = places_for_export(ServiceAtLocation.objects.filter(places or Q()))
    return (
        queryset.select_related("organization")
        .prefetch_related(
            _phones(),
            _contacts(),
            _ahead("schedules"),
            _ahead("languages"),
            _ahead("cost_options"),
            _ahead("taxonomy_terms"),
            _ahead("foreign_terms"),
            _ahead("service_at_locations", sal_queryset),
        )
        .order_by("id")
    )


def catalog_export(services: QuerySet[Service]) -> dict[str, Any]:
    """Services as one page of HSDS's paginated list (`service_list`)."""
    contents = [service_export(service) for service in services_for_export(services)]
    return {
        "total_items": len(contents),
        "total_pages": 1,
        "page_number": 1,
        "size": len(contents),
        "first_page": True,
        "last_page": True,
        "empty": not contents,
        "contents": contents,
    }
