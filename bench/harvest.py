"""`tisser bench harvest`: a directory harvested over HTTP, beside the importer alone.

A generated feed of `services` HSDS services (those of `tisser bench catalog`, each with
its organisation, among one organisation per 20 services) is served as an HSDS 3.0 API
by a local HTTP server in a thread, its pages encoded before the clock starts. Tisser
harvests it as an `hsds-api` source twice: the first run creates everything; the second,
with nothing changed, reads the minimal listing only. In the same run, the same records
(namespaced as a harvest namespaces them, in batches of 500) go through the catalogue's
importer alone, into ids of their own. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import random
import threading
import time as clock
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.db import connection
from django.test import override_settings

from bench.catalog import _service
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import TaxonomyTerm
from community_catalog.taxonomy_services import taxonomy_seed
from harvest.feeds import PER_PAGE
from harvest.records import namespaced
from harvest.runs import BATCH, harvest_run
from harvest.sources import source_add

SERVICES_PER_ORGANIZATION = 20
_MINIMAL = ("id", "name", "status", "last_modified")


def feed_documents(services: int, seed: int = 2) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - made-up data, not secrets
    terms = list(TaxonomyTerm.objects.exclude(parent=None))
    activities = [t for t in terms if t.kind == "activity"]
    needs = [t for t in terms if t.kind == "need"]
    organizations = [
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "name": f"Association {i}",
            "description": "Une association du territoire.",
        }
        for i in range(max(1, -(-services // SERVICES_PER_ORGANIZATION)))
    ]
    documents = []
    for i in range(services):
        document = _service(rng, activities, needs)
        document["organization"] = organizations[i // SERVICES_PER_ORGANIZATION]
        document["last_modified"] = "2026-11-01T08:00:00+00:00"
        documents.append(document)
    return documents


def _pages(items: list[dict[str, Any]]) -> dict[int, bytes]:
    total_pages = max(1, -(-len(items) // PER_PAGE))
    pages = {}
    for number in range(1, total_pages + 1):
        contents = items[(number - 1) * PER_PAGE : number * PER_PAGE]
        pages[number] = json.dumps(
            {
                "total_items": len(items),
                "total_pages": total_pages,
                "page_number": number,
                "size": len(contents),
                "first_page": number == 1,
                "last_page": number == total_pages,
                "empty": not contents,
                "contents": contents,
            }
        ).encode()
    return pages


@contextmanager
def feed_served(documents: list[dict[str, Any]]) -> Iterator[str]:
    """An HSDS API over `documents` (`full=true` and `minimal=true` pages), its bodies
    encoded up front; yields its base URL."""
    full = _pages(documents)
    minimal = _pages([{k: d[k] for k in _MINIMAL if k in d} for d in documents])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            pages = minimal if query.get("minimal") == "true" else full
            body = pages.get(int(query.get("page", "1")))
            if parts.path != "/services" or body is None:
                self.send_response(404)
                body = b"{}"
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def bench_harvest(*, services: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    taxonomy_seed()
    documents = feed_documents(services)
    with feed_served(documents) as base, override_settings(TISSER_HARVEST_ALLOW_PRIVATE=True):
        source = source_add(name="bench", url=base, kind="hsds-api", every_hours=0)
        log(f"harvesting {services} services over HTTP…")
        started = clock.perf_counter()
        first = harvest_run(source)
        first_s = clock.perf_counter() - started
        if first.created != services:
            raise RuntimeError(
                f"the harvest created {first.created}: {first.error} {first.problems[:3]}"
            )
        log("harvesting again, nothing changed…")
        started = clock.perf_counter()
        second = harvest_run(source)
        second_s = clock.perf_counter() - started
        if second.unchanged != services:
            raise RuntimeError(f"the second run: {second.unchanged} unchanged, {second.error}")

    log("the same records through the importer alone…")
    namespace = uuid.uuid4()
    records = [namespaced(d, namespace, path=d["id"]) for d in documents]
    started = clock.perf_counter()
    for first_index in range(0, len(records), BATCH):
        report = hsds_import(
            hsds_read(records[first_index : first_index + BATCH]),
            organization=None,
            skip_invalid=True,
        )
        if report.errors:
            raise RuntimeError(f"the importer refused: {report.errors[:3]}")
    import_s = clock.perf_counter() - started
    return {
        "benchmark": "harvest",
        "database": connection.vendor,
        "services": services,
        "seconds": round(first_s, 2),
        "services_per_s": round(services / first_s, 1),
        "import_alone_services_per_s": round(services / import_s, 1),
        "harvest_to_import_ratio": round(import_s / first_s, 2),
        "second_run_seconds": round(second_s, 2),
        "second_run_speedup": round(first_s / second_s, 1),
    }
