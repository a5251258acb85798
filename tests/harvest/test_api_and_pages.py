"""Sources as operators keep them (the API with an operator key, the staff pages), and
provenance as the public sees it (the activity's page, the HSDS API's `metadata`).

Expected, written before running: an operator adds a source over the API (201) and reads
it back; a path on the server, an unknown kind or a taken name is a 422 naming the
field; another role's key is a 401; an unknown name a 404. "Run now" answers 202 and
makes the source due; its runs are listed after a run. Removing a source keeps its
services. A staff account sees each source's last run, the records left out and the
fields to review, and clears a review; anyone else is sent away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.keys import api_key_create
from community_catalog.models import Service, ServiceProvenance
from community_catalog.services import service_update
from harvest.models import HarvestedRecord, HarvestSource
from harvest.runs import harvest_run
from harvest.sources import source_add
from tests.community_catalog.test_hsds_api import validate
from tests.conftest import ApiClient
from tests.harvest.test_data_inclusion import D1, FIXTURE

pytestmark = pytest.mark.django_db

SOURCES = "/api/v1/harvest/sources"


@pytest.fixture
def operator(db: None) -> ApiClient:
    return ApiClient(api_key_create(name="territory operator"))


def _fields(response: Any) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


def test_an_operator_adds_reads_runs_and_removes_a_source(operator: ApiClient) -> None:
    created = operator.post(
        SOURCES,
        {
            "name": "metropole",
            "label": "Annuaire de la Métropole",
            "url": "https://annuaire.example.org/hsds",
            "kind": "hsds-api",
        },
    )

    assert created.status_code == 201, created.json()
    assert created.json()["every_hours"] == 24
    assert created.json()["last_run"] is None
    listed = operator.get(SOURCES).json()
    assert [s["name"] for s in listed["items"]] == ["metropole"]
    assert operator.get(f"{SOURCES}/metropole").json()["kind"] == "hsds-api"

    HarvestSource.objects.filter(name="metropole").update(next_run_at=None)
    queued = operator.post(f"{SOURCES}/metropole/run", {})
    assert queued.status_code == 202
    source = HarvestSource.objects.get(name="metropole")
    assert source.next_run_at is not None
    assert source.next_run_at <= timezone.now()

    HarvestSource.objects.filter(name="metropole").update(running_since=timezone.now())
    busy = operator.post(f"{SOURCES}/metropole/run", {})
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "harvest_running"

    # Neither removed nor run again while it runs.
    assert operator.delete(f"{SOURCES}/metropole").status_code == 409
    HarvestSource.objects.filter(name="metropole").update(running_since=None, enabled=False)
    disabled = operator.post(f"{SOURCES}/metropole/run", {})
    assert disabled.status_code == 409
    assert disabled.json()["error"]["code"] == "harvest_disabled"

    assert operator.delete(f"{SOURCES}/metropole").status_code == 204
    assert operator.get(f"{SOURCES}/metropole").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "lyon", "url": "/srv/exports/lyon.json", "kind": "hsds-file"}, "url"),
        ({"name": "lyon", "url": "ftp://example.org/x.json", "kind": "hsds-file"}, "url"),
        ({"name": "lyon", "url": "https://example.org/x.json", "kind": "csv"}, "kind"),
        ({"name": "Lyon Métropole", "url": "https://example.org/x", "kind": "hsds-api"}, "name"),
        (
            {"name": "lyon", "url": "https://example.org/x", "kind": "hsds-api", "every_hours": -1},
            "every_hours",
        ),
        (
            {"name": "lyon", "url": "https://x.org", "kind": "hsds-api", "token_env": "a b"},
            "token_env",
        ),
        ({"name": "lyon", "kind": "hsds-api"}, "url"),
        # Another of the server's secrets, sent to whichever URL the source names: never.
        (
            {"name": "lyon", "url": "https://x.org", "kind": "hsds-api", "token_env": "SECRET_KEY"},
            "token_env",
        ),
        (
            {"name": "lyon", "url": "https://x.org", "kind": "hsds-api", "every_hours": True},
            "every_hours",
        ),
        ({"name": "lyon", "url": "https://x.org", "kind": "hsds-api", "label": "x" * 201}, "label"),
        ({"name": "lyon", "url": "http://[::1", "kind": "hsds-api"}, "url"),
        ({"name": "lyon", "url": "https://exa mple.org/x", "kind": "hsds-api"}, "url"),
        ({"name": "lyon", "url": "https://example.org:99999/x", "kind": "hsds-api"}, "url"),
    ],
)
def test_a_bad_source_is_refused_naming_the_field(
    operator: ApiClient, body: dict[str, Any], field: str
) -> None:
    response = operator.post(SOURCES, body)

    assert response.status_code == 422, response.json()
    assert field in _fields(response), response.json()
    assert not HarvestSource.objects.exists()


def test_a_name_no_source_could_have_is_a_404(operator: ApiClient) -> None:
    for name in ("a%00b", "x" * 5000, "Métropole"):
        for path in (f"{SOURCES}/{name}", f"{SOURCES}/{name}/runs"):
            response = operator.get(path)
            assert response.status_code == 404, (path[:80], response.status_code)
            assert len(response.content) < 500
        assert operator.delete(f"{SOURCES}/{name}").status_code == 404


def test_a_taken_name_is_refused(operator: ApiClient) -> None:
    body = {"name": "lyon", "url": "https://example.org/x", "kind": "hsds-api"}
    assert operator.post(SOURCES, body).status_code == 201

    again = operator.post(SOURCES, body)

    assert again.status_code == 422
    assert "exists" in _fields(again)["name"]


def test_only_operators_reach_the_sources(api: ApiClient) -> None:
    assert api.get(SOURCES).status_code == 401
    body = {"name": "lyon", "url": "https://example.org/x", "kind": "hsds-api"}
    assert api.post(SOURCES, body).status_code == 401
    assert ApiClient(None).get(SOURCES).status_code == 401


# --- After a run ----------------------------------------------------------------------------


@pytest.fixture
def harvested(db: None) -> HarvestSource:
    source = source_add(
        name="lyon",
        label="data·inclusion, Lyon",
        url=str(FIXTURE),
        kind="data-inclusion",
        every_hours=0,
        paths_allowed=True,
    )
    harvest_run(source)
    return source


def test_the_runs_are_listed_with_their_report(
    operator: ApiClient, harvested: HarvestSource
) -> None:
    runs = operator.get(f"{SOURCES}/lyon/runs").json()

    [run] = runs["items"]
    assert (run["created"], run["invalid"], run["status"]) == (9, 4, "succeeded")
    assert {p["record"] for p in run["problems"]} >= {"dora--yoga-du-rire"}
    summary = operator.get(f"{SOURCES}/lyon").json()
    assert summary["last_run"]["id"] == run["id"]


def test_removing_a_source_keeps_its_services(
    operator: ApiClient, harvested: HarvestSource
) -> None:
    assert operator.delete(f"{SOURCES}/lyon").status_code == 204

    assert Service.objects.filter(name=D1, status="active").count() == 1
    assert ServiceProvenance.objects.filter(source_name="lyon").count() == 9


def test_the_public_sees_where_an_activity_comes_from(harvested: HarvestSource) -> None:
    service = Service.objects.get(name=D1)
    place = service.service_at_locations.get()

    page = Client().get(f"/a/{place.id}", HTTP_ACCEPT_LANGUAGE="en")

    text = page.content.decode()
    assert "This information comes from the directory “data·inclusion, Lyon”" in text
    assert 'href="https://dora.inclusion.beta.gouv.fr/services/cafe-rencontre-bonnefoi"' in text

    published = Client().get(f"/hsds/services/{service.id}").json()
    validate(published, "service.json")
    [metadata] = published["metadata"]
    assert metadata["updated_by"] == "lyon"
    assert metadata["replacement_value"] == "dora--cafe-rencontre-bonnefoi"
    assert metadata["last_action_type"] == "harvested"


# --- The staff pages --------------------------------------------------------------------------


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(User.objects.create_user("coordination", is_staff=True))
    return client


def test_staff_see_a_source_s_report_and_clear_a_review(
    staff: Client, harvested: HarvestSource, tmp_path: Path
) -> None:
    record = HarvestedRecord.objects.get(record_id="dora--cafe-rencontre-bonnefoi")
    service = Service.objects.get(id=record.service_id)
    service_update(
        organization=service.organization,
        service_id=service.id,
        changes={"description": "Changé dans Tisser."},
    )
    HarvestedRecord.objects.filter(id=record.id).update(review_fields=["description"])

    listing = staff.get("/app/harvest/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    page = staff.get("/app/harvest/lyon/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "lyon" in listing
    assert "9 new" in listing, listing
    assert "dora--yoga-du-rire" in page  # left out, with its field
    assert "structure.siret" in page
    assert D1 in page  # to review
    assert "description" in page

    cleared = staff.post(f"/app/harvest/lyon/reviewed/{record.id}/")
    assert cleared.status_code == 302
    record.refresh_from_db()
    assert record.review_fields == []
    service.refresh_from_db()
    assert service.description == "Changé dans Tisser."  # the value stays Tisser's

    staff.post("/app/harvest/lyon/run/")
    source = HarvestSource.objects.get(name="lyon")
    assert source.next_run_at is not None


def test_the_pages_are_for_staff_only(client: Client, harvested: HarvestSource) -> None:
    client.force_login(User.objects.create_user("benevole"))

    for path in ("/app/harvest/", "/app/harvest/lyon/"):
        assert client.get(path).status_code in (302, 403, 404), path
    assert client.post("/app/harvest/lyon/run/").status_code in (302, 403, 404)
    assert HarvestSource.objects.get(name="lyon").next_run_at is None


def test_a_source_added_in_the_admin_runs_on_its_schedule(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/harvest/harvestsource/add/",
        {
            "name": "metropole",
            "label": "",
            "url": "https://annuaire.example.org/hsds",
            "kind": "hsds-api",
            "every_hours": "24",
            "enabled": "on",
            "token_env": "",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    source = HarvestSource.objects.get(name="metropole")
    assert source.next_run_at is not None
    assert source.next_run_at <= timezone.now()

    refused = admin_client.post(
        "/admin/harvest/harvestsource/add/",
        {
            "name": "intranet",
            "url": "/etc/passwd",
            "kind": "hsds-file",
            "every_hours": "24",
            "token_env": "DATABASE_URL",
        },
    )
    assert refused.status_code == 200  # the form again, with its errors
    assert not HarvestSource.objects.filter(name="intranet").exists()
