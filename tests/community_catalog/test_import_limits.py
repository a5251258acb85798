"""A hostile HSDS file costs little: refused quickly with a short answer, problems listed
up to a limit and the rest counted, the previewed file kept on disk (never in the
session) and checked on apply, nothing written when refused."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiKey
from community_catalog.models import Location, Organization, Service
from events.models import Event
from tests.community_catalog.test_api_organization import LOCATION, created_service
from tests.conftest import ApiClient
from tests.web.test_accounts import create_user, signed_in

pytestmark = pytest.mark.django_db

FIVE_MB = 5_000_000
# Set by the issue: a 5 MB hostile body is refused within this, with a body this small.
SECONDS = 5.0
BODY_BYTES = 64 * 1024
LISTED = 100
ENGLISH: dict[str, Any] = {"HTTP_ACCEPT_LANGUAGE": "en"}
EXAMPLE = Path(__file__).resolve().parent / "hsds_examples" / "service_full.json"


@cache
def empty_lists() -> bytes:
    """`[[],[],…]`: a million and a half records that are not even objects."""
    return b"[" + b",".join([b"[]"] * (FIVE_MB // 3)) + b"]"


@cache
def empty_services() -> bytes:
    """An organization whose `services` are a million and a half empty objects."""
    return b'{"services":[' + b",".join([b"{}"] * (FIVE_MB // 3)) + b"]}"


# Services in `wrong_values`.
RECORDS = 500


@cache
def wrong_values() -> bytes:
    """Services each with a thousand phones that are numbers: within every limit of
    size, and half a million problems."""
    phones = ",".join(["1"] * 1000)
    return (
        "["
        + ",".join(
            f'{{"id":"{uuid.uuid4()}","name":"Atelier","status":"active","phones":[{phones}]}}'
            for _ in range(RECORDS)
        )
        + "]"
    ).encode()


HOSTILE = {"empty_lists": empty_lists, "empty_services": empty_services}


def catalogue_rows() -> tuple[int, ...]:
    return (
        Service.objects.count(),
        Location.objects.count(),
        Organization.objects.count(),
        Event.objects.count(),
    )


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    """A data directory of the test's own, where received files wait."""
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def org_web(org_api: ApiClient) -> Client:
    """The organisation of `org_api`, signed in on its pages."""
    client = signed_in("o.bonnefoi", create_user("o.bonnefoi", "--org", "Centre social Bonnefoi"))
    assert client.get("/app/import/").status_code == 200  # the views loaded, before timing
    return client


@pytest.fixture
def warm_api(org_api: ApiClient) -> ApiClient:
    """`org_api`, the API loaded before timing."""
    assert org_api.get("/api/v1/catalog/export").status_code == 200
    return org_api


def upload(content: bytes, name: str = "annuaire.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")


def kept_files() -> list[Path]:
    folder = Path(settings.DATA_DIR) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_hostile_5_mb_file_is_refused_quickly_by_the_api(warm_api: ApiClient, shape: str) -> None:
    body = HOSTILE[shape]()
    assert len(body) >= FIVE_MB - 10
    before = catalogue_rows()

    response, seconds = timed(lambda: warm_api.post("/api/v1/catalog/import", body))

    assert response.status_code in (413, 422)
    assert seconds < SECONDS
    assert len(response.content) < BODY_BYTES
    error = response.json()["error"]
    assert error["code"] == "too_many_records"
    assert "TISSER_IMPORT_MAX_RECORDS" in error["message"]
    assert catalogue_rows() == before


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_hostile_5_mb_file_is_refused_quickly_by_the_web_import(
    org_web: Client, shape: str
) -> None:
    file = upload(HOSTILE[shape]())
    before = catalogue_rows()

    response, seconds = timed(lambda: org_web.post("/app/import/", {"file": file}, **ENGLISH))

    assert response.status_code in (413, 422)
    assert seconds < SECONDS
    assert len(response.content) < BODY_BYTES
    limit = settings.TISSER_IMPORT_MAX_RECORDS
    assert f"more than {limit} activities" in response.content.decode()
    assert catalogue_rows() == before
    assert kept_files() == []


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def exported_clones(org_api: ApiClient, *, size: int = 0, records: int = 0) -> bytes:
    """A list of copies of a real service, made through the organisation's API and
    exported: each copy with fresh ids (but the organisation's and the taxonomy's, so
    that each is a valid service of the caller), until `size` bytes or `records` copies."""
    created_service(org_api)
    [service] = org_api.get("/api/v1/catalog/export").json()["contents"]
    text = json.dumps(service, separators=(",", ":"))
    kept = {service["organization_id"], *(a["taxonomy_term_id"] for a in service["attributes"])}
    copies = records or size // (len(text) + 1)

    def copy() -> str:
        fresh: dict[str, str] = {}
        return UUID.sub(
            lambda m: m[0] if m[0] in kept else fresh.setdefault(m[0], str(uuid.uuid4())), text
        )

    return ("[" + ",".join(copy() for _ in range(copies)) + "]").encode()


