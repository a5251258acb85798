"""HTTP bodies of the referrals API."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from ninja import Schema
from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.schemas import ModelOut, StrictSchema, Text, example_config, no_nul
from matching.reasons import explanation_text, reason_text
from referrals import examples
from referrals.lifecycle import CENTER_ACTIONS, allowed_actions
from referrals.models import Contact, Placement

_LANGUAGE = re.compile(r"^[a-z]{2}$")


class GeoPointIn(StrictSchema):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


def _with_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset, e.g. 2026-11-25T10:00:00+01:00")
    return value


ConsentMethod = Literal["verbal", "written", "electronic"]
ConsentAt = Annotated[datetime, AfterValidator(_with_offset)]


class ConsentIn(StrictSchema):
    given: bool = Field(description="The person agreed to be referred; must be true.")
    method: ConsentMethod
    at: ConsentAt = Field(description="When consent was given, ISO 8601 with offset.")
    scope: Text = Field(default="referral", max_length=200)

    @field_validator("given")
    @classmethod
    def must_be_given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("a referral needs the person's consent")
        return value


class MessagesConsentIn(StrictSchema):
    given: bool = Field(
        description="The person agreed to a few messages (their page's link, a reminder, "
        "'did you go?') and to a personal page; separate from the referral's consent."
    )
    method: ConsentMethod
    at: ConsentAt = Field(description="When they agreed, ISO 8601 with offset.")


def _email(value: str) -> str:
    if not value:
        return value
    try:
        found = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not an e-mail address: {exc}") from None
    return found.normalized


def _phone(value: str) -> str:
    """A mobile number in E.164 (+33612345678); a French number may be given as 06…."""
    if not value:
        return value
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number; give it as +33612345678") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValueError("not a mobile number: messages are sent by SMS")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class ContactIn(StrictSchema):
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] = Field(
        default="", description="Where messages go by e-mail."
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = Field(
        default="", description="A mobile number for SMS, E.164 (+33612345678)."
    )
    messages_consent: MessagesConsentIn | None = Field(
        default=None, description="Without it (or with given false) nothing is sent."
    )

    @field_validator("email")
    @classmethod
    def email_form(cls, value: str) -> str:
        return _email(no_nul(value))

    @field_validator("phone")
    @classmethod
    def phone_form(cls, value: str) -> str:
        return _phone(no_nul(value))

    @model_validator(mode="after")
    def only_with_consent(self) -> ContactIn:
        """An address is kept only to send what the person agreed to."""
        agreed = self.messages_consent is not None and self.messages_consent.given
        if (self.email or self.phone) and not agreed:
            raise ValueError(
                "an e-mail address or a phone number is kept only with the person's "
                "consent to messages: give messages_consent with given true, or leave "
                "them out"
            )
        return self


Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
# What a place must offer for the person to get in and take part; matched against the
# places' accessibility by the matching (issue 5 ranks on it).
AccessibilityNeed = Literal[
    "wheelchair", "step-free", "hearing-loop", "sight-loss", "quiet-space", "accessible-toilet"
]


class AvailabilityIn(StrictSchema):
    """A time of the week when the person is free, in the catalogue's time zone."""

    weekday: Weekday
    start: time = Field(description="e.g. 14:00")
    end: time = Field(description="e.g. 18:00; after start")

    @model_validator(mode="after")
    def ordered(self) -> AvailabilityIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


Score = Annotated[int, Field(ge=0, le=10)]


class WellbeingIn(StrictSchema):
    """The four ONS personal wellbeing questions, each answered from 0 to 10."""

    life_satisfaction: Score = Field(
        description="Overall, how satisfied are you with your life nowadays?"
    )
    worthwhile: Score = Field(
        description="Overall, to what extent do you feel that the things you do in your "
        "life are worthwhile?"
    )
    happiness: Score = Field(description="Overall, how happy did you feel yesterday?")
    anxiety: Score = Field(
        description="On a scale where 0 is not at all anxious and 10 is completely anxious, "
        "overall, how anxious did you feel yesterday?"
    )


