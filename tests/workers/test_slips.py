"""The patient's slip: what it says in each language, what it never says, how it is drawn
(large print, PDF/UA), what it refuses to fetch, and a health centre's batch of the day.

Slips are rendered for real by the worker's renderer; their text is read back with pypdf.
"""

from __future__ import annotations

import io
import re
import statistics
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader

from community_catalog.models import Location, Organization, Service
from community_catalog.presentation import money, phone_display, session_text
from community_catalog.schedules import service_at_location_sessions
from core.languages import slip_language_code, slip_languages
from events.models import Event
from matching.reasons import reason_text
from referrals.models import Referral
from slips.content import one_sentence, public_activity_url, slip_contents, slip_html
from slips.renderer import FONT_DIR, SLIP_ASSETS, FetchRefused, asset_fetcher, slip_renderer
from slips.services import referral_render_slip
from tests.conftest import ApiClient, referral_matched
from tests.conftest import referral_slipped as slipped
from workers.actors import match_referral, render_slip

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
        ("uk", "", "Prix / Cost 3,50 €"),
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
    accepted = api.post(URL, _body(preferred_language="uk", needs=["isolation"]))
    assert accepted.status_code == 202
    assert accepted.json()["slip_languages"] == ["fr", "en"]
    referral = slipped(api, preferred_language="uk", needs=["isolation"])
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
    assert slip_languages("uk") == ("fr", "en")
    assert slip_language_code("uk") == "fr+en"
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


# --- Hostile catalogue text ----------------------------------------------------------------


class _Trap(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Trap.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def trap() -> Iterator[str]:
    """An HTTP server that records every request it receives."""
    _Trap.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _hostile(trap: str) -> dict[str, str]:
    return {
        "name": f'<img src="{trap}/name.png">Atelier',
        "description": f"<style>@import url({trap}/import.css);</style><b>gras</b>",
        "application_process": f"body {{ background: url('{trap}/bg.png') }} <script>x()</script>",
        "what_to_bring": '<img src="file:///etc/passwd"> <img src="http://127.0.0.1:9/x">',
        "fees_description": f'<link rel="stylesheet" href="{trap}/link.css">',
    }


def test_hostile_catalogue_text_prints_literally_and_fetches_nothing(
    api: ApiClient, catalog: int, trap: str
) -> None:
    referral = referral_matched(api, needs=["isolation"], note_for_patient=f"<img src={trap}/n>")
    match = referral.matches.order_by("rank").select_related("service_at_location").first()
    assert match is not None
    sal = match.service_at_location
    hostile = _hostile(trap)
    Service.objects.filter(id=sal.service_id).update(cost="paid", **hostile)
    Organization.objects.filter(services__id=sal.service_id).update(
        name=f"<svg onload=alert(1)><image href='{trap}/svg.png'/></svg>"
    )
    Location.objects.filter(id=sal.location_id).update(
        transportation=f'<iframe src="{trap}/frame"></iframe>'
    )
    event = Event.objects.filter(aggregate_id=referral.id, type="referral.matched").get()

    referral_render_slip(referral_id=referral.id, event_id=event.id)
    referral = Referral.objects.select_related("slip").get(id=referral.id)
    text = words(pdf_bytes(referral))
    preview = api.get(f"{URL}/{referral.id}/slip.html")

    assert _Trap.hits == []
    for value in (*hostile.values(), f"<img src={trap}/n>"):
        assert flat(value) in text
    assert "root:" not in text
    html = preview.content.decode()
    assert '<img src="file:///etc/passwd">' not in html
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt;" in html
    assert "<script>" not in html
    assert "<svg onload" not in html
    assert preview["Content-Security-Policy"].startswith("default-src 'none'")
    assert _Trap.hits == []


def test_the_renderer_itself_fetches_nothing_but_its_own_assets(trap: str, tmp_path: Path) -> None:
    """The second wall: even raw HTML that escaped the templates reaches nothing."""
    secret = tmp_path / "secret.css"
    secret.write_text('body::after { content: "LEAKED" }')
    html = f"""<!doctype html><html lang="fr"><head><title>t</title>
    <link rel="stylesheet" href="{trap}/style.css">
    <link rel="stylesheet" href="{secret.as_uri()}">
    <style>@import url("{trap}/import.css"); p {{ background: url({trap}/bg.png) }}</style>
    </head><body><p>Bonjour</p>
    <img src="{trap}/img.png"><img src="file:///etc/passwd"><img src="http://127.0.0.1:9/x">
    <img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E">
    <object data="{trap}/object"></object><embed src="{trap}/embed">
    </body></html>"""

    pdf = slip_renderer().render(html)

    assert _Trap.hits == []
    reader = PdfReader(io.BytesIO(pdf))
    assert "Bonjour" in reader.pages[0].extract_text()
    assert "LEAKED" not in reader.pages[0].extract_text()  # the file was not read
    resources: Any = reader.pages[0]["/Resources"]
    assert not resources.get("/XObject")  # no image was drawn


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://example.org/font.ttf",
        "data:text/css,p{color:red}",
        "file:///etc/passwd",
        "file://evil.example.org/templates/slips/slip.css",
        (SLIP_ASSETS / ".." / ".." / "config" / "settings.py").as_uri(),
        (SLIP_ASSETS / "missing.css").as_uri(),
        "slip.css",
        "ftp://example.org/x",
    ],
)
def test_the_asset_fetcher_refuses_anything_but_its_files(url: str) -> None:
    fetcher = asset_fetcher((SLIP_ASSETS, FONT_DIR))
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)


