"""The patient's slip: what it says in each language, what it never says, how it is drawn
(large print, PDF/UA), what it refuses to fetch, and a health centre's batch of the day.

Slips are rendered for real by the worker's renderer; their text is read back with pypdf.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader

from community_catalog.models import Service
from community_catalog.presentation import money, phone_display, session_text
from community_catalog.schedules import service_at_location_sessions
from core.languages import slip_language_code, slip_languages
from events.models import Event
from matching.reasons import reason_text
from referrals.models import Referral
from slips.content import one_sentence, public_activity_url, slip_contents, slip_html
from slips.renderer import slip_renderer
from slips.services import referral_render_slip
from tests.conftest import ApiClient, referral_matched
from tests.conftest import referral_slipped as slipped

URL = "/api/v1/referrals"
PUBLIC_URL = "https://tisser.example.org"
# The demo catalogue's confidential place (a carers' group meets there).
CONFIDENTIAL_SPOT = {"latitude": 45.739, "longitude": 4.870}


@pytest.fixture(autouse=True)
def _public_url(settings: Any, media: Any) -> None:
    settings.TISSER_PUBLIC_URL = PUBLIC_URL


def pdf_bytes(referral: Referral) -> bytes:
    with referral.slip.file.open("rb") as file:
        return file.read()


def words(pdf: bytes) -> str:
    """The PDF's text with runs of whitespace made one space (lines wrap anywhere)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def font_sizes(pdf: bytes) -> list[float]:
    """The size, in points, of every piece of text drawn, as it lands on the page."""
    return [size for page in PdfReader(io.BytesIO(pdf)).pages for size in _page_font_sizes(page)]


def _page_font_sizes(page: Any) -> list[float]:
    sizes: list[float] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            # Tf's size scaled by the text matrix and the page's transformation.
            scale = (tm[2] ** 2 + tm[3] ** 2) ** 0.5 * (cm[2] ** 2 + cm[3] ** 2) ** 0.5
            sizes.append(round(size * scale, 1))

    page.extract_text(visitor_text=visit)
    return sizes


# --- Every element, in French and in English ---------------------------------------------


def test_a_french_slip_prints_every_element(api: ApiClient, catalog: int) -> None:
    referral = slipped(api, first_name="Josiane", needs=["isolation", "food-insecurity"])
    pdf = pdf_bytes(referral)
    text = words(pdf)
    (content,) = slip_contents([referral])

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert referral.slip.language == "fr"
    assert "Bonjour Josiane," in text
    assert "Maison de santé Gerland" in text
    assert f"Code d'orientation {referral.code}" in text
    assert "Un mot de votre centre de santé" in text
    assert "Allez-y une première fois, sans engagement." in text
    assert "veuvage" not in text  # the clinical reason stays with the clinician
    assert len(content.activities) == 3
    for label in ("Qui", "Où", "Quand", "Prix", "Contact", "Pour venir", "À apporter"):
        assert label in text
    assert "Pourquoi" in text
    assert text.count("Scannez pour les détails et un plan.") == 3
    for match, activity in zip(
        referral.matches.order_by("rank").select_related(
            "service_at_location__service__organization", "service_at_location__location"
        ),
        content.activities,
        strict=True,
    ):
        sal = match.service_at_location
        service = sal.service
        assert flat(service.name) in text
        assert flat(one_sentence(service.description)) in text
        assert service.organization.name in text
        assert flat(service.what_to_bring) in text
        assert flat(service.application_process) in text
        assert activity.phone
        assert activity.phone.startswith("0")
        assert activity.phone in text
        if not sal.location.is_confidential:
            address = sal.location.physical_address
            assert address is not None
            assert address.one_line() in text
        sessions = service_at_location_sessions(sal, after=timezone.now(), count=3)
        assert len(sessions) == 3
        for session in sessions:
            # "Mardi 1 décembre, 14:00-16:00" (en dash): French day names and 24-hour times.
            printed = session_text(session.starts_at, session.ends_at, "fr")
            pattern = r"^[A-Z][a-zéû]+ \d{1,2} [a-zéû]+, \d\d:\d\d\N{EN DASH}\d\d:\d\d$"
            assert re.search(pattern, printed)
            assert printed in text
        first = match.reasons[0]
        reason = reason_text(first, "fr") if first["code"] not in ("cost",) else ""
        assert not reason or flat(reason) in text


