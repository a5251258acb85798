"""Slips with hostile catalogue text, the renderer's assets, the day's batch, the
preview and the worker's slip queue."""

from __future__ import annotations

import io
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader

from community_catalog.models import Location, Organization, Service
from events.models import Event
from referrals.models import Referral
from slips.content import slip_html
from slips.renderer import FONT_DIR, SLIP_ASSETS, FetchRefused, asset_fetcher, slip_renderer
from slips.services import referral_render_slip
from tests.conftest import ApiClient, referral_matched
from tests.conftest import referral_slipped as slipped
from tests.slips.test_slips import _body, _page_font_sizes, flat, pdf_bytes, words
from workers.actors import match_referral, render_slip

URL = "/api/v1/referrals"
PUBLIC_URL = "https://tisser.example.org"
# The demo catalogue's confidential place (a carers' group meets there).
CONFIDENTIAL_SPOT = {"latitude": 45.739, "longitude": 4.870}


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
