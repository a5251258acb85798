"""How an activity is presented to the person, the same on the slip and on the public
page: its sessions, its cost line, who to call, in the reader's language (and, on a
bilingual slip, in English under it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from community_catalog.costs import text_cost_state
from community_catalog.models import Service, ServiceAtLocation
from core.languages import (
    LEFT_TO_RIGHT_ISOLATE,
    POP_ISOLATE,
    gettext_language,
    text_direction,
)

# The fixed wording of an activity's cost line.
COST_TEXTS = {
    "free": _("Free"),
    "cost_not_stated": _("Cost not stated: ask when you get in touch"),
    "cost_ask": _("%(fees)s (ask when you get in touch)"),
    "paid_ask": _("There is a cost: ask how much when you get in touch"),
}


def say_from(texts: dict[str, Any], languages: Sequence[str], key: str, **params: Any) -> Say:
    """One of `texts` in the first language and, when there are two, in the second."""
    said = []
    for language in languages[:2]:
        with translation.override(gettext_language(language)):
            message = str(texts[key])
        said.append(message % params if params else message)
    return Say(said[0], said[1] if len(said) > 1 else "")


def _say(languages: Sequence[str], key: str, **params: Any) -> Say:
    return say_from(COST_TEXTS, languages, key, **params)


@dataclass(frozen=True)
class Say:
    """A text in the slip's language and, on a bilingual slip, the same in English.

    In a template it prints as escaped HTML: the English follows in a span marked with
    its language, for the layout and for screen readers. `plain` is the text alone.
    """

    text: str
    also: str = ""

    def __html__(self) -> SafeString:
        if not self.also or self.also == self.text:
            return format_html("{}", self.text)
        return format_html('{}<span class="also" lang="en">{}</span>', self.text, self.also)

    # Django's templates print str(value): make that the escaped HTML.
    __str__ = __html__

    @property
    def plain(self) -> str:
        return (
            self.text if not self.also or self.also == self.text else f"{self.text} / {self.also}"
        )

    def __bool__(self) -> bool:
        return bool(self.text or self.also)


# A session's day in the languages Tisser prints besides French and English, as CLDR
# writes a weekday with its date (the month in the case the date takes: "8 декабря").
_DAY_PATTERNS = {
    "ar": "EEEE، d MMMM",
    "es": "EEEE d 'de' MMMM",
    "pt": "EEEE, d 'de' MMMM",
    "tr": "d MMMM EEEE",
    "ro": "EEEE, d MMMM",
    "uk": "EEEE, d MMMM",
    "ru": "EEEE, d MMMM",
    "zh": "M月d日EEEE",
}


def _day(moment: datetime, language: str) -> str:
    local = timezone.localtime(moment)
    pattern = _DAY_PATTERNS.get(language)
    if pattern is not None:
        text = format_date(local, pattern, locale=language)
    else:
        with translation.override(gettext_language(language)):
            text = formats.date_format(local, "l j F")
    return text[:1].upper() + text[1:]


def _time(moment: datetime, language: str) -> str:
    """The locale's time format: 14:00 in French, 2 p.m. in English; 24-hour times
    in a right-to-left language (its "a.m." and "p.m." inside left-to-right hours
    would read out of order)."""
    with translation.override(gettext_language(language)):
        if text_direction(language) == "rtl":
            return formats.time_format(timezone.localtime(moment), "H:i")
        return formats.time_format(timezone.localtime(moment))


@dataclass(frozen=True)
class Session:
    """A session as printed, "Mardi 1 décembre, 14:00-16:00" (with an en dash). In a
    template, the hours never break over two lines."""

    day: str
    hours: str
    # ", " but in languages that write their own comma (Arabic's, Chinese's full-width).
    comma: str = ", "

    def __html__(self) -> SafeString:
        return format_html('{}{}<span class="nowrap">{}</span>', self.day, self.comma, self.hours)

    __str__ = __html__

    @property
    def plain(self) -> str:
        return f"{self.day}{self.comma}{self.hours}"


@lru_cache(maxsize=4096)
def session(start: datetime, end: datetime, language: str) -> Session:
    """A session as printed (kept: the same sessions of the same activities come back on
    slip after slip, and each takes two locale formats)."""
    hours = f"{_time(start, language)}\N{EN DASH}{_time(end, language)}"
    if text_direction(language) == "rtl":
        # Hours read left to right: in a right-to-left line, the dash between two
        # times would otherwise put the end first.
        hours = f"{LEFT_TO_RIGHT_ISOLATE}{hours}{POP_ISOLATE}"
    return Session(_day(start, language), hours, _COMMAS.get(language, ", "))


# Languages that write a weekday in lower case inside a sentence.
_LOWER_DAYS = frozenset({"fr", "es", "pt", "ro", "uk", "ru"})


def session_start(start: datetime, language: str, *, in_sentence: bool = False) -> str:
    """A session's day and the hour it starts, "Mardi 9 décembre, 14:00", as a message
    or a page says which one the person chose; "… le mardi 9 décembre" in a sentence."""
    hour = _time(start, language)
    if text_direction(language) == "rtl":
        hour = f"{LEFT_TO_RIGHT_ISOLATE}{hour}{POP_ISOLATE}"
    day = _day(start, language)
    if in_sentence and language in _LOWER_DAYS:
        day = day[:1].lower() + day[1:]
    return f"{day}{_COMMAS.get(language, ', ')}{hour}"


def session_text(start: datetime, end: datetime, language: str) -> str:
    return session(start, end, language).plain


# A day and its month inside a sentence ("Resumes on 2 March"), in the same languages.
_DAY_MONTH_PATTERNS = {
    "ar": "d MMMM",
    "es": "d 'de' MMMM",
    "pt": "d 'de' MMMM",
    "tr": "d MMMM",
    "ro": "d MMMM",
    "uk": "d MMMM",
    "ru": "d MMMM",
    "zh": "M月d日",
}
# Between a session's day and its hours.
_COMMAS = {"ar": "\u060c ", "zh": "\uff0c"}


def day_month(day: date, language: str) -> str:
    """A day and month in a sentence: "2 mars", "2 March", "2 марта", "3月2日".
    `language` may be Django's name for it (`zh-hans`)."""
    code = language.split("-")[0]
    pattern = _DAY_MONTH_PATTERNS.get(code)
    if pattern is not None:
        return str(format_date(day, pattern, locale=code))
    with translation.override(gettext_language(language)):
        return str(formats.date_format(day, "j F"))


