"""The slip renderer: HTML → an accessible A4 PDF (PDF/UA-1), with WeasyPrint.

WeasyPrint is imported only when the first renderer is built, inside the process that
renders (never before a fork). The renderer lives as long as the process: one
FontConfiguration, the stylesheets parsed once, the font files read once, and a first
slip rendered before the worker takes any work, so the first real slip is not slower
than the next.

Only the project's own assets are ever read: `asset_fetcher` refuses every other URL
(http, https, data:, file:// outside the asset folders), whatever a catalogue entry
says. The templates escape all text, so such a URL should never reach it; the fetcher is
the second wall.
"""

from __future__ import annotations

import atexit
import gc
import logging
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import fontpkg_atkinson_hyperlegible
from django.conf import settings

from core.collector import collection_paused
from slips.content import sample_slips_html
from slips.render_process import RenderProcess

logger = logging.getLogger(__name__)

SLIP_ASSETS = Path(settings.BASE_DIR) / "templates" / "slips"
FONT_DIR = Path(fontpkg_atkinson_hyperlegible.ROOT) / "files"
PDF_VARIANT = "pdf/ua-1"


class SlipRenderer:
    """A long-lived WeasyPrint renderer. One per process; renders one document at a time
    (WeasyPrint's font machinery is not meant to be shared across threads)."""

    def __init__(self, *, warm: bool = True) -> None:
        from weasyprint import CSS, HTML
        from weasyprint.text.fonts import FontConfiguration

        self._html_class = HTML
        self._lock = threading.Lock()
        self.fetcher = asset_fetcher((SLIP_ASSETS, FONT_DIR))
        self.font_config = FontConfiguration()
        self.stylesheets = [
            CSS(string=_font_faces(), font_config=self.font_config, url_fetcher=self.fetcher),
            CSS(
                filename=str(SLIP_ASSETS / "slip.css"),
                font_config=self.font_config,
                url_fetcher=self.fetcher,
            ),
        ]
        if warm:
            started = time.perf_counter()
            self.warm()
            logger.info("slip renderer ready in %.0f ms", (time.perf_counter() - started) * 1000)

    def render(self, html: str) -> bytes:
        # The young generations swept after each render (docs/benchmarks.md has the
        # figures, and says where their history is).
        with self._lock, collection_paused(sweep=1):
            document = self._html_class(
                string=html, base_url=SLIP_ASSETS.as_uri() + "/", url_fetcher=self.fetcher
            )
            pdf: bytes = document.write_pdf(
                stylesheets=self.stylesheets,
                font_config=self.font_config,
                pdf_variant=PDF_VARIANT,
            )
        return pdf

    def warm(self) -> None:
        """Render sample slips once, in every face and size a slip uses, so that fonts,
        templates and caches are loaded before real work."""
        for html in sample_slips_html():
            self.render(html)


def _font_faces() -> str:
    faces = []
    for weight, style, name in (
        ("normal", "normal", "Regular"),
        ("bold", "normal", "Bold"),
        ("normal", "italic", "Italic"),
        ("bold", "italic", "BoldItalic"),
    ):
        url = (FONT_DIR / f"AtkinsonHyperlegible-{name}.ttf").as_uri()
        faces.append(
            f"@font-face {{ font-family: 'Atkinson Hyperlegible'; font-weight: {weight};"
            f" font-style: {style}; src: url('{url}'); }}"
        )
    return "\n".join(faces)


def stylesheet_text() -> str:
    """The slip's whole stylesheet as text: what a renderer without pre-parsed
    stylesheets (the benchmark's naive baseline) puts in the HTML."""
    return _font_faces() + "\n" + (SLIP_ASSETS / "slip.css").read_text()


@lru_cache(maxsize=1)
def preview_stylesheet() -> str:
    """The slip's layout for a browser showing the preview (the fonts stay out: the
    preview's content security policy loads nothing)."""
    return (SLIP_ASSETS / "slip.css").read_text()


class FetchRefused(ValueError):
    """A URL the slip renderer will not read."""


def asset_fetcher(roots: tuple[Path, ...]) -> Any:
    """A WeasyPrint URL fetcher that serves files from the project's own asset folders and
    refuses every other URL: no network, no file elsewhere, no data: URL, whatever a
    catalogue entry contains. Built on demand so WeasyPrint is imported late."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    allowed = tuple(r.resolve() for r in roots)

    class AssetFetcher(URLFetcher):
        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                raise FetchRefused(f"slip assets only; refused a {parts.scheme or 'relative'} URL")
            path = Path(unquote(parts.path)).resolve()
            if not any(path.is_relative_to(root) for root in allowed) or not path.is_file():
                raise FetchRefused("slip assets only; refused a file outside the asset folders")
            return URLFetcherResponse(path.as_uri(), _asset_bytes(path))

    return AssetFetcher(allowed_protocols=("file",), allow_redirects=False)


@lru_cache(maxsize=64)
def _asset_bytes(path: Path) -> bytes:
    return path.read_bytes()


def harfbuzz_subset_missing() -> bool:
    """True when WeasyPrint cannot use HarfBuzz's subsetter (libharfbuzz-subset ≥ 4.1)
    and falls back to fontTools, several times slower per slip."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    return harfbuzz_subset is None or not harfbuzz.hb_version_atleast(4, 1, 0)


_renderer: SlipRenderer | None = None
_renderer_lock = threading.Lock()


def slip_renderer() -> SlipRenderer:
    """This process's renderer, built (and warmed) on first use."""
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            if harfbuzz_subset_missing():
                logger.warning(
                    "HarfBuzz's subset library (libharfbuzz-subset0, version 4.1 or later) "
                    "is missing: WeasyPrint falls back to fontTools and every slip takes "
                    "several times longer. On Debian or Ubuntu: "
                    "apt-get install libharfbuzz-subset0"
                )
            _renderer = SlipRenderer()
            # Drop it before interpreter shutdown: WeasyPrint's font objects cannot be
            # finalised once the modules they use have been torn down.
            atexit.register(_renderer_drop)
        return _renderer


# A `tisser worker` renders in a child process (slips.render_process); set at boot.
_render_process: RenderProcess | None = None
_frozen = False


def slip_render(html: str) -> tuple[bytes, float]:
    """A slip's PDF and the milliseconds its render took: in this process's render
    process when it has one (a `tisser worker` started with TISSER_SLIP_RENDER_PROCESS),
    here otherwise (embedded mode, tests, the benchmarks' renderers)."""
    process = _render_process
    if process is not None:
        return process.render(html)
    started = time.perf_counter()
    pdf = slip_renderer().render(html)
    return pdf, (time.perf_counter() - started) * 1000


def worker_warm_up(*, slips: bool = True, separate: bool = False) -> None:
    """What a worker process does when it boots, before it takes any message: prepare
    the slip renderer (when it takes slips), here or, when `separate`, in a child process
    it then renders in; then, once per process, move everything loaded so far out of
    the garbage collector's reach (`gc.freeze`). Django, WeasyPrint and the fonts live as
    long as the process; scanning them on every full collection only adds pauses to the
    renders."""
    global _frozen, _render_process
    if slips and separate:
        process = RenderProcess()
        process.start()
        atexit.register(process.stop)
        _render_process = process
    elif slips:
        slip_renderer()
    with _renderer_lock:
        if not _frozen:
            gc.collect()
            gc.freeze()
            _frozen = True


def _renderer_drop() -> None:
    global _renderer
    _renderer = None