def test_an_english_slip_speaks_english_dates_times_and_money(api: ApiClient, catalog: int) -> None:
    referral = slipped(
        api, first_name="Emily", preferred_language="en", needs=["inactivity"], free_only=False
    )
    text = words(pdf_bytes(referral))
    (content,) = slip_contents([referral])

    assert referral.slip.language == "en"
    assert "Hello Emily," in text
    assert f"Referral code {referral.code}" in text
    for label in ("Who", "Where", "When", "Cost", "Contact", "How to join", "What to bring"):
        assert label in text
    assert "Bonjour" not in text
    assert "Pour venir" not in text
    for activity in content.activities:
        assert activity.name.text in text
        assert activity.name.text == activity.name.text.strip()
        for session in activity.sessions:
            assert session.plain in text
            # "Tuesday 1 December, 2 p.m.-4 p.m." (en dash): English names, 12-hour clock.
            assert re.search(r"day \d{1,2} [A-Z][a-z]+, .*[ap]\.m\.", session.plain), session
    english_names = {a.name.text for a in content.activities}
    french_names = {
        m.service_at_location.service.name
        for m in referral.matches.select_related("service_at_location__service")
    }
    assert english_names.isdisjoint(french_names)  # the catalogue's English translations


@pytest.mark.parametrize(
    ("language", "fees", "printed"),
    [
        ("fr", "", "Prix 3,50 € (la séance)"),
        ("fr", "Matériel compris.", "Prix 3,50 € — Matériel compris."),
        ("en", "", "Cost €3.50"),
        ("de", "", "Prix / Cost 3,50 €"),
    ],
)
def test_a_paid_activity_prints_its_price_in_the_slips_language(
    api: ApiClient, catalog: int, language: str, fees: str, printed: str
) -> None:
    from decimal import Decimal

    from community_catalog.models import CostOption

    referral = referral_matched(api, preferred_language=language, needs=["isolation"])
    match = referral.matches.order_by("rank").select_related("service_at_location").first()
    assert match is not None
    service_id = match.service_at_location.service_id
    Service.objects.filter(id=service_id).update(cost="paid", fees_description=fees)
    CostOption.objects.filter(service_id=service_id).delete()
    CostOption.objects.create(
        service_id=service_id, option="la séance", amount=Decimal("3.50"), currency="EUR"
    )
    event = Event.objects.filter(aggregate_id=referral.id, type="referral.matched").get()
    referral_render_slip(referral_id=referral.id, event_id=event.id)

    text = words(pdf_bytes(Referral.objects.select_related("slip").get(id=referral.id)))
    assert printed in text.replace("\xa0", " ")
    if language != "fr":
        assert "la séance" not in text  # catalogue French, not translated


def test_money_dates_and_phones_follow_the_language() -> None:
    from decimal import Decimal

    assert money(Decimal("20"), "EUR", "fr") == "20\xa0€"
    assert money(Decimal("2.5"), "EUR", "fr") == "2,50\xa0€"
    assert money(Decimal("20"), "EUR", "en") == "€20"
    assert money(Decimal("2.5"), "EUR", "en") == "€2.50"
    start = timezone.make_aware(datetime(2026, 12, 1, 14, 0))
    end = start + timedelta(hours=2)
    assert session_text(start, end, "fr") == "Mardi 1 décembre, 14:00\N{EN DASH}16:00"
    assert session_text(start, end, "en") == "Tuesday 1 December, 2 p.m.\N{EN DASH}4 p.m."
    assert phone_display("+33478556677") == "04 78 55 66 77"
    assert phone_display("+442071838750") == "+44 20 7183 8750"


