"""The languages Tisser speaks to the person: which one a slip, a page or a message uses
for a person's preferred language, and the names of languages (from Babel's CLDR data,
the one source of language names).

Staff pages speak French and English (`settings.LANGUAGES`). What reaches the person
(the slip, the public activity page) speaks more: the languages most spoken by people
new to France. Their translations cover that text only (`locale/<language>/`, whose
headers say how each was made and whether a native speaker has reviewed it).

Outside, a language is its ISO 639-1 code, as the intake gives it (`zh`); Django's
translation machinery knows some under another name (`zh-hans`): `gettext_language`.
"""

from __future__ import annotations

import unicodedata

# Languages the person's text is printed in on its own, in the order the docs list them.
PATIENT_LANGUAGES = ("fr", "en", "ar", "es", "pt", "tr", "ro", "uk", "ru", "zh")
# Any other gets French, the catalogue's language, with English under each text.
FALLBACK_LANGUAGES = ("fr", "en")
# Written right to left.
RIGHT_TO_LEFT = frozenset({"ar"})
# Unicode's bidirectional isolates, for text inside a right-to-left line: what follows
# LRI reads left to right (a phone number, a code, hours), what follows FSI takes the
# direction of its first letter (an organisation's own words), up to PDI.
LEFT_TO_RIGHT_ISOLATE = "\u2066"
FIRST_STRONG_ISOLATE = "\u2068"
POP_ISOLATE = "\u2069"
# Django's name for a language, where it is not the ISO code (its translations of
# month and day names, its date formats and Tisser's `locale/` follow that name).
_GETTEXT_NAMES = {"zh": "zh-hans"}


def slip_languages(preferred: str) -> tuple[str, ...]:
    """The slip's language, or French then English when the person's is not printed."""
    return (preferred,) if preferred in PATIENT_LANGUAGES else FALLBACK_LANGUAGES


def slip_language_code(preferred: str) -> str:
    """As stored with the slip and shown in the API: "fr", "ar" or "fr+en"."""
    return "+".join(slip_languages(preferred))


def gettext_language(code: str) -> str:
    """The name `translation.override` takes for a language Tisser speaks to people
    (`zh` → `zh-hans`); any other code unchanged."""
    return _GETTEXT_NAMES.get(code, code)


def written_direction(text: str) -> str:
    """`rtl` or `ltr` for a text, from its first letter that has a direction (as HTML's
    `dir="auto"` finds it); `ltr` when none has."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "ltr"


# Explicit embeddings, overrides and isolates (U+202A to 202E, U+2066 to 2069): in text
# someone typed, they can turn what follows around ("\u202e04 78 12 34 56" prints the
# number backwards) or close the isolate a page put around it.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)],
    None,
)


def without_bidi_controls(text: str) -> str:
    """`text` without explicit direction controls: typed text takes its direction from
    its letters (marks such as U+200F stay: they change no order beyond a neutral)."""
    return text.translate(_BIDI_CONTROLS)


def text_direction(code: str) -> str:
    """`rtl` or `ltr`, for HTML's `dir`."""
    return "rtl" if code in RIGHT_TO_LEFT else "ltr"