def test_a_5_mb_file_of_real_services_is_refused_quickly_by_the_api(org_api: ApiClient) -> None:
    body = exported_clones(org_api, size=FIVE_MB)
    assert len(body) >= FIVE_MB * 0.99
    assert json.loads(body)[0]["service_at_locations"][0]["schedules"]  # a rich service
    before = catalogue_rows()

    response, seconds = timed(lambda: org_api.post("/api/v1/catalog/import", body))

    assert response.status_code == 413, response.content[:500]
    assert seconds < SECONDS
    assert len(response.content) < BODY_BYTES
    error = response.json()["error"]
    assert error["code"] == "too_many_records"
    assert "TISSER_IMPORT_MAX_RECORDS" in error["message"]
    assert catalogue_rows() == before


def test_a_5_mb_file_of_real_services_is_refused_quickly_by_the_web_import(
    org_web: Client, org_api: ApiClient
) -> None:
    file = upload(exported_clones(org_api, size=FIVE_MB))

    response, seconds = timed(lambda: org_web.post("/app/import/", {"file": file}, **ENGLISH))

    assert response.status_code == 413
    assert seconds < SECONDS
    assert len(response.content) < BODY_BYTES
    limit = settings.TISSER_IMPORT_MAX_RECORDS
    assert f"more than {limit} activities" in response.content.decode()
    assert kept_files() == []


def test_a_file_too_long_to_check_is_refused_when_its_time_is_up(
    org_api: ApiClient, org_web: Client, settings: Any
) -> None:
    """Within every limit of size, but checking it would take longer than a request may:
    checking stops at TISSER_IMPORT_CHECK_SECONDS."""
    body = exported_clones(org_api, records=settings.TISSER_IMPORT_MAX_RECORDS)
    settings.TISSER_IMPORT_CHECK_SECONDS = 0.02  # a tenth of what 500 records take
    before = catalogue_rows()

    response, seconds = timed(lambda: org_api.post("/api/v1/catalog/import", body))
    page = org_web.post("/app/import/", {"file": upload(body)}, **ENGLISH)

    assert response.status_code == 413, response.content[:500]
    assert seconds < 0.02 + 1.0
    error = response.json()["error"]
    assert error["code"] == "too_long_to_check"
    assert "TISSER_IMPORT_CHECK_SECONDS" in error["message"]
    assert error["records_checked"] < settings.TISSER_IMPORT_MAX_RECORDS
    assert page.status_code == 413
    assert "too large to check in one go" in page.content.decode()
    assert kept_files() == []
    assert catalogue_rows() == before


def org_key_id(org_api: ApiClient) -> int:
    return int(ApiKey.objects.get(organization=org_api.organization).id)  # type: ignore[attr-defined]


def test_a_key_imports_one_file_at_a_time(org_api: ApiClient, rival_api: ApiClient) -> None:
    from community_catalog.hsds_files import import_slot

    body = json.dumps(json.loads(EXAMPLE.read_text()))
    with import_slot(f"key:{org_key_id(org_api)}"):  # this key's import still running
        busy = org_api.post("/api/v1/catalog/import", body)
        assert busy.status_code == 429
        assert busy.json()["error"]["code"] == "busy"
        assert int(busy["Retry-After"]) > 0
        assert rival_api.post("/api/v1/catalog/import?dry_run=true", body).status_code == 200
    assert org_api.post("/api/v1/catalog/import", body).status_code == 200


