"""Two Tisser instances federate over real HTTP (issue 24): A publishes its catalogue at
`/hsds/`, B harvests it as a source an operator added over B's API; B's relay hands the
source to B's worker, with nothing run by hand.

Expected, written before running: B's first run creates as many services as A's
`/hsds/services` lists (`total_items`), each with A's id as its provenance; an
organisation's edit on A appears on B at B's next run (1 updated, the rest unchanged);
A's service closed for a while is closed on B after the next run; deleted on A, it is
deactivated on B (never deleted), with `service.closed` and the reason `left-source`.

Two `tisser serve` processes on the embedded broker, each on a database of its own
(tests/faults/conftest.py's template); a PostgreSQL-pass test only (tests/conftest.py:
ONE_PASS), in CI's faults lane.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.faults.conftest import (  # noqa: F401 (fixtures)
    Tisser,
    _base_env,
    _postgres,
    _postgres_url,
    database_url,
    template,
    tisser,
    wait_until,
)

pytestmark = [pytest.mark.subprocess]


@pytest.fixture
def harvester(tmp_path: Path, template: tuple[Path, str]) -> Iterator[Tisser]:  # noqa: F811
    """A second Tisser, on a database of its own copied from the same template."""
    data_dir = tmp_path / "b" / "data"
    shutil.copytree(template[0], data_dir)
    conninfo = _postgres()
    name = f"tisser_federation_{time.monotonic_ns()}"
    url = ""
    if conninfo is not None:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template[1]}"')
        url = _postgres_url(conninfo, name)
    instance = Tisser(_base_env(data_dir, url), tmp_path / "b")
    try:
        yield instance
    finally:
        instance.stop_all()
        if conninfo is not None:
            with psycopg.connect(**conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _key(output: str) -> str:
    return output.strip().splitlines()[-1]


def _copies(base: str) -> dict[str, dict[str, Any]]:
    """B's harvested services, by their id at the source (A's id)."""
    page = httpx.get(f"{base}/hsds/services", params={"per_page": 500, "full": "true"}).json()
    found = {}
    for service in page["contents"]:
        for metadata in service.get("metadata", []):
            if metadata["last_action_type"] == "harvested":
                found[metadata["replacement_value"]] = service
    return found


def _last_run(base: str, key: str, count: int) -> dict[str, Any]:
    """The source's latest run, once it has `count` finished runs."""
    headers = {"Authorization": f"Bearer {key}"}
    found: dict[str, Any] = {}

    def finished() -> bool:
        runs = httpx.get(f"{base}/api/v1/harvest/sources/voisin/runs", headers=headers).json()
        done = [r for r in runs["items"] if r["finished_at"]]
        if len(done) >= count:
            found.update(done[0])
            return True
        return False

    wait_until(finished, timeout=60, what=f"run {count} of the source")
    return found


def test_one_tisser_harvests_another(tisser: tuple[Tisser, str], harvester: Tisser) -> None:  # noqa: F811
    publisher, _center_key = tisser
    _, a = publisher.serve()
    operator = _key(harvester.run("create-operator", "coordination"))
    _, b = harvester.serve(TISSER_HARVEST_CHECK_SECONDS="1")
    published = httpx.get(f"{a}/hsds/services", params={"per_page": 500, "full": "true"}).json()
    assert published["total_items"] > 5

    added = httpx.post(
        f"{b}/api/v1/harvest/sources",
        json={"name": "voisin", "url": f"{a}/hsds", "kind": "hsds-api", "every_hours": 24},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert added.status_code == 201, added.text
    first = _last_run(b, operator, 1)

    assert first["status"] == "succeeded", first
    assert first["created"] == published["total_items"], first
    copies = _copies(b)
    assert set(copies) == {s["id"] for s in published["contents"]}

    # An organisation of A edits one of its services.
    service = published["contents"][0]
    organization = _key(publisher.run("create-org", service["organization"]["name"], "--new-key"))
    edited = httpx.patch(
        f"{a}/api/v1/organization/services/{service['id']}",
        json={"description": "Nouvelle description, écrite sur A."},
        headers={"Authorization": f"Bearer {organization}"},
    )
    assert edited.status_code == 200, edited.text
    run_now = httpx.post(
        f"{b}/api/v1/harvest/sources/voisin/run",
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert run_now.status_code == 202
    second = _last_run(b, operator, 2)

    assert (second["updated"], second["created"]) == (1, 0), second
    assert second["unchanged"] == published["total_items"] - 1
    assert _copies(b)[service["id"]]["description"] == "Nouvelle description, écrite sur A."

    # Closed for a while on A, then deleted there.
    org_headers = {"Authorization": f"Bearer {organization}"}
    closed = httpx.post(
        f"{a}/api/v1/organization/services/{service['id']}/close", headers=org_headers
    )
    assert closed.status_code == 200, closed.text
    httpx.post(
        f"{b}/api/v1/harvest/sources/voisin/run", headers={"Authorization": f"Bearer {operator}"}
    )
    _last_run(b, operator, 3)
    status_on_a = httpx.get(f"{a}/hsds/services/{service['id']}").json()["status"]
    assert _copies(b)[service["id"]]["status"] == status_on_a != "active"

    deleted = httpx.delete(f"{a}/api/v1/organization/services/{service['id']}", headers=org_headers)
    assert deleted.status_code in (200, 204), deleted.text
    httpx.post(
        f"{b}/api/v1/harvest/sources/voisin/run", headers={"Authorization": f"Bearer {operator}"}
    )
    fourth = _last_run(b, operator, 4)

    assert fourth["deactivated"] == 1, fourth
    assert _copies(b)[service["id"]]["status"] == "inactive"