class ReferralIn(StrictSchema):
    model_config = example_config(examples.REFERRAL_IN)

    patient_ref: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        AfterValidator(no_nul),
    ] = Field(description="A pseudonymous reference from the practice; never a health number.")
    first_name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
        AfterValidator(no_nul),
    ]
    year_of_birth: int = Field(ge=1900)
    preferred_language: str = Field(default="fr", description="ISO 639-1 code, e.g. 'fr'.")
    location: GeoPointIn | None = Field(
        default=None, description="Where the person lives, roughly; or give `postcode`."
    )
    postcode: Text = Field(
        default="",
        max_length=16,
        validate_default=True,
        description="Used for the position when `location` is absent.",
    )
    needs: list[Text] = Field(min_length=1, max_length=10, description="Taxonomy codes.")
    availability: list[AvailabilityIn] = Field(
        default=[], max_length=21, description="When the person is free; empty: any time."
    )
    max_distance_km: float = Field(default=5, gt=0, le=100)
    matches_wanted: int | None = Field(
        default=None, ge=1, le=5, description="Activities to propose (default 3)."
    )
    accessibility_needs: list[AccessibilityNeed] = Field(default=[], max_length=6)
    free_only: bool = Field(default=False, description="Only activities that cost nothing.")
    large_print: bool = Field(default=False, description="Print the slip in large type.")
    note_for_patient: Text = Field(default="", max_length=1000)
    note_for_organization: Text = Field(
        default="", max_length=1000, description="Shown to the organisation that welcomes them."
    )
    clinical_reason: Text = Field(default="", max_length=2000)
    clinician_name: Text = Field(default="", max_length=200)
    consent: ConsentIn
    do_not_contact: bool = Field(
        default=False, description="Organisations must not contact the person: they come."
    )
    preferred_contact: Literal["phone", "sms", "email", "post", "in-person"] | None = None
    contact: ContactIn | None = Field(
        default=None,
        description="How to reach the person after the slip, with their consent to "
        "messages. `do_not_contact` wins: then nothing is ever sent.",
    )
    wellbeing: WellbeingIn | None = Field(
        default=None,
        description="The person's answers to the four ONS wellbeing questions today; only "
        "for health centres that record wellbeing.",
    )

    @field_validator("postcode")
    @classmethod
    def somewhere(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.data.get("location") is None and "location" in info.data:
            raise ValueError("give location (latitude, longitude) or postcode")
        return value

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
    slip_html: str
    events: str
    fhir: str
    cancel: str


SLIP_LANGUAGES_DOC = (
    "The slip's languages: the preferred language when slips are printed in it (fr, en, "
    'ar, es, pt, tr, ro, uk, ru, zh), else `["fr", "en"]`: French with English under '
    "each text."
)


class ReferralAcceptedOut(Schema):
    model_config = example_config(examples.REFERRAL_ACCEPTED)

    id: UUID
    code: str
    stage: str
    slip_languages: list[str] = Field(description=SLIP_LANGUAGES_DOC)
    links: LinksOut


class MatchOut(Schema):
    rank: int
    service_id: UUID
    service_at_location_id: UUID
    activity: str
    organization: str
    place: str
    distance_km: float = Field(
        description="Whole kilometres rounded up for a confidential place, and for every "
        "place once the person's data is erased."
    )
    score: float | None = Field(
        description="0 to 1: the weighted mean of the score's parts. Null once the "
        "person's data is erased (it comes from where they live)."
    )
    reasons: list[str]


class ScorePartOut(Schema):
    name: Literal[
        "distance", "schedule", "language", "cost", "accessibility", "freshness", "capacity"
    ]
    score: float = Field(description="0 (worst) to 1 (best).")
    weight: float
    contribution: float = Field(description="weight * score / the sum of the weights.")


class ReasonOut(Schema):
    code: str
    fr: str
    en: str

    @classmethod
    def of(cls, reason: Mapping[str, Any]) -> ReasonOut:
        """A stored reason (a code and its parameters), in words when it is read."""
        return cls(
            code=str(reason.get("code", "")),
            fr=reason_text(reason, "fr"),
            en=reason_text(reason, "en"),
        )


class TravelOut(Schema):
    mode: Literal["walk", "transit"]
    minutes: int


class MatchExplainedOut(Schema):
    rank: int
    service_id: UUID
    service_at_location_id: UUID
    activity: str
    organization: str
    place: str
    distance_km: float
    travel: TravelOut | None = Field(description="Null once the person's data is erased.")
    score: float | None = Field(description="Null once the person's data is erased.")
    parts: list[ScorePartOut] = Field(description="Empty once the person's data is erased.")
    reasons: list[ReasonOut]
    placement_status: str | None


class UnmatchedOut(Schema):
    code: Literal[
        "needs",
        "distance",
        "unmapped",
        "schedule",
        "language",
        "age",
        "cost",
        "capacity",
        "offered",
    ] = Field(
        description="The first filter that left nothing: needs (no longer in use); "
        "distance; unmapped (activities "
        "nearby whose directory's terms are not mapped to Tisser's yet); schedule (no "
        "session within the offer horizon); language; age; cost (free asked); capacity; "
        "offered (everything suitable was offered already)."
    )
    alternatives: int = Field(description="What relaxing that filter would find.")
    fr: str
    en: str

    @classmethod
    def of(cls, explanation: Mapping[str, Any] | None) -> UnmatchedOut | None:
        """A stored explanation (a code and its parameters), in words when it is read."""
        if not explanation:
            return None
        return cls(
            code=explanation["code"],
            alternatives=explanation.get("alternatives", 0),
            fr=explanation_text(explanation, "fr"),
            en=explanation_text(explanation, "en"),
        )


class MatchesOut(Schema):
    model_config = example_config(examples.MATCHES)

    items: list[MatchExplainedOut]
    unmatched_explanation: UnmatchedOut | None


PlacementStatus = Literal[
    "requested",
    "accepted",
    "rejected",
    "cancelled",
    "in-progress",
    "on-hold",
    "completed",
    "failed",
]
PlacementReason = Literal[
    "no-capacity",
    "not-eligible",
    "could-not-contact",
    "no-longer-interested",
    "referred-elsewhere",
    "expired",
    "cancelled-by-center",
    "patient-asked-other",
]
RejectionReason = Literal[
    "no-capacity",
    "not-eligible",
    "could-not-contact",
    "no-longer-interested",
    "referred-elsewhere",
]


class PlacementOut(ModelOut):
    """The referral offered to one activity: what the health centre sees of it."""

    model_config = example_config(examples.PLACEMENT)

    id: UUID
    status: PlacementStatus
    status_reason: PlacementReason | None
    note: str = Field(description="The organisation's last comment, if any.")
    cancel_reason: str = Field(
        description="Why the centre cancelled it; never shown to the organisation."
    )
    rank: int = Field(description="The rank of the match it offers.")
    organization: str
    organization_id: UUID
    service_id: UUID
    activity: str
    requested_at: datetime
    updated_at: datetime
    reminded_at: datetime | None
    allowed_actions: list[Literal["cancel"]]
    chosen_session: datetime | None = Field(
        description="The session the person said, on their own page, they will come to."
    )
    patient_report: Literal["went", "not-for-me"] | None = Field(
        description="What the person said on their own page: patient-reported, apart "
        "from the organisation's `status`."
    )

    @staticmethod
    def resolve_patient_report(placement: Placement) -> str | None:
        return placement.patient_report or None

    @staticmethod
    def resolve_status_reason(placement: Placement) -> str | None:
        return placement.status_reason or None

    @staticmethod
    def resolve_cancel_reason(placement: Placement) -> str:
        return placement.center_note

    @staticmethod
    def resolve_rank(placement: Placement) -> int:
        return placement.match.rank

    @staticmethod
    def resolve_organization(placement: Placement) -> str:
        return placement.organization.name

    @staticmethod
    def resolve_service_id(placement: Placement) -> UUID:
        return placement.match.service_at_location.service_id

    @staticmethod
    def resolve_activity(placement: Placement) -> str:
        return placement.match.service_at_location.service.name

    @staticmethod
    def resolve_allowed_actions(placement: Placement) -> list[str]:
        return allowed_actions(placement.status, CENTER_ACTIONS)


class PersonContactOut(Schema):
    email: bool = Field(description="An e-mail address was given.")
    phone: bool = Field(description="A mobile number was given.")
    messages: Literal["on", "stopped", "withdrawn", "do_not_contact", "no_consent", "no_address"]
    channel: Literal["email", "sms"] | None
    personal_page: Literal["open", "closed", "none"]
    other_wanted_at: datetime | None = Field(
        description="When the person asked for something else on their page."
    )

    @staticmethod
    def of(contact: Contact | None) -> PersonContactOut | None:
        if contact is None:
            return None
        return PersonContactOut(
            email=bool(contact.email),
            phone=bool(contact.phone),
            messages=contact.messages_state,  # type: ignore[arg-type]
            channel=(contact.channel or None) if contact.messages_state == "on" else None,  # type: ignore[arg-type]
            personal_page=(
                "open" if contact.page_is_open() else "closed" if contact.page_token else "none"
            ),
            other_wanted_at=contact.other_wanted_at,
        )


class ReferralOut(Schema):
    model_config = example_config(examples.REFERRAL)

    id: UUID
    code: str
    stage: str
    created_at: datetime
    updated_at: datetime
    preferred_language: str
    needs: list[str]
    postcode: str
    max_distance_km: float
    availability: list[AvailabilityIn]
    accessibility_needs: list[str]
    free_only: bool
    large_print: bool
    do_not_contact: bool
    preferred_contact: str | None
    status: Literal["active", "revoked", "completed"] = Field(
        description="FHIR ServiceRequest status: `revoked` once cancelled by the centre, "
        "`completed` once every offer has ended with at least one outcome."
    )
    closed_at: datetime | None
    consent_withdrawn_at: datetime | None
    personal_data_erased_at: datetime | None = Field(
        description="When the personal data was erased: consent withdrawn, or "
        "TISSER_RETENTION_DAYS after the referral closed. Counts and outcomes stay."
    )
    cancel_reason: str
    matches: list[MatchOut]
    unmatched_explanation: UnmatchedOut | None
    placements: list[PlacementOut]
    slip_languages: list[str] = Field(description=SLIP_LANGUAGES_DOC)
    contact: PersonContactOut | None = Field(
        description="Whether the person can be reached after the slip (never the "
        "addresses themselves); null without a contact."
    )
    slip_ready: bool
    slip_version: int | None
    links: LinksOut


class ReferralListOut(Schema):
    model_config = example_config(examples.REFERRAL_LIST)

    items: list[ReferralOut]
    total: int
    limit: int
    offset: int


class CancelIn(StrictSchema):
    model_config = example_config(examples.CANCEL_IN)

    reason: Text = Field(default="", max_length=200, description="Why, for the record.")


class PlacementActionIn(StrictSchema):
    """An organisation's answer. `reason` is required to reject, and only then allowed."""

    model_config = example_config(examples.PLACEMENT_ACTION_IN)

    reason: RejectionReason | None = None
    note: Text = Field(default="", max_length=500, description="A comment for the centre.")
    wellbeing: WellbeingIn | None = Field(
        default=None,
        description="With `complete` only, when the health centre records wellbeing: the "
        "person's answers to the four ONS questions now. Never shown back to you.",
    )


class WellbeingRecordIn(WellbeingIn):
    """A health centre records the person's answers: `baseline` (when referred, if not
    given with the referral) or `follow_up` after a completed placement."""

    model_config = example_config(examples.WELLBEING_RECORD_IN)

    timepoint: Literal["baseline", "follow_up"]
    placement_id: UUID | None = Field(
        default=None, description="The completed placement (with `follow_up` only)."
    )


class WellbeingOut(Schema):
    model_config = example_config(examples.WELLBEING)

    timepoint: str
    placement_id: UUID | None
    life_satisfaction: int
    worthwhile: int
    happiness: int
    anxiety: int
    recorded_by: str
    recorded_at: datetime


class InboxPersonOut(Schema):
    """Only what the organisation needs to welcome the person."""

    first_name: str
    preferred_language: str
    needs: list[str] = Field(description="Taxonomy codes.")
    needs_labels: list[str] = Field(description="The needs in words, in French.")
    accessibility_needs: list[str]
    do_not_contact: bool = Field(description="The person will come; do not contact them.")
    note_for_organization: str


class InboxActivityOut(Schema):
    service_id: UUID
    service_at_location_id: UUID
    name: str
    place: str


class InboxPlacementOut(Schema):
    model_config = example_config(examples.INBOX_PLACEMENT)

    id: UUID
    status: PlacementStatus
    status_reason: PlacementReason | None
    note: str
    referral_code: str = Field(description="The code printed on the person's slip.")
    health_center: str
    health_center_phone: str
    person: InboxPersonOut | None = Field(
        description="Null once the offer ended without the person being taken on "
        "(rejected, cancelled, expired): the organisation keeps only the code and the dates."
    )
    activity: InboxActivityOut
    requested_at: datetime
    updated_at: datetime
    respond_by: datetime | None = Field(
        description="When an unanswered placement expires; null once answered."
    )
    allowed_actions: list[Literal["accept", "reject", "start", "hold", "complete", "fail"]]
    chosen_session: datetime | None = Field(
        default=None,
        description="The session the person said, on their own page, they will come to.",
    )
    patient_report: Literal["went", "not-for-me"] | None = Field(
        default=None,
        description="What the person said on their own page (patient-reported; your own "
        "answer is `status`).",
    )


class InboxPageOut(Schema):
    model_config = example_config(examples.INBOX_PAGE)

    items: list[InboxPlacementOut]
    total: int
    limit: int
    offset: int
