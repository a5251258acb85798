"""Directories served over real HTTP from a thread, as other systems serve them.

- `HsdsApi`: an HSDS 3.0 API (the `/services` operations of `../shared/hsds/schema/
  openapi.json`): pages with `total_items`, `total_pages`, `page_number`, `size`,
  `first_page`, `last_page`, `empty`, `contents`; `full=true` gives whole services,
  `minimal=true` only `id`, `name`, `status`, `last_modified`, neither the service_list
  form (no places); `/services/{id}` the whole service. A `strict` server answers 400 to
  a parameter it does not know, as some implementations do.
- `DataInclusionApi`: data·inclusion's API (`/structures`, `/services`, pages of
  `items` with `total`, `page`, `size`, `pages`), behind a bearer token.

Each records the requests it was sent (path, query, headers).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any]
_LIST_FIELDS = ("id", "name", "description", "status", "last_modified", "organization_id")


class Server:
    """A local HTTP server answering with `self.answer(path, query)`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.delay = 0.0
        self.padding = 0  # bytes of whitespace added to every answer
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                server.requests.append((parts.path, query, dict(self.headers.items())))
                if server.delay:
                    time.sleep(server.delay)
                status, document = server.answer(parts.path, query, dict(self.headers.items()))
                body = json.dumps(document).encode() + b" " * server.padding
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]

    @contextmanager
    def running(self) -> Iterator[Server]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def _page(items: list[Any], query: dict[str, str], per_page_default: int = 50) -> dict[str, Any]:
    page = int(query.get("page", "1"))
    per_page = int(query.get("per_page", str(per_page_default)))
    total_pages = max(1, -(-len(items) // per_page))
    contents = items[(page - 1) * per_page : page * per_page]
    return {
        "total_items": len(items),
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


class HsdsApi(Server):
    """An HSDS API over `services` (whole HSDS services, each with `last_modified`)."""

    KNOWN = frozenset({"page", "per_page", "full", "minimal"})

    def __init__(self, services: list[dict[str, Any]], *, strict: bool = False) -> None:
        super().__init__()
        self.services = {s["id"]: s for s in services}
        self.strict = strict
        for service in self.services.values():
            service.setdefault("last_modified", "2026-11-01T08:00:00Z")

    def edit(self, service_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        service = self.services[service_id]
        change(service)
        service["last_modified"] = datetime.now(UTC).isoformat()

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        unknown = set(query) - (self.KNOWN if not self.strict else {"page", "per_page"})
        if unknown:
            return 400, {"error": f"unknown parameter {sorted(unknown)[0]}"}
        if path == "/api/services":
            items = list(self.services.values())
            if query.get("minimal") == "true":
                keep = ("id", "name", "status", "last_modified")
                items = [{k: s[k] for k in keep if k in s} for s in items]
            elif query.get("full") != "true":
                items = [{k: s[k] for k in _LIST_FIELDS if k in s} for s in items]
            return 200, _page(items, query)
        if path.startswith("/api/services/"):
            service_id = urllib.parse.unquote(path.removeprefix("/api/services/"))
            if service_id in self.services:
                return 200, self.services[service_id]
        return 404, {"error": "not found"}


class DataInclusionApi(Server):
    """data·inclusion's API over an export's structures and services."""

    def __init__(self, structures: list[Any], services: list[Any], token: str) -> None:
        super().__init__()
        self.data = {"/api/v1/structures": structures, "/api/v1/services": services}
        self.token = token

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 403, {"detail": "Not authenticated"}
        if path not in self.data:
            return 404, {"detail": "Not Found"}
        items = self.data[path]
        page, size = int(query.get("page", "1")), int(query.get("size", "50"))
        pages = max(1, -(-len(items) // size))
        return 200, {
            "items": items[(page - 1) * size : page * size],
            "total": len(items),
            "page": page,
            "size": size,
            "pages": pages,
        }