def test_a_person_imports_one_file_at_a_time(org_web: Client) -> None:
    from community_catalog.hsds_files import import_slot

    user = User.objects.get(username="o.bonnefoi")
    file = EXAMPLE.read_bytes()
    with import_slot(f"user:{user.pk}"):  # this person's import still running
        busy = org_web.post("/app/import/", {"file": upload(file)}, **ENGLISH)
        assert busy.status_code == 429
        assert int(busy["Retry-After"]) > 0
        assert "still running" in busy.content.decode()
        applying = org_web.post("/app/import/apply/", {"digest": "0" * 64}, **ENGLISH)
        assert applying.status_code == 429
    assert org_web.post("/app/import/", {"file": upload(file)}).status_code == 200


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"locations": [{"id": str(i)} for i in range(6_000)]}, id="locations"),
        pytest.param({"contents": {f"k{i}": i for i in range(10_001)}}, id="contents"),
        pytest.param({"services": {f"k{i}": i for i in range(10_001)}}, id="services"),
    ],
)
def test_a_single_service_s_lists_count_against_it(
    org_api: ApiClient, document: dict[str, Any]
) -> None:
    """A single service (not a list, a page or an organization) is one record, whatever
    its `locations`, `contents` or `services` hold."""
    body = json.dumps({"id": str(uuid.uuid4()), "name": "Atelier", "status": "active", **document})

    response = org_api.post("/api/v1/catalog/import", body)

    assert response.status_code == 413, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == "record_too_large"
    assert [f["field"] for f in error["fields"]] == ["[0]"]
    assert not Service.objects.exists()


def test_an_organization_s_own_locations_are_not_counted_in_each_service(
    org_api: ApiClient,
) -> None:
    """They are not copied into its services (`hsds_services_in`)."""
    document = json.loads((EXAMPLE.parent / "organization_full.json").read_text())
    document["id"] = str(org_api.organization.id)  # type: ignore[attr-defined]
    document["locations"] = [{"id": str(i)} for i in range(6_000)]

    response = org_api.post("/api/v1/catalog/import?dry_run=true", json.dumps(document))

    assert response.status_code == 200, response.content[:500]


def test_the_upload_limit_is_for_the_whole_request(org_web: Client, settings: Any) -> None:
    """Each file within TISSER_IMPORT_MAX_BYTES, all of them past it: refused before
    the rest reaches the disk."""
    settings.TISSER_IMPORT_MAX_BYTES = 10_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1_000  # on disk, as a large upload would be
    part = json.dumps([{"name": "x" * 6_000}]).encode()

    response = org_web.post(
        "/app/import/",
        {"file": upload(part), "more": [upload(part, f"{i}.json") for i in range(3)]},
        **ENGLISH,
    )

    assert response.status_code == 413
    assert "The file is larger than" in response.content.decode()
    assert kept_files() == []


def test_only_the_first_problems_are_listed_and_the_rest_counted(warm_api: ApiClient) -> None:
    body = wrong_values()
    before = catalogue_rows()

    response, seconds = timed(lambda: warm_api.post("/api/v1/catalog/import", body))

    assert response.status_code == 422
    assert seconds < SECONDS
    assert len(response.content) < BODY_BYTES
    error = response.json()["error"]
    assert error["code"] == "invalid_records"
    assert len(error["fields"]) == LISTED
    listed_records = {f["field"].split("]")[0] + "]" for f in error["fields"]}
    more = RECORDS - len(listed_records)
    assert error["more_invalid_records"] == more
    assert f"{more} more" in error["message"]
    assert len(error["records"]) == len(listed_records)
    assert catalogue_rows() == before


def test_the_web_preview_lists_the_first_problems_and_counts_the_rest(org_web: Client) -> None:
    file = upload(wrong_values())

    response, seconds = timed(lambda: org_web.post("/app/import/", {"file": file}, **ENGLISH))

    html = response.content.decode()
    assert response.status_code == 200
    assert seconds < SECONDS
    assert len(response.content) < BODY_BYTES
    assert html.count("is not of type") == LISTED
    # The records none of whose problems are listed.
    assert f"{RECORDS - 1} more activities have problems" in html


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "x" * 100_001}, "[0].description"),
        ({"attributes": {f"k{i}": i for i in range(10_001)}}, "[0]"),
    ],
)
def test_huge_texts_and_objects_are_refused_before_any_check(
    org_api: ApiClient, change: dict[str, Any], field: str
) -> None:
    document = renamed(created_service(org_api))

    response = org_api.post("/api/v1/catalog/import", json.dumps([{**document, **change}]))

    assert response.status_code == 413, response.json()
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


