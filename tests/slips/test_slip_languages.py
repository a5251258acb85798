"""Slips in the person's language (issue 25): each of the ten languages Tisser prints
prints its own words, in its own script, on one page for three activities, with every
character drawn from a font that has it; Arabic reads right to left, its QR codes on
the left.

"No glyph missing" is checked on what the slip says: every character of its text is in
a face the stylesheet names (Pango draws a character no face has as an empty box,
which the PDF cannot tell from a glyph). Expected outcomes are written from the
translations as a reader would check them (the compiled catalogue, read with Python's
own gettext), not from the code that prints.
"""

from __future__ import annotations

import gettext
import io
import os
import subprocess
import unicodedata
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from pypdf import PdfReader

from core.languages import PATIENT_LANGUAGES, gettext_language, slip_languages
from referrals.models import Referral
from slips.content import slip_contents, slip_html
from slips.renderer import slip_renderer
from tests.conftest import ApiClient
from tests.conftest import referral_slipped as slipped
from tests.slips.test_slips import pdf_bytes, words

LOCALE = Path(settings.BASE_DIR) / "locale"
PNG_DIR = os.environ.get("TISSER_SLIP_PNG_DIR")


def _catalog(language: str) -> gettext.NullTranslations:
    folder = gettext_language(language).replace("-hans", "_Hans")
    return gettext.translation("django", LOCALE, languages=[folder])


def _said(language: str, msgid: str, **params: Any) -> str:
    text = msgid if language == "en" else _catalog(language).gettext(msgid)
    assert language == "en" or text != msgid, f"{msgid!r} has no {language} translation"
    return text % params if params else text


# The script most of each language's letters are in, as Unicode names them.
SCRIPTS = {
    "fr": "LATIN",
    "en": "LATIN",
    "es": "LATIN",
    "pt": "LATIN",
    "tr": "LATIN",
    "ro": "LATIN",
    "ar": "ARABIC",
    "uk": "CYRILLIC",
    "ru": "CYRILLIC",
    "zh": "CJK",
}


def _in_script(text: str, script: str) -> int:
    return sum(c.isalpha() and script in unicodedata.name(c, "") for c in text)


# The faces the slip's stylesheet names, in its order (templates/slips/slip.css).
FACES = ("Noto Sans", "Noto Sans Arabic", "Noto Sans CJK SC")


