"""Schemas of the catalogue endpoints. Services and locations travel as HSDS 3.0 objects
(`community_catalog.hsds`); these are the rest."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from community_catalog import examples
from community_catalog.models import ServiceAtLocation
from core.schemas import example_config


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class BuiltOut(BaseModel):
    """An output built field by field: a plain pydantic model, checked once when built.
    (A ninja `Schema` reads its input through a getter for Django objects, then again
    when the response is checked: a third of a search's time on a page of twenty.)"""


class TaxonomyTermOut(Schema):
    model_config = example_config(examples.TERM)

    id: uuid.UUID
    code: str
    kind: Literal["need", "activity"]
    name_fr: str
    name_en: str
    description: str
    active: bool = Field(
        description="An inactive code is kept on what carries it, but is no longer accepted "
        "in new referrals nor reached by matching."
    )
    activities: list[str] = Field(
        description="For a need: the kinds of activity that answer it (and every kind below "
        "them in the tree)."
    )
    children: list[TaxonomyTermOut]


class TaxonomyOut(Schema):
    model_config = example_config(examples.TAXONOMY)

    taxonomy: str = Field(description="Name of the taxonomy, as in HSDS `taxonomy_term.taxonomy`.")
    version: str = Field(description="Changes with every change to the taxonomy or crosswalks.")
    terms: list[TaxonomyTermOut]


# No NUL character: PostgreSQL cannot store one, and no person typed it.
_NO_NUL = r"^[^\x00]*$"
Code = Annotated[str, Field(max_length=64, pattern=_NO_NUL)]


class TermCreateIn(StrictSchema):
    model_config = example_config(examples.TERM_CREATE_IN)

    code: str = Field(
        max_length=64,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="For good: never renamed. Lower-case words joined by hyphens.",
    )
    kind: Literal["need", "activity"]
    name_fr: str = Field(min_length=1, max_length=200, pattern=_NO_NUL)
    name_en: str = Field(min_length=1, max_length=200, pattern=_NO_NUL)
    description: str = Field("", max_length=2000, pattern=_NO_NUL)
    parent: str | None = Field(
        None,
        max_length=64,
        pattern=_NO_NUL,
        description="A term of the same kind; left out, the top of its kind (needs or activities).",
    )
    activities: list[Code] | None = Field(
        None, max_length=100, description="For a need: the kinds of activity that answer it."
    )


class TermPatchIn(StrictSchema):
    model_config = example_config(examples.TERM_PATCH_IN)

    name_fr: str | None = Field(None, min_length=1, max_length=200, pattern=_NO_NUL)
    name_en: str | None = Field(None, min_length=1, max_length=200, pattern=_NO_NUL)
    description: str | None = Field(None, max_length=2000, pattern=_NO_NUL)
    parent: str | None = Field(
        None, max_length=64, pattern=_NO_NUL, description='"" places it at the top.'
    )
    active: bool | None = None
    activities: list[Code] | None = Field(None, max_length=100)


class CrosswalkIn(StrictSchema):
    model_config = example_config(examples.CROSSWALK_IN)

    taxonomy: str = Field(
        max_length=300,
        pattern=_NO_NUL,
        description='The other taxonomy\'s URI or name, as its files give it ("" if none).',
    )
    code: str = Field(
        min_length=1, max_length=200, pattern=_NO_NUL, description="The term's code there."
    )
    tisser_codes: list[Code] = Field(
        max_length=20,
        description="The Tisser codes it stands for; [] says it has no correspondence.",
    )
    label: str = Field("", max_length=300, pattern=_NO_NUL)


class CrosswalkOut(Schema):
    id: uuid.UUID | None = Field(description="None for an automatic mapping (same code).")
    taxonomy: str
    code: str
    label: str
    tisser_codes: list[str]
    automatic: bool = Field(
        description="A code equal to a Tisser code, mapped to it until a crosswalk row says "
        "otherwise."
    )
    services: int = Field(description="Active services carrying the term.")


class CrosswalkSetOut(CrosswalkOut):
    model_config = example_config(examples.CROSSWALK_SET)

    services_updated: int = Field(
        description="Services already imported whose matching changed at once."
    )


class CrosswalkListOut(Schema):
    model_config = example_config(examples.CROSSWALK_LIST)

    total: int
    limit: int
    offset: int
    items: list[CrosswalkOut]


class UnmappedOut(Schema):
    taxonomy: str
    code: str
    label: str
    services: int = Field(description="Active services carrying the term.")
    suggestions: list[str] = Field(
        description="Up to three Tisser codes whose labels look alike: never applied "
        "without a person choosing."
    )


class UnmappedListOut(Schema):
    model_config = example_config(examples.UNMAPPED_LIST)

    total: int
    limit: int
    offset: int
    items: list[UnmappedOut]


class SessionOut(BuiltOut):
    starts_at: datetime
    ends_at: datetime


class CapacityOut(BuiltOut):
    model_config = example_config(examples.CAPACITY)

    status: ServiceAtLocation.CapacityStatus
    available: int | None
    maximum: int | None
    updated: datetime | None


class AddressOut(BuiltOut):
    address_1: str
    address_2: str
    postal_code: str
    city: str
    country: str


class PlaceOut(BuiltOut):
    id: uuid.UUID | None = Field(description="Absent for a confidential place.")
    name: str
    confidential: bool
    address: AddressOut | None
    latitude: float | None
    longitude: float | None
    transportation: str
    accessibility: list[str]


class OrganizationRefOut(BuiltOut):
    id: uuid.UUID
    name: str


class ContactOut(BuiltOut):
    name: str
    phones: list[str]
    email: str


class CostOut(BuiltOut):
    state: Literal["free", "paid", "not-stated"] = Field(
        description="Free, paid, or not stated (ask): what matching and slips also read."
    )
    free: bool = Field(description="`state` is free.")
    fees_description: str
    options: list[dict[str, Any]]


class ActivityOut(BuiltOut):
    service_at_location_id: uuid.UUID
    service_id: uuid.UUID
    name: str
    description: str
    translations: dict[str, dict[str, str]]
    organization: OrganizationRefOut
    taxonomy: list[str] = Field(
        description="The Tisser codes it answers to: its own, and its directory's terms as "
        "crosswalks read them."
    )
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


class ActivityListOut(BuiltOut):
    model_config = example_config(examples.ACTIVITY_LIST)

    total: int
    limit: int
    offset: int
    items: list[ActivityOut]


class ServiceDeletedOut(Schema):
    model_config = example_config(examples.SERVICE_DELETED)

    deleted: bool
    status: str | None = Field(description="The service's status when it was kept.")
    live_referrals: int
    message: str


class CloseIn(StrictSchema):
    model_config = example_config(examples.CLOSE_IN)

    alert: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^[^\x00]*$",
        description="Shown to people: why, and until when.",
    )


class CapacityIn(StrictSchema):
    model_config = example_config(examples.CAPACITY_IN)

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


class UnmappedTermOut(Schema):
    taxonomy: str
    code: str
    label: str
    services: int = Field(description="Services of this file carrying it.")


class ImportReportOut(Schema):
    model_config = example_config(examples.IMPORT_REPORT)

    dry_run: bool
    created: int
    updated: int
    unchanged: int
    skipped: int
    services: list[ImportedServiceOut] = Field(
        description="Each record imported, and each invalid record whose problems are listed."
    )
    errors: list[ImportProblemOut] = Field(description="The first 100 problems, in record order.")
    more_invalid_records: int = Field(
        0, description="Invalid records none of whose problems are listed in `errors`."
    )
    warnings: list[ImportProblemOut] = Field(description="The first 100 warnings.")
    more_warnings: int = Field(0, description="Warnings not listed.")
    unmapped_terms: list[UnmappedTermOut] = Field(
        description="Terms of other taxonomies the file's services carry that nothing "
        "maps to Tisser's codes yet: kept, and matched once a crosswalk maps them."
    )
