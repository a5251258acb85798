"""The languages Tisser speaks to the person: which one a slip, a page or a message uses
for a person's preferred language, and the names of languages (from Babel's CLDR data,
the one source of language names)."""

from __future__ import annotations

# Languages a slip is printed in on its own; any other gets French, the catalogue's
# language, with English under each label and sentence.
SLIP_LANGUAGES = ("fr", "en")
FALLBACK_LANGUAGES = ("fr", "en")


def slip_languages(preferred: str) -> tuple[str, ...]:
    """The slip's language, or French then English when the person's is not printed."""
    return (preferred,) if preferred in SLIP_LANGUAGES else FALLBACK_LANGUAGES


def slip_language_code(preferred: str) -> str:
    """As stored with the slip and shown in the API: "fr", "en" or "fr+en"."""
    return "+".join(slip_languages(preferred))
