"""Reading a source: what it lists, fetched through the address guard within limits.

- `hsds-api`: an HSDS 3.0 API's `/services`, page after page. On the first run the pages
  are asked for in full (`full=true`); afterwards in their minimal form (`minimal=true`:
  id, name, status, last_modified) and only the services that are new or whose
  `last_modified` moved are fetched (`/services/{id}`). A server that refuses either
  parameter is read without it, comparing each service. The whole list is walked on
  every run (`modified_after` alone would say what changed, never what left).
- `hsds-file`: an HSDS document (one service, a list, a page, an organisation with its
  services) at a URL, or at a path on the server for a source an operator added there.
- `data-inclusion`: the national API (`{url}/structures` and `{url}/services`, pages of
  `items`), or an export: a JSON document `{"structures": [...], "services": [...]}` at
  a URL or path, or a folder holding `structures.json` and `services.json`.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from community_catalog.hsds import hsds_services_in
from core.bodies import DocumentError, json_depth_check
from events.webhook_transport import FetchFailed, guarded_get
from harvest.data_inclusion import data_inclusion_entries
from harvest.models import HarvestSource
from harvest.records import Entry

# Pages walked at most: a source listing more is refused rather than walked forever.
MAX_PAGES = 20_000
PER_PAGE = 500
# data·inclusion's API pages.
DI_PAGE_SIZE = 1000


class SourceFailed(Exception):
    """The source could not be read; the message says why, in Tisser's words."""


Fetch = Callable[[str], Any]


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def fetcher(source: HarvestSource) -> Fetch:
    """GET a URL of `source` and read it as JSON, or raise `SourceFailed`."""
    headers = {"Accept": "application/json", "User-Agent": "Tisser harvest"}
    if source.token_env:
        token = os.environ.get(source.token_env, "")
        if not token:
            raise SourceFailed(f"the environment variable {source.token_env} is not set")
        headers["Authorization"] = f"Bearer {token}"

    def fetch(url: str) -> Any:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        listed = host in settings.TISSER_HARVEST_PRIVATE_HOSTS
        private = settings.TISSER_HARVEST_ALLOW_PRIVATE or listed
        if "Authorization" in headers and parts.scheme != "https" and not listed:
            # A token over plain HTTP is anyone's on the way: only to a host the
            # operator listed as their own network's.
            raise SourceFailed(f"{_shown(url)}: a token is only sent over https://")
        try:
            status, _, body = guarded_get(
                url,
                headers=headers,
                max_bytes=settings.TISSER_HARVEST_MAX_BYTES,
                timeout=settings.TISSER_HARVEST_TIMEOUT_SECONDS,
                allow_private=private,
            )
        except FetchFailed as exc:
            raise SourceFailed(f"{_shown(url)}: {exc}") from None
        if status != 200:
            raise HttpStatus(status, f"{_shown(url)}: HTTP {status}")
        return _json(body, _shown(url))

    return fetch


class HttpStatus(SourceFailed):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _shown(url: str) -> str:
    """The URL without its query's values nor any user information."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _json(body: bytes, where: str) -> Any:
    try:
        document = json.loads(body)
        json_depth_check(document)
    except (ValueError, UnicodeDecodeError, RecursionError, DocumentError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise SourceFailed(f"{where}: not JSON ({reason})") from None
    return document


def _file(path: Path) -> Any:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceFailed(f"{path}: {exc.strerror}") from None
    if size > settings.TISSER_HARVEST_MAX_BYTES:
        raise SourceFailed(f"{path}: larger than {settings.TISSER_HARVEST_MAX_BYTES} bytes")
    return _json(path.read_bytes(), str(path))


def _url(base: str, path: str, **query: Any) -> str:
    """`path` below `base`, with `query` added to the base's own (an API key there)."""
    parts = urllib.parse.urlsplit(base)
    merged = [*urllib.parse.parse_qsl(parts.query, keep_blank_values=True), *query.items()]
    return urllib.parse.urlunsplit(
        parts._replace(
            path=parts.path.rstrip("/") + path,
            query=urllib.parse.urlencode(merged),
            fragment="",
        )
    )


# --- Kinds ---------------------------------------------------------------------------


def entries(source: HarvestSource, known: dict[str, str], *, fetch: Fetch) -> Iterator[Entry]:
    """Every record the source lists. `known`: the source's last-modified of each record
    already harvested and active, so that an API source fetches only what moved."""
    if source.kind == HarvestSource.Kind.HSDS_API:
        yield from _hsds_api(source.url, known, fetch)
    elif source.kind == HarvestSource.Kind.HSDS_FILE:
        document = fetch(source.url) if is_url(source.url) else _file(Path(source.url))
        yield from _hsds_document(document)
    else:
        yield from _data_inclusion(source.url, fetch)