def long_date(day: date, language: str) -> str:
    if language in _DAY_PATTERNS:
        return str(format_date(day, "long", locale=language))
    with translation.override(gettext_language(language)):
        return formats.date_format(day, "j F Y")


def money(amount: Decimal, currency: str, language: str) -> str:
    """An amount as the language writes it: 2,50 € in French, €2.50 in English; no
    cents when there are none."""
    pattern = None
    if amount == amount.to_integral_value():
        standard = Locale.parse(language).currency_formats["standard"].pattern
        pattern = standard.replace(".00", "")
    text: str = format_currency(
        amount, currency or "EUR", format=pattern, locale=language, currency_digits=pattern is None
    )
    return text


def phone_display(number: str) -> str:
    """E.164 as people dial it: national format at home, international otherwise."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    region = phonenumbers.region_code_for_number(parsed)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if region == settings.TISSER_PHONE_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def texts_of(service: Service, name: str, languages: Sequence[str]) -> Say:
    first = service.text(name, languages[0])
    second = service.text(name, languages[1]) if len(languages) > 1 else ""
    return Say(first, second if second != first else "")


def activity_cost(service: Service, languages: Sequence[str]) -> Say:
    """The cost line, from the one cost state matching also reads (`Service.cost`): a
    slip never says "Free" for what matching counted as paid or not stated."""
    if service.cost == Service.Cost.FREE:
        return _say(languages, "free")
    fees = texts_of(service, "fees_description", languages)
    if service.cost == Service.Cost.NOT_STATED:
        if not fees:
            return _say(languages, "cost_not_stated")
        texts = [
            _say((language,), "cost_ask", fees=text).text
            for language, text in zip(
                languages[:2], (fees.text, fees.also or fees.text), strict=False
            )
        ]
        return Say(texts[0], texts[1] if len(texts) > 1 else "")
    language = languages[0]
    # Paid (declared so, or a cost option), but a text that says free: printing it would
    # tell the person it is free.
    fees = Say(
        *(t if text_cost_state(t) != Service.Cost.FREE else "" for t in (fees.text, fees.also))
    )
    # The option ("la séance") is catalogue text with no translation: printed only when
    # nothing else says what the amount is for, and only on a slip in its language.
    say_option = not fees and tuple(languages) == (settings.TISSER_CATALOG_LANGUAGE,)
    amounts = [
        money(c.amount, c.currency, language)
        + (f" ({c.option})" if say_option and c.option else "")
        for c in service.cost_options.all()
        if c.amount is not None and c.amount > 0
    ]
    if not amounts:
        return fees or _say(languages, "paid_ask")
    prefix = " · ".join(amounts)
    return Say(
        f"{prefix} \N{EM DASH} {fees.text}" if fees.text else prefix,
        f"{prefix} \N{EM DASH} {fees.also}" if fees.also else "",
    )


def activity_contact(sal: ServiceAtLocation) -> tuple[str, str]:
    """Who to call: the contact for this place, else the service's, with a phone number."""
    contacts = list(sal.contacts.all()) or list(sal.service.contacts.all())
    for contact in contacts:
        phones = [p.number for p in contact.phones.all()]
        if phones:
            return contact.name, phone_display(phones[0])
    fallback = list(sal.phones.all()) or list(sal.service.phones.all())
    name = contacts[0].name if contacts else ""
    return name, phone_display(fallback[0].number) if fallback else ""