def test_a_long_description_is_cut_to_its_first_sentence() -> None:
    long = "Une marche douce le long du Rhône. " + "On parle de tout et de rien. " * 12
    assert one_sentence(long) == "Une marche douce le long du Rhône."
    asked = "Envie de bouger ? " + "On marche une heure. " * 12
    assert one_sentence(asked) == "Envie de bouger ?"
    assert len(one_sentence("mot " * 200)) <= 221


def test_a_language_tisser_does_not_print_gives_french_with_english(
    api: ApiClient, catalog: int
) -> None:
    accepted = api.post(URL, _body(preferred_language="de", needs=["isolation"]))
    assert accepted.status_code == 202
    assert accepted.json()["slip_languages"] == ["fr", "en"]
    referral = slipped(api, preferred_language="de", needs=["isolation"])
    assert api.get(f"{URL}/{referral.id}").json()["slip_languages"] == ["fr", "en"]
    assert api.get(f"{URL}/{slipped(api).id}").json()["slip_languages"] == ["fr"]

    text = words(pdf_bytes(referral))
    assert referral.slip.language == "fr+en"
    assert "Bonjour Josiane, Hello Josiane," in text
    for french, english in (("Qui", "Who"), ("Quand", "When"), ("Pour venir", "How to join")):
        assert f"{french} / {english}" in text
    (content,) = slip_contents([referral])
    assert content.activities
    for activity in content.activities:
        assert activity.name.text in text
        assert activity.name.also in text
    assert slip_languages("de") == ("fr", "en")
    assert slip_language_code("de") == "fr+en"
    assert slip_languages("en") == ("en",)
    assert slip_language_code("fr") == "fr"


def _body(**overrides: Any) -> dict[str, Any]:
    from tests.conftest import referral_body

    return referral_body(**overrides)


# --- What a slip never prints --------------------------------------------------------------


def test_a_confidential_address_is_never_printed(api: ApiClient, catalog: int) -> None:
    referral = slipped(api, location=CONFIDENTIAL_SPOT, needs=["caring-burden"], max_distance_km=2)
    confidential = [
        m for m in referral.matches.all() if m.service_at_location.location.is_confidential
    ]
    assert confidential, "the demo's confidential place should be proposed here"
    text = words(pdf_bytes(referral))
    preview = api.get(f"{URL}/{referral.id}/slip.html").content.decode()

    assert "Appelez pour avoir l'adresse." in text
    for secret in ("impasse des Tilleuls", "Tilleuls", "Local d'accueil", "45.739"):
        assert secret not in text
        assert secret not in preview


# --- Large print ---------------------------------------------------------------------------


def test_large_print_is_at_least_16_points_and_keeps_every_activity(
    api: ApiClient, catalog: int
) -> None:
    regular = slipped(api, needs=["isolation"])
    large = slipped(api, needs=["isolation"], large_print=True)
    regular_pdf, large_pdf = pdf_bytes(regular), pdf_bytes(large)

    # Every piece of text, headers and footers included, is 16 points or more; the body
    # of a regular slip is 10.
    assert min(font_sizes(large_pdf)) >= 16
    assert statistics.mode(font_sizes(regular_pdf)) == 10
    assert min(font_sizes(regular_pdf)) >= 7.5  # even the small print stays readable
    # More pages, never less content: every activity, every session, in full.
    assert len(PdfReader(io.BytesIO(large_pdf)).pages) > 1
    text = words(large_pdf)
    for activity in slip_contents([large])[0].activities:
        assert activity.name.text in text
        for session in activity.sessions:
            assert session.plain in text

    def content(text: str, code: str) -> list[str]:
        # The words, without the code and page numbers that each page's footer repeats.
        return sorted(w for w in text.split() if w != code and not re.fullmatch(r"\d+|/", w))

    assert content(words(regular_pdf), regular.code) == content(text, large.code)


