"""HSDS 3.0 import and export: official examples, round trip, all or nothing."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command

from community_catalog.hsds import hsds_read
from community_catalog.hsds_export import catalog_export
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Location, Organization, Schedule, Service
from events.models import Event
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

# The official HSDS 3.0 examples, copied unchanged (CC BY-SA 4.0; see LICENSE and SOURCE).
EXAMPLES = Path(__file__).resolve().parent / "hsds_examples"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "community_catalog" / "hsds_schema"


def validator(name: str) -> Any:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def ids(document: Any, key: str) -> set[str]:
    """Every id of the objects found under `key` anywhere in `document`."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == key:
                    items = v if isinstance(v, list) else [v]
                    found.update(i["id"] for i in items if isinstance(i, dict) and "id" in i)
                walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return found


def post_file(client: ApiClient, document: Any, query: str = "") -> Any:
    return client.post(f"/api/v1/catalog/import{query}", json.dumps(document))


@pytest.mark.parametrize(
    "example",
    [
        "service_full.json",
        "service_list.json",
        "organization_full.json",
        "service_at_location_full.json",
        "service_at_location_list.json",
    ],
)
def test_the_official_examples_import_and_export_back(example: str, org_api: ApiClient) -> None:
    original = json.loads((EXAMPLES / example).read_text())

    response = post_file(org_api, original)

    assert response.status_code == 200, response.json()
    assert response.json()["skipped"] == 0
    exported = org_api.get("/api/v1/catalog/export").json()
    for service in exported["contents"]:
        validator("service.json").validate(service)
    services = [s for s in hsds_read(original).records]
    assert {str(s.id) for _, s in services} == {s["id"] for s in exported["contents"]}
    assert ids(original, "service_at_locations") | ids(original, "location") >= ids(
        exported, "location"
    )
    assert ids(exported, "location") == {
        str(sal.target_location_id) for _, s in services for sal in s.service_at_locations
    }
    assert ids(exported, "schedules") == ids(
        [s.model_dump(mode="json") for _, s in services], "schedules"
    )


def test_export_then_import_into_an_empty_catalogue_gives_the_same_document(
    catalog: int,
) -> None:
    before = catalog_export(Service.objects.all())
    for service in before["contents"]:
        validator("service.json").validate(service)
    Service.objects.all().delete()
    Location.objects.all().delete()
    Organization.objects.all().delete()

    report = hsds_import(hsds_read(copy.deepcopy(before)), organization=None)

    assert report.created == catalog
    assert catalog_export(Service.objects.all()) == before


def test_importing_the_same_file_again_changes_nothing(org_api: ApiClient) -> None:
    document = json.loads((EXAMPLES / "service_full.json").read_text())
    post_file(org_api, document)
    events = Event.objects.count()

    again = post_file(org_api, document).json()

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
    assert Event.objects.count() == events


def test_a_bad_record_rejects_the_whole_file_with_every_problem(org_api: ApiClient) -> None:
    good = json.loads((EXAMPLES / "service_full.json").read_text())
    bad = copy.deepcopy(good)
    bad["id"] = "0b7a3cbe-7e61-4c55-9a54-8a3c1d2f0a01"
    bad["status"] = "open"
    bad["service_at_locations"][0]["schedules"][0]["closes_at"] = "09:00"
    bad["languages"][0]["code"] = "xx"

    response = post_file(org_api, [good, bad])

    assert response.status_code == 422
    error = response.json()["error"]
    fields = {f["field"] for f in error["fields"]}
    assert {"[1].status", "[1].languages[0].code", "[1].service_at_locations[0].schedules[0]"} <= (
        fields
    )
    assert error["records"] == [
        {"record": 1, "id": bad["id"], "name": bad["name"], "action": "skipped"}
    ]
    assert not Service.objects.exists()


def test_skip_invalid_imports_the_rest_and_reports_the_skipped(org_api: ApiClient) -> None:
    good = json.loads((EXAMPLES / "service_full.json").read_text())
    bad = {**good, "id": "0b7a3cbe-7e61-4c55-9a54-8a3c1d2f0a01", "email": "nope"}

    report = post_file(org_api, [good, bad], "?skip_invalid=true").json()

    assert (report["created"], report["skipped"]) == (1, 1)
    assert report["errors"] == [
        {"record": 1, "field": "[1].email", "message": "'nope' is not a 'email'"}
    ]
    assert list(Service.objects.values_list("id", flat=True).order_by()) == [uuid.UUID(good["id"])]