@cache
def _charset() -> frozenset[int]:
    """Every character the slip's faces can draw: Atkinson Hyperlegible's files, and
    the Noto faces as fontconfig finds them (which must be those faces, installed)."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    from slips.renderer import FONT_DIR

    found: set[int] = set()
    files = [(str(path), 0) for path in FONT_DIR.glob("AtkinsonHyperlegible-*.ttf")]
    for face in FACES:
        where = subprocess.run(
            ["fc-match", "-f", "%{family}|%{file}|%{index}", face],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        families, path, number = where.split("|")
        assert face in families.split(","), f"{face} is not installed: fontconfig gave {where}"
        files.append((path, int(number)))
    for path, index in files:
        with TTFont(path, fontNumber=index, lazy=True) as font:
            found |= set(font.getBestCmap())
    return frozenset(found)


def _undrawable(html: str) -> set[str]:
    """The characters of a slip's text that none of its faces has (white space and
    formatting characters, such as bidirectional isolates, are not drawn)."""
    text = "".join(_Text.of(html))
    return {
        c
        for c in text
        if not c.isspace()
        and unicodedata.category(c) not in ("Cf", "Cc")
        and ord(c) not in _charset()
    }


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.skip += tag in ("style", "script", "svg")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "script", "svg")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> list[str]:
        parser = cls()
        parser.feed(html)
        return parser.parts


def _dark_share(png: Path, left: float, right: float, top: float, bottom: float) -> float:
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        width, height = grey.size
        box = grey.crop(
            (int(left * width), int(top * height), int(right * width), int(bottom * height))
        )
        pixels = list(box.getdata())
    return sum(p < 128 for p in pixels) / len(pixels)


def _png(pdf: bytes, name: str, folder: Path) -> Path:
    target = folder / name
    (folder / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(folder / f"{name}.pdf"), str(target)],
        check=True,
    )
    return target.with_suffix(".png")


# Filed in a language of each script and direction; every language's frame is printed in
# the next test.
@pytest.mark.parametrize("language", ["ar", "zh", "ru", "tr", "en"])
def test_a_slip_filed_in_a_language(api: ApiClient, catalog: int, language: str) -> None:
    referral: Referral = slipped(
        api, first_name="Josiane", preferred_language=language, needs=["isolation"]
    )
    assert slip_languages(language) == (language,)
    assert referral.slip.language == language
    assert api.get(f"/api/v1/referrals/{referral.id}").json()["slip_languages"] == [language]
    pdf = pdf_bytes(referral)
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.root_object["/Lang"] == language
    text = words(pdf)
    # The frame is in the language's script (the activities keep their French words).
    assert _in_script(text, SCRIPTS[language]) >= 40
    greeting = _said(language, "Hello %(name)s,", name="Josiane")
    labels = [_said(language, m) for m in ("Who", "Where", "When", "Cost", "Referral code")]
    if language != "ar":
        # Right-to-left text comes out of a PDF in drawing order; the others as written.
        assert greeting in text
        for label in labels:
            assert label in text
    for label in [greeting.replace("Josiane", ""), *labels]:
        assert set(label) - set(" ,:،") <= set(text)
    assert _undrawable(slip_html(referral)) == set()


def test_three_activities_fit_one_page_in_each_language(api: ApiClient, catalog: int) -> None:
    # Matched once in French (three activities near the person), printed in each language.
    referral = slipped(api, first_name="Josiane", needs=["isolation", "food-insecurity"])
    for language in PATIENT_LANGUAGES:
        Referral.objects.filter(id=referral.id).update(preferred_language=language)
        referral.refresh_from_db()
        html = slip_html(referral)
        assert len(slip_contents([referral])[0].activities) == 3
        assert _undrawable(html) == set(), language
        pdf = slip_renderer().render(html)
        if PNG_DIR:
            _png(pdf, f"slip-{language}", Path(PNG_DIR))
        assert len(PdfReader(io.BytesIO(pdf)).pages) == 1, language
        if language in ("fr", "ar", "zh") or PNG_DIR:
            # Large print takes more pages, never a line lost: every activity is on them.
            referral.large_print = True
            large = slip_renderer().render(slip_html(referral))
            if PNG_DIR:
                _png(large, f"slip-{language}-large", Path(PNG_DIR))
            for activity in slip_contents([referral])[0].activities:
                assert activity.name.text in words(large), language


def test_arabic_reads_right_to_left_with_its_qr_codes_on_the_left(
    api: ApiClient, catalog: int, tmp_path: Path
) -> None:
    shares = {}
    for language in ("fr", "ar"):
        referral = slipped(api, first_name="Josiane", preferred_language=language)
        png = _png(pdf_bytes(referral), f"slip-{language}", tmp_path)
        # The first activity's QR code: a dense square below the greeting, on one side.
        shares[language] = (
            _dark_share(png, 0.08, 0.2, 0.2, 0.3),
            _dark_share(png, 0.8, 0.92, 0.2, 0.3),
        )
    french_left, french_right = shares["fr"]
    arabic_left, arabic_right = shares["ar"]
    assert french_right > 2 * french_left
    assert arabic_left > 2 * arabic_right


def test_the_glyph_check_sees_a_character_no_face_has(api: ApiClient, catalog: int) -> None:
    # Unassigned in Unicode: no face has it.
    referral = slipped(api, first_name="Jo\u0378siane", preferred_language="fr")
    assert _undrawable(slip_html(referral)) == {"\u0378"}


# --- The activity's public page, which the slip's QR code opens ----------------------


def test_the_qr_code_opens_the_page_in_the_slips_language(api: ApiClient, catalog: int) -> None:
    from django.test import Client

    referral = slipped(api, first_name="Josiane", preferred_language="ar")
    (content,) = slip_contents([referral])
    url = content.activities[0].url
    assert url.endswith("?lang=ar")
    path = url.split("://", 1)[1]
    response = Client().get(path[path.index("/") :])
    assert response.status_code == 200
    assert response["Content-Language"] == "ar"
    html = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    for msgid in ("Next sessions", "Where", "Contact", "Good to know"):
        assert _said("ar", msgid) in html
    # A French slip's codes open the page in the browser's language, as before.
    french = slipped(api, first_name="Josiane", preferred_language="fr")
    assert "?lang=" not in slip_contents([french])[0].activities[0].url
    # A slip in French with English: the browser's language too.
    other = slipped(api, first_name="Josiane", preferred_language="de")
    assert "?lang=" not in slip_contents([other])[0].activities[0].url


@pytest.mark.parametrize(
    ("asked", "header", "expected"),
    [
        ("zh", "", "zh"),
        ("", "uk-UA,uk;q=0.9,en;q=0.5", "uk"),
        ("", "de-DE,tr;q=0.8", "tr"),
        ("", "de-DE,it;q=0.8", "fr"),
        ("xx", "ru", "ru"),
        ("", "", "fr"),
    ],
)
def test_the_page_speaks_the_persons_language(
    catalog: int, asked: str, header: str, expected: str
) -> None:
    from django.test import Client

    from community_catalog.models import ServiceAtLocation

    sal = ServiceAtLocation.objects.filter(location__is_confidential=False).first()
    assert sal is not None
    query = f"?lang={asked}" if asked else ""
    response = Client().get(f"/a/{sal.id}{query}", HTTP_ACCEPT_LANGUAGE=header)
    assert response["Content-Language"] == expected
    html = response.content.decode()
    assert f'lang="{expected}"' in html
    assert _said(expected, "Next sessions") in html


def test_the_page_leaves_out_typed_direction_controls(catalog: int) -> None:
    from django.test import Client

    from community_catalog.models import Service, ServiceAtLocation

    sal = ServiceAtLocation.objects.filter(location__is_confidential=False).first()
    assert sal is not None
    Service.objects.filter(id=sal.service_id).update(
        name="Balade\u2069\u202e des berges 12", application_process="\u202eAppelez le 04 78."
    )
    html = Client().get(f"/a/{sal.id}?lang=ar").content.decode()
    assert "Balade des berges 12" in html
    assert "Appelez le 04 78." in html
    assert not set(html) & {chr(c) for c in range(0x202A, 0x202F)}
    # The isolates left are the page's own, around each session's hours.
    assert html.count("\u2069") == html.count("\u2066") == html.count("\N{EN DASH}")