def test_the_asset_fetcher_serves_the_stylesheet_and_the_fonts() -> None:
    fetcher = asset_fetcher((SLIP_ASSETS, FONT_DIR))
    css = fetcher.fetch((SLIP_ASSETS / "slip.css").as_uri())
    font = fetcher.fetch((FONT_DIR / "AtkinsonHyperlegible-Regular.ttf").as_uri())
    assert b"@page" in css.read()
    assert len(font.read()) > 10_000


# --- The day's batch ----------------------------------------------------------------------


def _codes(pdf: bytes) -> list[str]:
    """The referral code in each page's footer, in page order."""
    codes = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        found = re.findall(r"\b[A-Z0-9]{3}-[A-Z0-9]{3}\b", page.extract_text())
        codes.append(found[-1] if found else "")
    return codes


def test_the_days_slips_come_as_one_document_in_the_order_they_were_filed(
    api: ApiClient, outsider_api: ApiClient, catalog: int
) -> None:
    filed = [
        slipped(api, first_name=name, needs=["isolation"]) for name in ("Anne", "Bruno", "Chloé")
    ]
    cancelled = slipped(api, first_name="Denis")
    assert api.post(f"{URL}/{cancelled.id}/cancel", {"reason": "moved away"}).status_code == 200
    today = timezone.localdate().isoformat()

    response = api.get(f"/api/v1/slips.pdf?date={today}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Total-Count"] == "3"
    assert "Link" not in response
    assert _codes(response.content) == [r.code for r in filed]  # one page each, in order
    text = words(response.content)
    assert [text.index(f"Bonjour {n},") for n in ("Anne", "Bruno", "Chloé")] == sorted(
        text.index(f"Bonjour {n},") for n in ("Anne", "Bruno", "Chloé")
    )
    assert "Denis" not in text
    reader = PdfReader(io.BytesIO(response.content))
    root: Any = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    # Another health centre sees none of them.
    other = outsider_api.get(f"/api/v1/slips.pdf?date={today}")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "no_slips"
    # Today is the default.
    assert api.get("/api/v1/slips.pdf")["X-Total-Count"] == "3"


def test_a_large_batch_comes_in_parts(
    api: ApiClient, catalog: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("slips.api.BATCH_MAX_SLIPS", 2)
    filed = [slipped(api, first_name=n, needs=["isolation"]) for n in ("Anne", "Bruno", "Chloé")]
    today = timezone.localdate().isoformat()

    first = api.get(f"/api/v1/slips.pdf?date={today}")
    assert first["X-Total-Count"] == "3"
    assert _codes(first.content) == [r.code for r in filed[:2]]
    next_url = re.fullmatch(r'<([^>]+)>; rel="next"', first["Link"])
    assert next_url is not None
    rest = api.get(next_url.group(1))
    assert _codes(rest.content) == [filed[2].code]
    assert "Link" not in rest


def test_a_large_print_slip_in_a_batch_keeps_its_pages(api: ApiClient, catalog: int) -> None:
    regular = slipped(api, first_name="Anne", needs=["isolation"])
    large = slipped(api, first_name="Bruno", needs=["isolation"], large_print=True)
    response = api.get("/api/v1/slips.pdf")
    pages = _codes(response.content)
    large_pages = len(PdfReader(io.BytesIO(pdf_bytes(large))).pages)
    assert large_pages > 1
    # Each page says whose it is; the large slip keeps all its pages, at its own size.
    assert pages == [regular.code] + [large.code] * large_pages
    batch = PdfReader(io.BytesIO(response.content))
    assert min(_page_font_sizes(batch.pages[0])) < 16
    for page in batch.pages[1:]:
        assert min(_page_font_sizes(page)) >= 16


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date=2026-13-01", "date"),
        ("date=yesterday", "date"),
        ("date=9999-12-31", "date"),
        ("date=0001-01-01", "date"),
        ("offset=-1", "offset"),
    ],
)
def test_a_bad_batch_query_names_the_field(api: ApiClient, query: str, field: str) -> None:
    response = api.get(f"/api/v1/slips.pdf?{query}")
    assert response.status_code == 422
    assert field in str(response.json())