def test_a_large_print_page_never_ends_on_a_label_whose_text_is_overleaf(
    api: ApiClient, catalog: int
) -> None:
    large = slipped(api, needs=["isolation"], large_print=True)
    labels = {"Qui", "Où", "Quand", "Prix", "Contact", "Pour venir", "À apporter", "Pourquoi"}
    # Notes of growing length move every page break down the slip, line by line.
    for lines in range(8):
        Referral.objects.filter(id=large.id).update(note_for_patient="Une ligne.\n" * lines)
        referral = Referral.objects.select_related("health_center").get(id=large.id)
        pdf = slip_renderer().render(slip_html(referral))
        for page in PdfReader(io.BytesIO(pdf)).pages[:-1]:
            last = _bottom_line(page)
            assert not (len(last) == 1 and last[0] in labels), (lines, last)


def _bottom_line(page: Any) -> list[str]:
    """The pieces of text on the page's lowest line, above the footer."""
    pieces: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            pieces.append((cm[1] * tm[4] + cm[3] * tm[5] + cm[5], text.strip()))

    page.extract_text(visitor_text=visit)
    footer = r"[A-Z0-9]{3}-[A-Z0-9]{3}|\d+ / \d+|/|\d+"
    body = [(y, text) for y, text in pieces if not re.fullmatch(footer, text)]
    lowest = min(y for y, _ in body)
    return [text for y, text in body if abs(y - lowest) < 2]


# --- An accessible PDF -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_slip_is_a_tagged_pdf_ua_document_in_its_language(
    api: ApiClient, catalog: int, language: str
) -> None:
    referral = slipped(api, preferred_language=language)
    reader = PdfReader(io.BytesIO(pdf_bytes(referral)))
    root: Any = reader.trailer["/Root"]

    assert "/StructTreeRoot" in root
    assert root["/Lang"] == language
    assert bool(root["/MarkInfo"]["/Marked"])
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])
    assert reader.metadata is not None
    assert referral.code in str(reader.metadata.title)
    assert b"pdfuaid:part" in root["/Metadata"].get_object().get_data()
    # Every font is embedded: the slip looks the same on every machine.
    pages: list[Any] = list(reader.pages)
    fonts = {
        font.get_object()["/BaseFont"]
        for page in pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts
    assert all("Atkinson-Hyperlegible" in str(name) for name in fonts)
    # Every figure (the QR codes) has alternate text naming its activity.
    figures = [node for node in _structure(root["/StructTreeRoot"]) if node["/S"] == "/Figure"]
    names = [a.name.text for a in slip_contents([referral])[0].activities]
    assert len(figures) == len(names) == 3
    for figure, name in zip(figures, names, strict=True):
        assert name in str(figure["/Alt"])


def _structure(node: Any) -> Iterator[Any]:
    """Every element of a tagged PDF's structure tree, depth first."""
    node = node.get_object()
    if not hasattr(node, "get"):
        return
    if "/S" in node:
        yield node
    kids = node.get("/K")
    if kids is None:
        return
    for kid in kids if isinstance(kids, list) else [kids]:
        yield from _structure(kid)


def test_each_qr_code_opens_the_activitys_public_page(api: ApiClient, catalog: int) -> None:
    referral = slipped(api)
    reader = PdfReader(io.BytesIO(pdf_bytes(referral)))
    links = [
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots", [])
        if annotation.get_object().get("/A")
    ]
    expected = [
        public_activity_url(m.service_at_location_id) for m in referral.matches.order_by("rank")
    ]
    # A link may be drawn as more than one rectangle: one target each, in order.
    assert list(dict.fromkeys(links)) == expected
    assert all(link.startswith(f"{PUBLIC_URL}/a/") for link in links)
    html = api.get(f"{URL}/{referral.id}/slip.html").content.decode()
    # Drawn as vector paths, not as a picture.
    assert html.count("<svg") == len(expected)
    assert "<img" not in html
