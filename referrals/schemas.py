"""HTTP bodies of the referrals API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints, field_validator

_LANGUAGE = re.compile(r"^[a-z]{2}$")

Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class StrictSchema(Schema):
    # An unknown field is most often a typo in a client; refusing it says so at once.
    model_config = ConfigDict(extra="forbid")


class GeoPointIn(StrictSchema):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class ConsentIn(StrictSchema):
    given: bool = Field(description="The person agreed to be referred; must be true.")
    method: Literal["verbal", "written", "electronic"]
    at: datetime = Field(description="When consent was given, ISO 8601 with offset.")
    scope: Text = Field(default="referral", max_length=200)

    @field_validator("given")
    @classmethod
    def must_be_given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("a referral needs the person's consent")
        return value

    @field_validator("at")
    @classmethod
    def must_have_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-11-25T10:00:00+01:00")
        return value


class ReferralIn(StrictSchema):
    patient_ref: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = Field(description="A pseudonymous reference from the practice; never a health number.")
    first_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)
    ]
    year_of_birth: int = Field(ge=1900)
    preferred_language: str = Field(default="fr", description="ISO 639-1 code, e.g. 'fr'.")
    location: GeoPointIn = Field(description="Where the person lives, roughly.")
    postcode: Text = Field(default="", max_length=16)
    needs: list[Text] = Field(min_length=1, max_length=10, description="Taxonomy codes.")
    max_distance_km: float = Field(default=5, gt=0, le=100)
    note_for_patient: Text = Field(default="", max_length=1000)
    clinical_reason: Text = Field(default="", max_length=2000)
    clinician_name: Text = Field(default="", max_length=200)
    consent: ConsentIn

    @field_validator("year_of_birth")
    @classmethod
    def not_in_future(cls, value: int) -> int:
        if value > date.today().year:
            raise ValueError("year_of_birth is in the future")
        return value

    @field_validator("preferred_language")
    @classmethod
    def iso_639_1(cls, value: str) -> str:
        value = value.strip().lower()
        if not _LANGUAGE.match(value):
            raise ValueError("use a two-letter ISO 639-1 code such as 'fr' or 'en'")
        return value


class LinksOut(Schema):
    self: str
    slip: str


class ReferralAcceptedOut(Schema):
    id: UUID
    code: str
    stage: str
    links: LinksOut


class MatchOut(Schema):
    rank: int
    service_id: UUID
    service_at_location_id: UUID
    activity: str
    organization: str
    place: str
    distance_km: float
    reasons: list[str]


class ReferralOut(Schema):
    id: UUID
    code: str
    stage: str
    created_at: datetime
    updated_at: datetime
    preferred_language: str
    needs: list[str]
    matches: list[MatchOut]
    slip_ready: bool
    links: LinksOut


class ReferralListOut(Schema):
    items: list[ReferralOut]
    total: int
    limit: int
    offset: int
