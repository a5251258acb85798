"""Fuzzing: schemathesis reads the live OpenAPI schema of a running `tisser serve` and
sends generated requests to every operation, with a health centre's key and with an
organisation's, and to the operators' operations (taxonomy, crosswalks, audit, reports)
with an operator's. No answer may be a 5xx, and every answer must be one the schema
documents: its status code, content type, headers and body.

The number of examples per operation is bounded (TISSER_FUZZ_EXAMPLES, 20 by default)
and derandomised, so a CI run is repeatable; raise it locally to search further.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import figures
from tests.faults.conftest import Tisser, referral_json, wait_until

pytestmark = [pytest.mark.subprocess, pytest.mark.faults]

EXAMPLES = int(os.environ.get("TISSER_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# An organisation of the demo catalogue, so its own endpoints have services to act on.
ORGANIZATION = "Maison de quartier de la Guillotière"


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cases = 0
        self.server_errors: list[str] = []

    def add(self, label: str, status: int) -> None:
        with self.lock:
            self.cases += 1
            if status >= 500:
                self.server_errors.append(f"{label} → {status}")


def _ids_in(services: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The ids of an organisation's services, places, locations and sessions."""
    found: dict[str, list[str]] = {
        "service_id": [],
        "sal_id": [],
        "location_id": [],
        "schedule_id": [],
    }
    for service in services:
        found["service_id"].append(service["id"])
        for sal in service["service_at_locations"]:
            found["sal_id"].append(sal["id"])
            found["location_id"].append(sal["location_id"])
            found["schedule_id"] += [schedule["id"] for schedule in sal.get("schedules", [])]
    return found


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, template: Any) -> Iterator[dict[str, Any]]:
    """A running Tisser with the demo catalogue, a health centre with one referral, and
    a key of one of the catalogue's organisations."""
    import shutil

    from tests.faults.conftest import _base_env, _postgres, _postgres_url

    workdir = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(template[0], workdir / "data")
    conninfo = _postgres()
    database_url = ""
    if conninfo is not None:
        import uuid

        import psycopg

        name = f"tisser_fuzz_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template[1]}"')
        database_url = _postgres_url(conninfo, name)
    instance = Tisser(_base_env(workdir / "data", database_url), workdir)
    center_key = instance.run("create-center", "Centre fuzz").strip().splitlines()[-1]
    _, base = instance.serve(TISSER_RATE_LIMIT_PER_MINUTE="0")
    center = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {center_key}"})
    filed = center.post("/api/v1/referrals", json=referral_json())
    assert filed.status_code == 202, filed.text
    referral_url = f"/api/v1/referrals/{filed.json()['id']}"
    wait_until(
        lambda: center.get(referral_url).json()["stage"] == "slip_ready",
        timeout=60,
        what="the referral's slip",
    )
    referral = center.get(referral_url).json()
    # A key of the organisation the referral was offered to: its inbox is not empty.
    organization = referral["placements"][0]["organization"]
    org_key = instance.run("create-org", organization, "--new-key").strip().splitlines()[-1]
    org = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {org_key}"})
    operator_key = instance.run("create-operator", "Fuzz").strip().splitlines()[-1]
    operator = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {operator_key}"})
    crosswalk = operator.post(
        "/api/v1/catalog/crosswalks",
        json={"taxonomy": "https://fuzz.example", "code": "x", "tisser_codes": ["talk-group"]},
    )
    assert crosswalk.status_code == 201, crosswalk.text
    hook = {"url": "https://hooks.example.org/tisser", "event_types": ["referral.submitted"]}
    ids: dict[str, dict[str, list[str]]] = {
        "center": {
            "referral_id": [referral["id"]],
            "placement_id": [p["id"] for p in referral["placements"]],
            "subscription_id": [center.post("/api/v1/webhooks", json=hook).json()["id"]],
            "table": ["funnel", "unmet", "wellbeing"],
        },
        "organization": {
            "placement_id": [p["id"] for p in referral["placements"]],
            "subscription_id": [org.post("/api/v1/webhooks", json=hook).json()["id"]],
            "table": ["funnel", "activities"],
            **_ids_in(org.get("/api/v1/organization/services").json()["contents"]),
        },
        "operator": {
            "code": ["talk-group", "isolation", "needs", "walking-group"],
            "crosswalk_id": [crosswalk.json()["id"]],
            "table": ["funnel", "unmet_reasons"],
        },
    }
    tally = Tally()
    try:
        yield {
            "base": base,
            "center": center_key,
            "organization": org_key,
            "operator": operator_key,
            "ids": ids,
            "tally": tally,
        }
    finally:
        instance.stop_all()
        figures.record(fuzz_cases=tally.cases, fuzz_5xx=len(tally.server_errors))
        if conninfo is not None:
            import psycopg

            with psycopg.connect(**conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def operations(live: dict[str, Any]) -> list[Any]:
    """Every operation of the live schema (schemathesis's pytest plugin cannot load a
    schema from a fixture under pytest 9, so the examples are drawn here)."""
    schema = schemathesis.openapi.from_url(f"{live['base']}/api/v1/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema does not load: {result}"
        operations.append(result.ok())
    assert len(operations) > 40, "the schema lists every endpoint"
    return operations


def _fuzz(operations: list[Any], live: dict[str, Any], role: str) -> None:
    headers = {"Authorization": f"Bearer {live[role]}"}
    known: dict[str, list[str]] = live["ids"][role]
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real=st.booleans(), data=st.data())
        def fuzz(case: Any, real: bool, data: st.DataObject) -> None:
            # Half the cases act on objects that exist (the caller's own), so they get
            # past the lookup and into the endpoint's work, not only its 404.
            if real and case.path_parameters:
                for name in case.path_parameters:
                    if known.get(name):
                        case.path_parameters[name] = data.draw(st.sampled_from(known[name]))
            response = case.call(headers=headers)
            live["tally"].add(f"{case.method} {case.formatted_path}", response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as error:  # fuzz every operation, list failures
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert not failures, "\n\n".join(failures)


def test_fuzz_as_a_health_centre(operations: list[Any], live: dict[str, Any]) -> None:
    _fuzz(operations, live, "center")


def test_fuzz_as_an_organisation(operations: list[Any], live: dict[str, Any]) -> None:
    _fuzz(operations, live, "organization")


# Operators' operations only: the rest refuses their key (see test_access_matrix). Last in
# the module: its writes change the taxonomy the other roles' cases read.
_OPERATOR_PATHS = ("/api/v1/catalog/taxonomy", "/api/v1/catalog/crosswalks", "/api/v1/audit")


def test_fuzz_as_an_operator(operations: list[Any], live: dict[str, Any]) -> None:
    mine = [o for o in operations if o.path.startswith(_OPERATOR_PATHS)]
    assert len(mine) >= 8
    _fuzz(
        [*mine, *(o for o in operations if o.path.startswith("/api/v1/reports"))], live, "operator"
    )