def test_a_file_past_the_byte_limit_is_refused_with_413(
    org_web: Client, org_api: ApiClient, settings: Any
) -> None:
    settings.TISSER_IMPORT_MAX_BYTES = 10_000
    body = json.dumps([{"name": "x" * 20_000}]).encode()

    page = org_web.post("/app/import/", {"file": upload(body)})
    api = org_api.post("/api/v1/catalog/import", body)

    assert (page.status_code, api.status_code) == (413, 413)
    assert "TISSER_IMPORT_MAX_BYTES" in api.json()["error"]["message"]
    assert kept_files() == []


def renamed(service: dict[str, Any]) -> dict[str, Any]:
    """An HSDS file's version of `service`: another name, a long description."""
    sal = service["service_at_locations"][0]
    return {
        "id": service["id"],
        "name": "Nouveau nom depuis le fichier",
        "status": "active",
        "description": "contenu-du-fichier " * 5_000,
        "service_at_locations": [{"id": sal["id"], "location_id": sal["location_id"]}],
    }


def previewed(org_web: Client, org_api: ApiClient) -> tuple[dict[str, Any], str]:
    """Preview a file renaming one of the organisation's services: (service, digest)."""
    service = created_service(org_api)
    response = org_web.post(
        "/app/import/", {"file": upload(json.dumps([renamed(service)]).encode())}
    )
    html = response.content.decode()
    assert response.status_code == 200, html[:2000]
    return service, html.split('name="digest" value="')[1].split('"')[0]


def test_the_session_keeps_the_file_s_hash_and_not_its_content(
    org_web: Client, org_api: ApiClient
) -> None:
    service, digest = previewed(org_web, org_api)

    [row] = Session.objects.all()
    assert "contenu-du-fichier" not in json.dumps(row.get_decoded())
    assert len(row.session_data) < 2_000
    assert digest in json.dumps(row.get_decoded())
    [kept] = kept_files()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700

    org_web.post("/app/import/apply/", {"digest": digest})

    assert Service.objects.get(id=service["id"]).name == "Nouveau nom depuis le fichier"
    assert kept_files() == []


def test_a_kept_file_changed_after_the_preview_is_not_applied(
    org_web: Client, org_api: ApiClient
) -> None:
    service, digest = previewed(org_web, org_api)
    [kept] = kept_files()
    swapped = json.loads(kept.read_bytes())
    swapped[0]["name"] = "Autre chose"
    kept.write_text(json.dumps(swapped))

    response = org_web.post("/app/import/apply/", {"digest": digest})

    assert response.status_code == 302
    assert Service.objects.get(id=service["id"]).name == service["name"]
    assert kept_files() == []


def test_an_abandoned_preview_expires(org_web: Client, org_api: ApiClient) -> None:
    service, digest = previewed(org_web, org_api)
    [kept] = kept_files()
    long_ago = time.time() - 2 * 24 * 3600
    os.utime(kept, (long_ago, long_ago))

    org_web.post("/app/import/", {"file": upload(b"{not json")})

    assert kept_files() == []
    org_web.post("/app/import/apply/", {"digest": digest})
    assert Service.objects.get(id=service["id"]).name == service["name"]


def test_the_command_lists_the_first_problems_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "annuaire.json"
    path.write_text(json.dumps([{"name": "Atelier", "location": LOCATION}] * 1000))
    err = io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("import_hsds", str(path), stderr=err, stdout=io.StringIO())

    lines = err.getvalue().splitlines()
    assert len(lines) <= LISTED + 1
    listed_records = {line.split("]")[0] + "]" for line in lines if line.startswith("[")}
    assert f"{1000 - len(listed_records)} more" in err.getvalue() + str(refused.value)
