"""Validated value types for catalogue input, shared by the API schemas and HSDS import.

Each type normalises what it accepts (a phone number to E.164, a language to ISO 639-1)
so the database holds one spelling of each value, and refuses with a message that says
what was expected.
"""

from __future__ import annotations

from datetime import time
from functools import cache, lru_cache
from typing import Annotated, Any

import phonenumbers
import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema

from community_catalog.schedules import byday_parse, int_list_parse

_url_validator = URLValidator(schemes=["http", "https"])


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


def phone_normalize(value: str) -> str:
    """Any common spelling of a phone number → E.164 (`+33478001122`).

    National numbers are read in `TISSER_PHONE_REGION` (FR unless configured).
    """
    return _phone_normalize(value, settings.TISSER_PHONE_REGION)


@lru_cache(maxsize=8192)
def _phone_normalize(value: str, region: str) -> str:
    # A directory gives the same few numbers (an association's desk) to many services.
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def language_normalize(value: str) -> str:
    """An ISO 639-1 code (`fr`), or a 639-2/3 code, which becomes 639-1 when one exists."""
    code = value.strip().lower()
    language = None
    if len(code) == 2:
        language = pycountry.languages.get(alpha_2=code)
    elif len(code) == 3:
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(
            bibliographic=code
        )
    if language is None:
        raise ValueError(f"{value!r} is not an ISO 639 language code such as 'fr' or 'en'")
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


@cache
def _codes() -> tuple[frozenset[str], frozenset[str]]:
    """ISO 4217 currency and ISO 3166 country codes, upper case: a set's lookup, where
    pycountry's costs a few microseconds for each of a file's records."""
    return (
        frozenset(c.alpha_3.upper() for c in pycountry.currencies),
        frozenset(c.alpha_2.upper() for c in pycountry.countries),
    )


def currency_normalize(value: str) -> str:
    code = value.strip().upper()
    if code not in _codes()[0]:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as 'EUR'")
    return code


def country_normalize(value: str) -> str:
    code = value.strip().upper()
    if code not in _codes()[1]:
        raise ValueError(f"{value!r} is not an ISO 3166 country code such as 'FR'")
    return code


def url_check(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    if value:
        try:
            _url_validator(value)
        except DjangoValidationError:
            raise ValueError(f"{value!r} is not an http(s) URL") from None
    return value


def email_check(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError(f"{value!r} is not an e-mail address") from None
    return value


def byday_check(value: str) -> str:
    value = value.replace(" ", "").upper()
    byday_parse(value)
    return value


def _int_list(low: int, high: int) -> Any:
    def check(value: str) -> str:
        value = value.replace(" ", "")
        int_list_parse(value, low=low, high=high)
        return value

    return check


def time_parse(value: Any) -> Any:
    """`"10:00"`, `"10:00:00"`, `"09:00+01:00"`: HSDS times; the offset is dropped, as
    sessions are computed in the catalogue's time zone."""
    if isinstance(value, str) and value:
        try:
            parsed = time.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a time such as '14:30'") from None
        return parsed.replace(tzinfo=None)
    return None if value == "" else value


def _text_in(value: Any) -> Any:
    """What a text field is given, before the length check (made in pydantic-core):
    `null` is empty, a NUL character is refused, and white space around it goes as
    Python's `str.strip` sees it (which also counts the separators \x1c to \x1f)."""
    if value is None:
        return ""
    if isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL cannot store it, and no person typed it.
            raise ValueError("contains a NUL character")
        return value.strip()
    return value


# Text: trimmed of surrounding white space, then at most so many characters. The
# constraints come first, shaping the string schema `_text_in` runs before: one Python
# call for each value, the rest in pydantic-core (an import checks tens for each service).
_TEXT_IN = BeforeValidator(_text_in)
Text = Annotated[str, StringConstraints(strip_whitespace=True), _TEXT_IN]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), _TEXT_IN]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), _TEXT_IN]
# A taxonomy term of another directory: its code, name or taxonomy (a URI, or a name).
TermText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), _TEXT_IN]
Code16 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=16), _TEXT_IN]
Phone = Annotated[str, BeforeValidator(_none_to_empty), AfterValidator(phone_normalize)]
LanguageCode = Annotated[str, AfterValidator(language_normalize)]
CurrencyCode = Annotated[str, AfterValidator(currency_normalize)]
CountryCode = Annotated[str, AfterValidator(country_normalize)]
Url = Annotated[
    str, BeforeValidator(_none_to_empty), Field(max_length=200), AfterValidator(url_check)
]
Email = Annotated[
    str, BeforeValidator(_none_to_empty), Field(max_length=254), AfterValidator(email_check)
]
IcalDays = Annotated[
    str, BeforeValidator(_none_to_empty), Field(max_length=64), AfterValidator(byday_check)
]
MonthDays = Annotated[
    str, BeforeValidator(_none_to_empty), Field(max_length=100), AfterValidator(_int_list(1, 31))
]
WeekNumbers = Annotated[
    str, BeforeValidator(_none_to_empty), Field(max_length=200), AfterValidator(_int_list(1, 53))
]
YearDays = Annotated[
    str,
    BeforeValidator(_none_to_empty),
    Field(max_length=200),
    AfterValidator(_int_list(1, 366)),
]
# Documented as a pattern, not JSON Schema's `format: time`, which requires an offset:
# Tisser answers local times (HH:MM:SS) in the catalogue's time zone.
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
Time = Annotated[
    time | None,
    BeforeValidator(time_parse),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": TIME_PATTERN}, {"type": "null"}],
            "description": "A local time such as 14:30 or 14:30:00, in the catalogue's "
            "time zone (an offset is accepted on input and dropped).",
        }
    ),
]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Age = Annotated[int, Field(ge=0, le=130)]