def test_a_day_without_slips_is_404_and_says_so(api: ApiClient, catalog: int) -> None:
    response = api.get("/api/v1/slips.pdf?date=2020-01-01")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_slips"
    assert response.json()["error"]["date"] == "2020-01-01"


def test_the_batch_needs_a_health_centres_key(org_api: ApiClient, db: None) -> None:
    assert ApiClient(None).get("/api/v1/slips.pdf").status_code == 401
    assert org_api.get("/api/v1/slips.pdf").status_code in (401, 403)


# --- The preview -----------------------------------------------------------------------------


def test_the_preview_is_the_html_the_pdf_is_made_from(
    api: ApiClient, outsider_api: ApiClient, catalog: int
) -> None:
    waiting = api.post(URL, _body())
    early = api.get(f"{URL}/{waiting.json()['id']}/slip.html")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "slip_not_ready"

    referral = slipped(api, preferred_language="en")
    response = api.get(f"{URL}/{referral.id}/slip.html")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert ".slip + .slip { break-before: page; }" in html  # laid out as printed
    assert "@font-face" not in html
    assert f"Your referral {referral.code}" in html
    assert "Hello Josiane," in html
    assert api.get(f"{URL}/{referral.id}")["Content-Type"] == "application/json; charset=utf-8"
    assert api.get(f"{URL}/{referral.id}").json()["links"]["slip_html"].endswith("/slip.html")
    assert outsider_api.get(f"{URL}/{referral.id}/slip.html").status_code == 404
    assert api.get(f"{URL}/{uuid.uuid4()}/slip.html").status_code == 404


# --- Where slips are rendered -----------------------------------------------------------------


def test_slips_have_a_queue_of_their_own() -> None:
    assert render_slip.queue_name == "slips"
    assert match_referral.queue_name != "slips"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("queues", "warmed"), [({"matching"}, False), ({"slips"}, True)])
def test_a_worker_that_takes_slips_warms_the_renderer_before_its_first_message(
    broker: Any, monkeypatch: pytest.MonkeyPatch, queues: set[str], warmed: bool
) -> None:
    import dramatiq

    from slips import renderer as module

    seen: list[bool] = []
    # The renderer as the worker's threads find it when they start taking messages.
    monkeypatch.setattr(module, "_renderer", None)
    original = dramatiq.Worker._add_worker

    def add_worker(self: Any) -> None:
        seen.append(module._renderer is not None)
        original(self)

    monkeypatch.setattr(dramatiq.Worker, "_add_worker", add_worker)
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=1)
    worker.start()
    worker.stop(timeout=5_000)
    assert seen == [warmed]


def test_a_missing_harfbuzz_subset_library_is_reported_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from slips import renderer as module

    # Only the detection is replaced: the library is really installed on this machine.
    monkeypatch.setattr(module, "harfbuzz_subset_missing", lambda: True)
    monkeypatch.setattr(module, "_renderer", None)
    with caplog.at_level("WARNING", logger="slips.renderer"):
        module.slip_renderer()
    assert "libharfbuzz-subset0" in caplog.text


def test_a_catalogue_change_shows_on_the_next_slip(api: ApiClient, catalog: int) -> None:
    """Slip workers keep the activities they print, until the catalogue changes."""
    from community_catalog.services import service_update
    from slips.content import CATALOGUE_TTL_SECONDS, catalogue_forget

    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    first = referral.matches.order_by("rank").first()
    assert first is not None
    service = first.service_at_location.service
    assert service.name in slip_html(referral)

    # Through the API or the web pages: the change writes its event, the next slip has it.
    service_update(
        organization=service.organization,
        service_id=service.id,
        changes={"name": "Marche du matin, nouveau nom"},
    )
    assert "Marche du matin, nouveau nom" in slip_html(referral)

    # Written around the services (an operator in the admin): no event, so it shows once
    # the copy has aged (CATALOGUE_TTL_SECONDS), here forced.
    assert CATALOGUE_TTL_SECONDS <= 60
    Service.objects.filter(id=service.id).update(name="Nom posé à la main")
    catalogue_forget()
    assert "Nom posé à la main" in slip_html(referral)