def _hsds_document(document: Any) -> Iterator[Entry]:
    try:
        services = hsds_services_in(document)
    except DocumentError as exc:
        raise SourceFailed(str(exc)) from None
    for item in services:
        yield _hsds_entry(item)


def _hsds_entry(item: Any, document: bool = True) -> Entry:
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("id"), str | int)
        or isinstance(item.get("id"), bool)
        or not str(item["id"]).strip()
    ):
        return Entry(record_id="", problems=[("id", "a service needs its id")])
    record_id = str(item["id"])
    if len(record_id) > 300:
        return Entry(record_id=record_id[:300], problems=[("id", "longer than 300 characters")])
    # HSDS's field; the specification's words for `minimal` name it `modified_date`.
    modified = str(item.get("last_modified") or item.get("modified_date") or "")[:40]
    return Entry(record_id=record_id, modified=modified, document=item if document else None)


def _pages(
    fetch: Fetch, url: Callable[[int], str], items: str, first: Any = None
) -> Iterator[list[Any]]:
    """The `items` list of each page, from page 1 (`first` when already fetched) until
    the last (HSDS: `last_page`, `total_pages`; data·inclusion: `pages`) or an empty one."""
    previous: list[Any] = []
    for page in range(1, MAX_PAGES + 1):
        document = first if page == 1 and first is not None else fetch(url(page))
        if not isinstance(document, dict) or not isinstance(document.get(items), list):
            raise SourceFailed(f"page {page} is not a page of {items!r}")
        contents = document[items]
        if contents and contents == previous:
            raise SourceFailed(f"page {page} is page {page - 1} again: the source ignores `page`")
        previous = contents
        if contents:
            yield contents
        total = _count(document.get("total_pages", document.get("pages")))
        if not contents or document.get("last_page") is True or (total and page >= total):
            return
    raise SourceFailed(f"more than {MAX_PAGES} pages")


def _count(value: Any) -> int | None:
    """A page count as servers write it: 3, 3.0 or "3" (None for anything else)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _hsds_api(base: str, known: dict[str, str], fetch: Fetch) -> Iterator[Entry]:
    shape = {"minimal": "true"} if known else {"full": "true"}

    def page_url(page: int) -> str:
        return _url(base, "/services", page=page, per_page=PER_PAGE, **shape)

    try:
        first = fetch(page_url(1))
    except HttpStatus as exc:
        if not 400 <= exc.status < 500:
            raise
        shape = {}  # the server does not know the parameter: compare every service
        first = None
    for contents in _pages(fetch, page_url, "contents", first):
        for item in contents:
            entry = _hsds_entry(item, document=False)
            if entry.problems:
                yield entry
                continue
            if "service_at_locations" in item and "organization" in item:
                entry.document = item  # given in full
            elif entry.modified and known.get(entry.record_id) == entry.modified:
                pass  # unchanged since it was last fetched
            else:
                quoted = urllib.parse.quote(entry.record_id, safe="")
                try:
                    detail = fetch(_url(base, "/services/" + quoted))
                except HttpStatus as exc:
                    if exc.status not in (404, 410):
                        raise  # the server is failing: the run stops, nothing deactivated
                    detail = None  # gone between the listing and its page
                if detail is None:
                    entry.problems = [("", "listed, but its page answered 404 (gone?)")]
                elif not isinstance(detail, dict):
                    entry.problems = [("", "the service's page is not a JSON object")]
                elif str(detail.get("id", "")) != entry.record_id:
                    entry.problems = [("id", "the service's page names another id")]
                else:
                    entry.document = detail
            yield entry


def _data_inclusion(location: str, fetch: Fetch) -> Iterator[Entry]:
    if is_url(location) and not location.endswith(".json"):
        structures = _di_api(fetch, location, "/structures")
        services = _di_api(fetch, location, "/services")
        yield from data_inclusion_entries(list(structures), services)
        return
    if is_url(location):
        document = fetch(location)
    else:
        folder = Path(location)
        if folder.is_dir():
            document = {
                "structures": _file(folder / "structures.json"),
                "services": _file(folder / "services.json"),
            }
        else:
            document = _file(folder)
    if not (
        isinstance(document, dict)
        and isinstance(document.get("structures"), list)
        and isinstance(document.get("services"), list)
    ):
        raise SourceFailed(
            'expected data·inclusion\'s export: {"structures": [...], "services": [...]}'
        )
    yield from data_inclusion_entries(document["structures"], document["services"])


def _di_api(fetch: Fetch, base: str, path: str) -> Iterator[Any]:
    for items in _pages(fetch, lambda n: _url(base, path, page=n, size=DI_PAGE_SIZE), "items"):
        yield from items
