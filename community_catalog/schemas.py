"""Schemas of the catalogue endpoints. Services and locations travel as HSDS 3.0 objects
(`community_catalog.hsds`); these are the rest."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from community_catalog.models import ServiceAtLocation


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class TaxonomyTermOut(Schema):
    id: uuid.UUID
    code: str
    kind: Literal["need", "activity"]
    name_fr: str
    name_en: str
    children: list[TaxonomyTermOut]


class TaxonomyOut(Schema):
    taxonomy: str = Field(description="Name of the taxonomy, as in HSDS `taxonomy_term.taxonomy`.")
    version: str
    terms: list[TaxonomyTermOut]


class SessionOut(Schema):
    starts_at: datetime
    ends_at: datetime


class CapacityOut(Schema):
    status: ServiceAtLocation.CapacityStatus
    available: int | None
    maximum: int | None
    updated: datetime | None


class AddressOut(Schema):
    address_1: str
    address_2: str
    postal_code: str
    city: str
    country: str


class PlaceOut(Schema):
    id: uuid.UUID | None = Field(description="Absent for a confidential place.")
    name: str
    confidential: bool
    address: AddressOut | None
    latitude: float | None
    longitude: float | None
    transportation: str
    accessibility: list[str]


class OrganizationRefOut(Schema):
    id: uuid.UUID
    name: str


class ContactOut(Schema):
    name: str
    phones: list[str]
    email: str


class CostOut(Schema):
    free: bool
    fees_description: str
    options: list[dict[str, Any]]


class ActivityOut(Schema):
    service_at_location_id: uuid.UUID
    service_id: uuid.UUID
    name: str
    description: str
    translations: dict[str, dict[str, str]]
    organization: OrganizationRefOut
    taxonomy: list[str]
    languages: list[str]
    interpretation_services: str
    cost: CostOut
    minimum_age: int | None
    maximum_age: int | None
    application_process: str
    what_to_bring: str
    contacts: list[ContactOut]
    place: PlaceOut
    distance_km: float | None
    next_sessions: list[SessionOut]
    capacity: CapacityOut
    assured_date: date | None
    stale: bool = Field(description="Not confirmed by its organisation for a long while.")


class ActivityListOut(Schema):
    total: int
    limit: int
    offset: int
    items: list[ActivityOut]


class ServiceDeletedOut(Schema):
    deleted: bool
    status: str | None = Field(description="The service's status when it was kept.")
    live_referrals: int
    message: str


class CloseIn(StrictSchema):
    alert: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^[^\x00]*$",
        description="Shown to people: why, and until when.",
    )


class CapacityIn(StrictSchema):
    status: ServiceAtLocation.CapacityStatus | None = None
    available: int | None = Field(None, ge=0, le=100_000)
    maximum: int | None = Field(None, ge=0, le=100_000)


class ImportProblemOut(Schema):
    record: int | None = None
    field: str
    message: str


class ImportedServiceOut(Schema):
    record: int
    id: str
    name: str
    action: Literal["created", "updated", "unchanged", "skipped"]
    changes: list[str] = []


class ImportReportOut(Schema):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    skipped: int
    services: list[ImportedServiceOut]
    errors: list[ImportProblemOut]
    warnings: list[ImportProblemOut]
