"""HSDS 3.0 records as Tisser reads them: one pydantic model per object, with the rules
HSDS states and those Tisser adds (coordinates in range, a schedule that can happen)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from time import monotonic
from typing import Any, Literal

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from community_catalog.costs import text_cost_state
from community_catalog.models import Location, Service, ServiceAtLocation
from community_catalog.schedules import schedule_happens
from community_catalog.taxonomy import taxonomy_key
from community_catalog.values import (
    Age,
    Code16,
    CountryCode,
    CurrencyCode,
    Email,
    IcalDays,
    LanguageCode,
    MonthDays,
    Name,
    Phone,
    ShortText,
    TermText,
    Text,
    Time,
    Url,
    WeekNumbers,
    YearDays,
)


class CheckTimeExceeded(Exception):
    """Checking went past the caller's deadline; `checked` records were checked. Not a
    ValueError, so that pydantic lets it through rather than report it as a problem."""

    def __init__(self, checked: int) -> None:
        super().__init__(f"checking stopped after {checked} records")
        self.checked = checked


def deadline_check(deadline: float | None, checked: int) -> None:
    if deadline is not None and monotonic() > deadline:
        raise CheckTimeExceeded(checked)


# --- The records ---------------------------------------------------------------------


class _Obj(BaseModel):
    # HSDS has many more fields than Tisser keeps; the unknown ones are ignored.
    # (Empty lists are made by `default_factory`: pydantic deep-copies a `[]` default
    # for every record, a tenth of an import's time.)
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class HsdsLanguage(_Obj):
    id: uuid.UUID
    name: ShortText = ""
    code: LanguageCode | None = None
    note: Text = ""


class HsdsPhone(_Obj):
    id: uuid.UUID
    number: Phone
    extension: str = Field("", pattern=r"^\d{0,16}$", description="Digits only.")
    type: Code16 = ""
    description: Text = ""
    languages: list[HsdsLanguage] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _extension_as_text(cls, data: Any) -> Any:
        # HSDS types `extension` as a number; Tisser keeps its digits as text.
        if isinstance(data, dict):
            extension = data.get("extension")
            if isinstance(extension, float) and extension.is_integer():
                extension = int(extension)
            if isinstance(extension, int) and not isinstance(extension, bool):
                data = {**data, "extension": str(extension)}
            elif extension is None:
                data = {**data, "extension": ""}
        return data


class HsdsContact(_Obj):
    id: uuid.UUID
    name: Name = ""
    title: Name = ""
    department: Name = ""
    email: Email = ""
    phones: list[HsdsPhone] = Field(default_factory=list)


class HsdsSchedule(_Obj):
    id: uuid.UUID
    freq: Literal["WEEKLY", "MONTHLY"] | None = None
    interval: int | None = Field(None, ge=1, le=52)
    byday: IcalDays = ""
    bymonthday: MonthDays = ""
    byweekno: WeekNumbers = ""
    byyearday: YearDays = ""
    wkst: Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"] | None = None
    count: int | None = Field(None, ge=1, le=10_000)
    opens_at: Time = None
    closes_at: Time = None
    valid_from: date | None = None
    valid_to: date | None = None
    dtstart: date | None = None
    until: date | None = None
    timezone: float | None = Field(None, ge=-14, le=14)
    description: Text = ""
    schedule_link: Url = ""
    attending_type: Name = ""
    notes: Text = ""

    @model_validator(mode="after")
    def _ordered(self, info: ValidationInfo) -> HsdsSchedule:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        if self.dtstart and self.until and self.until < self.dtstart:
            raise ValueError("until must not be before dtstart")
        context = info.context or {}
        # The reader says what day it is once for the whole document.
        today = context.get("today") or timezone.localdate()
        # An ended schedule is never walked (the official examples have an impossible one
        # that ended in 2005); a current one must have dates.
        ended = any(day and day < today for day in (self.until, self.valid_to))
        # A rule that never happens takes dateutil seconds to rule out: none is
        # started past the reader's deadline.
        deadline_check(context.get("deadline"), context.get("record", 0))
        if not ended and not schedule_happens(self):
            raise ValueError("this schedule never happens: no date matches all its rules")
        return self


class HsdsAddress(_Obj):
    id: uuid.UUID
    attention: Name = ""
    address_1: Name = Field(min_length=1)
    address_2: Name = ""
    city: ShortText = Field(min_length=1)
    region: ShortText = ""
    state_province: ShortText = ""
    postal_code: Code16 = Field(min_length=1)
    country: CountryCode
    address_type: Literal["physical", "postal", "virtual"] = "physical"


class HsdsAccessibility(_Obj):
    id: uuid.UUID
    description: Text = ""
    details: Text = ""
    url: Url = ""


def _coordinates_in_range(data: Any, info: ValidationInfo) -> Any:
    """Out-of-range coordinates are dropped with a warning rather than failing the file:
    published HSDS data has them (the official examples use latitude 100). The location
    is kept, without a position, so it is never matched by distance."""
    if not isinstance(data, dict):
        return data
    warnings = (info.context or {}).get("warnings")
    cleaned = dict(data)
    for name, bound in (("latitude", 90), ("longitude", 180)):
        value = data.get(name)
        if isinstance(value, int | float) and not -bound <= value <= bound:
            cleaned["latitude"] = cleaned["longitude"] = None
            if warnings is not None:
                warnings.append(
                    (
                        f"location {data.get('id')}.{name}",
                        f"{value} is outside -{bound}..{bound}: the location is imported "
                        "without coordinates and cannot be found by distance",
                    )
                )
    return cleaned


class HsdsLocation(_Obj):
    id: uuid.UUID
    location_type: Location.LocationType = Location.LocationType.PHYSICAL
    url: Url = ""
    name: Name = ""
    alternate_name: Name = ""
    description: Text = ""
    transportation: Text = ""
    latitude: float | None = None
    longitude: float | None = None
    languages: list[HsdsLanguage] = Field(default_factory=list)
    addresses: list[HsdsAddress] = Field(default_factory=list)
    accessibility: list[HsdsAccessibility] = Field(default_factory=list)
    phones: list[HsdsPhone] = Field(default_factory=list)
    contacts: list[HsdsContact] = Field(default_factory=list)
    schedules: list[HsdsSchedule] = Field(default_factory=list)
    # Tisser extension: a shelter or a private home, whose address is never shown.
    confidential: bool = False

    _coordinates = model_validator(mode="before")(_coordinates_in_range)

    @model_validator(mode="after")
    def _both_coordinates(self) -> HsdsLocation:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together: give both or neither")
        if self.latitude is not None and self.longitude is not None:
            # -0.0 is 0.0 (SQLite stores it so, PostgreSQL would keep the sign).
            self.latitude, self.longitude = self.latitude + 0.0, self.longitude + 0.0
        return self


class HsdsCapacity(_Obj):
    """Tisser extension on service_at_location: places left, and whether to refer."""

    status: ServiceAtLocation.CapacityStatus = ServiceAtLocation.CapacityStatus.HAS_CAPACITY
    available: int | None = Field(None, ge=0, le=100_000)
    maximum: int | None = Field(None, ge=0, le=100_000)
    updated: datetime | None = None

    @model_validator(mode="after")
    def _within_maximum(self) -> HsdsCapacity:
        if (
            self.available is not None
            and self.maximum is not None
            and (self.available > self.maximum)
        ):
            raise ValueError("available must not exceed maximum")
        return self


class HsdsServiceAtLocation(_Obj):
    id: uuid.UUID
    description: Text = ""
    contacts: list[HsdsContact] = Field(default_factory=list)
    phones: list[HsdsPhone] = Field(default_factory=list)
    schedules: list[HsdsSchedule] = Field(default_factory=list)
    location: HsdsLocation | None = None
    location_id: uuid.UUID | None = None
    capacity: HsdsCapacity | None = None

    @model_validator(mode="after")
    def _has_location(self) -> HsdsServiceAtLocation:
        if self.location is None and self.location_id is None:
            raise ValueError("a service_at_location needs its location (or location_id)")
        if self.location and self.location_id and self.location.id != self.location_id:
            raise ValueError("location_id differs from location.id")
        return self

    @property
    def target_location_id(self) -> uuid.UUID:
        return self.location.id if self.location else self.location_id  # type: ignore[return-value]


class HsdsOrganization(_Obj):
    id: uuid.UUID
    name: Name = Field(min_length=1)
    alternate_name: Name = ""
    description: Text = ""
    email: Email = ""
    website: Url = ""


class HsdsCostOption(_Obj):
    id: uuid.UUID
    valid_from: date | None = None
    valid_to: date | None = None
    option: Name = ""
    currency: CurrencyCode | None = None
    amount: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    amount_description: Name = ""


class HsdsTaxonomyDetail(_Obj):
    name: TermText = ""
    uri: TermText = ""


class HsdsTaxonomyTerm(_Obj):
    id: uuid.UUID
    code: TermText = ""
    name: TermText = ""
    taxonomy: TermText = ""
    taxonomy_id: uuid.UUID | None = None
    taxonomy_detail: HsdsTaxonomyDetail | None = None

    @property
    def taxonomy_key(self) -> str:
        """Which taxonomy the term belongs to: its URI when the file gives one, else
        the taxonomy's name, else its id; "" when the file names none."""
        detail = self.taxonomy_detail
        for candidate in (
            detail.uri if detail else "",
            self.taxonomy,
            detail.name if detail else "",
            str(self.taxonomy_id or ""),
        ):
            if candidate.strip():
                return taxonomy_key(candidate)
        return ""

    @property
    def term_code(self) -> str:
        """The term's code, or its name when it has none (many directories give only
        names)."""
        return " ".join((self.code or self.name).split())[:200]


