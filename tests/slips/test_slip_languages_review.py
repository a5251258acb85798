"""From the review of the slips in ten languages (issue 25): what the first tests did
not hold, each failing before its fix.

Each slip is read back *as drawn*: pdftotext's words with their positions, each line's
words sorted left to right, which is the order a reader's eye meets them (a phone number
printed right to left reads wrongly even though every digit is on the page).
"""

# ruff: noqa: RUF001 - the expected texts are in Cyrillic, Arabic and Chinese
from __future__ import annotations

import html
import io
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from community_catalog.models import Service
from core.caches import process_caches_clear
from matching.reasons import reason_text
from referrals.models import Referral
from slips.content import slip_contents, slip_html
from slips.renderer import slip_renderer
from tests.conftest import ApiClient
from tests.conftest import referral_slipped as slipped
from tests.slips.test_slips import pdf_bytes

_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>'
)
_EMBEDDINGS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e"))


def _pdftotext(pdf: bytes, *args: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "slip.pdf"
        path.write_bytes(pdf)
        return subprocess.run(
            ["pdftotext", *args, str(path), "-"], check=True, capture_output=True, text=True
        ).stdout


def seen(pdf: bytes, *, page: int | None = None) -> list[str]:
    """Each printed line's words in the order they stand on the page, left to right."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    rows: dict[int, list[tuple[float, str]]] = {}
    for m in _WORD.finditer(_pdftotext(pdf, "-bbox", *pages)):
        middle = (float(m[2]) + float(m[3])) / 2
        rows.setdefault(round(middle / 3), []).append((float(m[1]), html.unescape(m[4])))
    return [" ".join(word for _x, word in sorted(row)) for _key, row in sorted(rows.items())]


def logical(pdf: bytes) -> str:
    """The text in reading order (pdftotext puts right-to-left lines back in logical
    order, wrapping them in embedding marks, taken out here)."""
    return " ".join(_pdftotext(pdf).translate(_EMBEDDINGS).split())


# --- 1. Dates inside reasons ("Resumes on 2 March") ------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "Снова с 2 марта"),
        ("uk", "Знову з 2 березня"),
        ("es", "Vuelve el 2 de marzo"),
        ("pt", "Recomeça a 2 de março"),
        ("ro", "Reîncepe pe 2 martie"),
        ("zh", "3月2日恢复"),
    ],
)
def test_a_season_date_is_written_as_the_language_writes_it(language: str, expected: str) -> None:
    # Printed on the slip under "When" for a seasonal activity (slips.content._season).
    said = {"code": "resumes", "params": {"resumes_on": "2026-03-02"}}
    assert reason_text(said, language) == expected


# --- 2. The page counter on a right-to-left slip ---------------------------------------


def test_an_arabic_slips_first_page_is_numbered_one_of_n(api: ApiClient, catalog: int) -> None:
    referral = slipped(
        api, preferred_language="ar", large_print=True, needs=["isolation", "food-insecurity"]
    )
    pdf = pdf_bytes(referral)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages > 1  # large print
    footer = seen(pdf, page=1)[-1]
    assert footer.endswith(f"1 / {pages}"), footer  # today: "KF3-RP4 2 / 1"


# --- 3. Bidi controls in catalogue or intake text --------------------------------------


@pytest.mark.parametrize("language", ["ar", "fr"])
def test_a_bidi_override_in_an_organisations_text_cannot_reverse_a_number(
    api: ApiClient, catalog: int, language: str
) -> None:
    referral = slipped(api, preferred_language=language, needs=["isolation"])
    first = referral.matches.order_by("rank").select_related("service_at_location").first()
    assert first is not None
    Service.objects.filter(id=first.service_at_location.service_id).update(
        name="Balade\u2069\u202e des berges 12",  # a PDI closes the slip's isolate early
        application_process="\u202eAppelez le 04 78 12 34 56.",
    )
    process_caches_clear()
    lines = " | ".join(seen(slip_renderer().render(slip_html(referral))))
    assert "04 78 12 34 56" in lines, lines  # today: "65 43 21 87 40"
    assert "des berges 12" in lines, lines  # today on "ar": "21 segreb sed Balade"


def test_a_bidi_override_in_a_first_name_stays_in_the_name(api: ApiClient, catalog: int) -> None:
    referral = slipped(api, first_name="Jo\u2069\u202esiane", preferred_language="ar")
    content = slip_contents([referral])[0]
    assert "\u202e" not in content.greeting.text
    assert "\u2069" not in content.greeting.text


# --- 4. What the new tests let through (these pass today; each fails under a mutation) --


def test_arabic_numbers_read_left_to_right_and_words_in_order(api: ApiClient, catalog: int) -> None:
    """Fails if the slip's LRI…PDI around the phone or the code are removed, if the
    hours lose theirs, or if the Arabic text is laid out reversed (the ten-language test
    only compares the *sets* of characters of Arabic labels)."""
    referral: Referral = slipped(api, first_name="Josiane", preferred_language="ar")
    pdf = pdf_bytes(referral)
    lines = " | ".join(seen(pdf))
    content = slip_contents([referral])[0]
    for activity in content.activities:
        assert activity.phone in lines, (activity.phone, lines)
        for session in activity.sessions:
            start, end = session.hours.strip("\u2066\u2069").split("\N{EN DASH}")
            assert f"{start}\N{EN DASH}{end}" in lines, (session.hours, lines)
    assert referral.code in lines
    text = logical(pdf)
    for label in ("من", "أين", "متى", "السعر", "رمز التوجيه", "كلمة من مركزك الصحي"):
        assert label in text, label