def test_a_dry_run_reports_and_writes_nothing(org_api: ApiClient) -> None:
    document = json.loads((EXAMPLES / "service_list.json").read_text())

    report = post_file(org_api, document, "?dry_run=true").json()

    assert report["dry_run"] is True
    assert report["created"] == 1
    assert not Service.objects.exists()
    assert not Event.objects.filter(aggregate_type="service").exists()


def test_an_import_cannot_touch_another_organisations_data(
    org_api: ApiClient, rival_api: ApiClient
) -> None:
    document = json.loads((EXAMPLES / "service_full.json").read_text())
    post_file(org_api, document)
    hijack = {**document, "name": "Pris par un autre"}

    response = post_file(rival_api, hijack)

    assert response.status_code == 422
    assert {"field": "[0].id", "message": "this id belongs to another organisation's service"} in [
        {"field": f["field"], "message": f["message"]} for f in response.json()["error"]["fields"]
    ]
    assert Service.objects.get(id=document["id"]).name == document["name"]


def test_files_that_are_not_json_or_too_large_are_refused(
    org_api: ApiClient, settings: Any
) -> None:
    not_json = org_api.post("/api/v1/catalog/import", "{not json")
    wrong_shape = post_file(org_api, {"hello": "world"})
    settings.TISSER_IMPORT_MAX_BYTES = 2000
    too_large = post_file(org_api, json.loads((EXAMPLES / "service_full.json").read_text()))

    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")
    assert wrong_shape.status_code == 422
    assert (too_large.status_code, too_large.json()["error"]["code"]) == (413, "too_large")
    assert not Service.objects.exists()


def test_the_cli_imports_for_an_organisation_with_a_report(org_api: ApiClient, capsys: Any) -> None:
    organization = org_api.organization  # type: ignore[attr-defined]

    call_command("import_hsds", str(EXAMPLES / "service_full.json"), org=organization.name)

    assert "1 created, 0 updated, 0 unchanged, 0 skipped" in capsys.readouterr().out
    service = Service.objects.get()
    assert service.organization == organization
    assert Schedule.objects.filter(service=service).count() == 1


def test_a_large_file_with_shared_places_is_written_in_batches(
    org_api: ApiClient, settings: Any
) -> None:
    # Past the API's default limits, which an operator may raise (test_import_limits.py).
    settings.TISSER_IMPORT_MAX_RECORDS = 1200
    settings.TISSER_IMPORT_CHECK_SECONDS = 600
    template = json.loads((EXAMPLES / "service_full.json").read_text())
    places = [
        {**template["service_at_locations"][0]["location"], "id": str(uuid.uuid4())}
        for _ in range(3)
    ]
    services = []
    for i in range(1200):
        service = copy.deepcopy(template)
        service.update(id=str(uuid.uuid4()), name=f"Activité {i}")
        service.pop("organization")
        [sal] = service["service_at_locations"]
        sal.update(id=str(uuid.uuid4()), location=places[i % 3])
        services.append(service)

    report = post_file(org_api, {"contents": services}).json()

    assert report["created"] == 1200
    assert Service.objects.count() == 1200
    assert Location.objects.count() == 3
    assert Schedule.objects.filter(service_at_location__isnull=False).count() == 1200
    assert Event.objects.filter(type="service.updated").count() == 1200


def test_reimporting_a_place_people_were_referred_to_updates_it_in_place(
    org_api: ApiClient, api: ApiClient
) -> None:
    from referrals.models import Match, Referral
    from tests.conftest import referral_body

    document = json.loads((EXAMPLES / "service_full.json").read_text())
    post_file(org_api, document)
    sal_id = document["service_at_locations"][0]["id"]
    referral_id = api.post("/api/v1/referrals", referral_body()).json()["id"]
    Match.objects.create(
        referral=Referral.objects.get(id=referral_id),
        service_at_location_id=sal_id,
        rank=1,
        score=0.5,
        distance_km=1,
    )
    document["service_at_locations"][0]["description"] = "Nouvelle salle"
    removed = {**document, "service_at_locations": []}

    updated = post_file(org_api, document)
    refused = post_file(org_api, removed)

    assert updated.status_code == 200, updated.json()
    assert updated.json()["services"][0]["changes"] == ["service_at_locations"]
    assert Match.objects.filter(service_at_location_id=sal_id).exists()
    assert refused.status_code == 422
    assert "people were referred to it" in refused.json()["error"]["fields"][0]["message"]