class HsdsAttribute(_Obj):
    id: uuid.UUID
    taxonomy_term: HsdsTaxonomyTerm | None = None


class HsdsService(_Obj):
    id: uuid.UUID
    name: Name = Field(min_length=1)
    alternate_name: Name = ""
    description: Text = ""
    url: Url = ""
    email: Email = ""
    status: Literal["active", "inactive", "defunct", "temporarily closed"]
    interpretation_services: Text = ""
    application_process: Text = ""
    # Tisser extension: what to bring to the first session (comfortable shoes, an apron).
    what_to_bring: Text = ""
    fees_description: Text = ""
    wait_time: Name = ""
    eligibility_description: Text = ""
    minimum_age: Age | None = None
    maximum_age: Age | None = None
    assured_date: date | None = None
    alert: Text = ""
    last_modified: datetime | None = None
    organization: HsdsOrganization | None = None
    organization_id: uuid.UUID | None = None
    phones: list[HsdsPhone] = Field(default_factory=list)
    schedules: list[HsdsSchedule] = Field(default_factory=list)
    service_at_locations: list[HsdsServiceAtLocation] = Field(default_factory=list)
    languages: list[HsdsLanguage] = Field(default_factory=list)
    cost_options: list[HsdsCostOption] = Field(default_factory=list)
    contacts: list[HsdsContact] = Field(default_factory=list)
    attributes: list[HsdsAttribute] = Field(default_factory=list)
    # Tisser extension: the texts in other languages, {"en": {"name": ..., ...}}.
    translations: dict[LanguageCode, dict[str, str]] = Field(default_factory=dict)
    # Tisser extension: the organisation says it is free, paid, or not stated (people
    # ask); left out, Tisser reads the cost options and the fees text
    # (`community_catalog.costs`).
    cost: Literal["free", "paid", "not-stated"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> HsdsService:
        if (
            self.minimum_age is not None
            and self.maximum_age is not None
            and (self.maximum_age < self.minimum_age)
        ):
            raise ValueError("maximum_age must not be below minimum_age")
        if (
            self.organization
            and self.organization_id
            and self.organization.id != (self.organization_id)
        ):
            raise ValueError("organization_id differs from organization.id")
        locations = [sal.target_location_id for sal in self.service_at_locations]
        if len(set(locations)) != len(locations):
            raise ValueError("two service_at_locations point at the same location")
        sal_ids = [sal.id for sal in self.service_at_locations]
        if len(set(sal_ids)) != len(sal_ids):
            raise ValueError("two service_at_locations have the same id")
        amounts = [c.amount for c in self.cost_options if c.amount is not None]
        if self.cost in ("free", "not-stated") and any(a > 0 for a in amounts):
            raise ValueError(
                f"cost is {self.cost!r} but a cost option has an amount above 0: "
                "say 'paid', or remove the amount"
            )
        fees = [
            self.fees_description,
            *(t.get("fees_description", "") for t in self.translations.values()),
        ]
        if self.cost == "free" and any(text_cost_state(text) == "paid" for text in fees):
            raise ValueError("cost is 'free' but fees_description says there is something to pay")
        for language, texts in self.translations.items():
            if any("\x00" in text for text in texts.values()):
                raise ValueError(f"translations.{language}: contains a NUL character")
            unknown = set(texts) - set(Service.TRANSLATED_FIELDS)
            if unknown:
                raise ValueError(
                    f"translations.{language}: {', '.join(sorted(unknown))} cannot be "
                    f"translated; translatable fields: {', '.join(Service.TRANSLATED_FIELDS)}"
                )
        return self

    @property
    def owner_id(self) -> uuid.UUID | None:
        return self.organization.id if self.organization else self.organization_id
