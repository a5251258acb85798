"""The public HSDS 3.0 API under /hsds/: every answer validated against Open Referral's
schemas (the compiled ones where the repository keeps them, the modular ones with their
references otherwise), paging and query parameters as the specification's openapi.json
describes them, confidential places never published, caching headers, refusals.

Expected before running (demo catalogue: 36 services of several organisations, Tisser's
taxonomy):
- /hsds/services pages through every service: total_items = the number of services,
  per_page=5 gives ceil(n/5) pages, the last page says so, page n+1 is empty of contents
  but still says total_items;
- a place marked confidential disappears from every answer: no id, no address, no
  position; its service is still published with its other places;
- the official HSDS examples, imported, come back out of /hsds/services/{id} valid;
- bad parameters get 422 naming the parameter; unknown paths a JSON 404; POST 405;
- past TISSER_HSDS_RATE_LIMIT_PER_MINUTE from one address: 429 with Retry-After.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.test import Client
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from community_catalog.models import Location, Organization, Service, TaxonomyTerm
from tests.conftest import ApiClient, referral_body

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[2] / "community_catalog" / "hsds_schema"
EXAMPLES = Path(__file__).resolve().parent / "hsds_examples"


def _registry() -> Registry:
    resources = []
    for path in (SCHEMAS / "modular").glob("*.json"):
        schema = json.loads(path.read_text())
        resources.append((path.name, Resource.from_contents(schema, DRAFT202012)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validate(document: Any, schema_name: str) -> None:
    """Against a compiled schema (`service.json`, `service_list.json`, …) or, with a
    `modular/` prefix, a modular one whose references the registry resolves."""
    schema = json.loads((SCHEMAS / schema_name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls(schema, registry=REGISTRY, format_checker=cls.FORMAT_CHECKER).validate(document)


def page_schema() -> dict[str, Any]:
    openapi = json.loads((SCHEMAS / "openapi.json").read_text())
    page = dict(openapi["components"]["schemas"]["Page"])
    page["required"] = list(page["properties"])  # Tisser answers every page field
    page["properties"] = {**page["properties"], "contents": {"type": "array"}}
    page["required"].append("contents")
    return page


def validate_page(page: dict[str, Any], item_schema: str) -> None:
    jsonschema.Draft202012Validator(page_schema()).validate(page)
    assert page["size"] == len(page["contents"])
    for item in page["contents"]:
        validate(item, item_schema)


def get(client: Client, path: str, **headers: str) -> Any:
    response = client.get(path, headers=headers)
    assert response["Content-Type"].startswith("application/json"), response
    return response


def positions(node: Any) -> set[tuple[Any, Any]]:
    """Every (latitude, longitude) anywhere in `node`."""
    found: set[tuple[Any, Any]] = set()
    if isinstance(node, dict):
        if "latitude" in node:
            found.add((node["latitude"], node.get("longitude")))
        for value in node.values():
            found |= positions(value)
    elif isinstance(node, list):
        for item in node:
            found |= positions(item)
    return found


@pytest.fixture
def web() -> Client:
    """No key, no session: anyone."""
    return Client()


def test_the_root_names_the_version_and_the_openapi_document(web: Client) -> None:
    root = get(web, "/hsds/")
    assert root.status_code == 200
    assert get(web, "/hsds").json() == root.json()
    assert root.json()["version"] == "3.0"
    assert root.json()["openapi_url"] == "http://testserver/hsds/openapi.json"
    document = get(web, "/hsds/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "http://testserver/hsds"}]
    assert set(document["paths"]) >= {"/services", "/services/{id}", "/taxonomy_terms"}


def test_services_page_through_the_whole_catalogue(web: Client, catalog: int) -> None:
    count = Service.objects.count()
    first = get(web, "/hsds/services").json()
    validate_page(first, "service_list.json")
    assert first["total_items"] == count == len(first["contents"])  # 36 < 50 a page
    assert (first["first_page"], first["last_page"], first["empty"]) == (True, True, False)

    pages = math.ceil(count / 5)
    seen: list[str] = []
    for number in range(1, pages + 1):
        page = get(web, f"/hsds/services?per_page=5&page={number}").json()
        validate_page(page, "service_list.json")
        assert page["total_pages"] == pages
        assert page["page_number"] == number
        assert page["last_page"] is (number == pages)
        seen += [s["id"] for s in page["contents"]]
    assert len(seen) == len(set(seen)) == count
    beyond = get(web, f"/hsds/services?per_page=5&page={pages + 1}").json()
    assert beyond["contents"] == []
    assert beyond["total_items"] == count


def test_each_service_in_full_validates(web: Client, catalog: int) -> None:
    for service in Service.objects.all():
        answer = get(web, f"/hsds/services/{service.id}")
        assert answer.status_code == 200
        validate(answer.json(), "service.json")
        assert answer.json()["organization"]["id"] == str(service.organization_id)
    full = get(web, "/hsds/services?full=true&per_page=3").json()
    validate_page(full, "service.json")
    assert "service_at_locations" in full["contents"][0]


def test_query_parameters_narrow_the_services(web: Client, catalog: int) -> None:
    organization = Organization.objects.filter(services__isnull=False).first()
    assert organization is not None
    own = get(web, f"/hsds/services?organization_id={organization.id}").json()
    assert own["total_items"] == organization.services.count() > 0
    assert {s["organization_id"] for s in own["contents"]} == {str(organization.id)}

    term = TaxonomyTerm.objects.filter(services__isnull=False).first()
    assert term is not None
    tagged = get(web, f"/hsds/services?taxonomy_term_id={term.id}").json()
    assert tagged["total_items"] == Service.objects.filter(taxonomy_terms=term).count() > 0

    taxonomies = get(web, "/hsds/taxonomies").json()["contents"]
    [tisser] = [t for t in taxonomies if t["name"] == "tisser"]
    in_tisser = get(web, f"/hsds/services?taxonomy_id={tisser['id']}").json()
    expected = Service.objects.filter(taxonomy_terms__isnull=False).distinct().count()
    assert in_tisser["total_items"] == expected

    name = Service.objects.order_by("name").first().name  # type: ignore[union-attr]
    found = get(web, f"/hsds/services?search={name[:12]}").json()
    assert name in [s["name"] for s in found["contents"]]

    assert get(web, "/hsds/services?modified_after=2999-01-01").json()["empty"] is True
    assert (
        get(web, "/hsds/services?modified_after=2000-01-01T00:00:00Z").json()["total_items"]
        == Service.objects.count()
    )

    minimal = get(web, "/hsds/services?minimal=true").json()
    validate_page(minimal, "service_list.json")
    assert {tuple(sorted(s)) for s in minimal["contents"]} == {
        ("id", "last_modified", "name", "status")
    }


def test_a_confidential_place_is_never_published(web: Client, catalog: int) -> None:
    service = (
        Service.objects.filter(service_at_locations__location__addresses__isnull=False)
        .distinct()
        .first()
    )
    assert service is not None
    sal = service.service_at_locations.select_related("location").first()
    assert sal is not None
    location = sal.location
    street = location.addresses.first().address_1  # type: ignore[union-attr]
    before = get(web, f"/hsds/services/{service.id}").json()
    assert (location.latitude, location.longitude) in positions(before)
    assert str(sal.id) in json.dumps(before)
    Location.objects.filter(id=location.id).update(is_confidential=True)

    answers = [
        get(web, f"/hsds/services/{service.id}"),
        get(web, "/hsds/services?full=true&per_page=500"),
        get(web, "/hsds/service_at_locations?per_page=500"),
        get(web, "/hsds/service_at_locations?full=true&per_page=500"),
        get(web, f"/hsds/organizations/{service.organization_id}"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        text = answer.content.decode()
        assert str(location.id) not in text
        assert str(sal.id) not in text
        assert street not in text
        assert (location.latitude, location.longitude) not in positions(answer.json())
    assert get(web, f"/hsds/service_at_locations/{sal.id}").status_code == 404
    # The service itself is still published.
    assert get(web, f"/hsds/services/{service.id}").json()["name"] == service.name


def test_nothing_about_referrals_is_published(web: Client, catalog: int, api: ApiClient) -> None:
    filed = api.post("/api/v1/referrals", referral_body(first_name="Zéphyrine"))
    assert filed.status_code == 202
    for path in (
        "/hsds/services?full=true&per_page=500",
        "/hsds/organizations?full_service=true&per_page=500",
        "/hsds/service_at_locations?full=true&per_page=500",
        "/hsds/taxonomy_terms?per_page=500",
    ):
        text = get(web, path).content.decode()
        assert "Zéphyrine" not in text
        assert "veuvage" not in text
        assert "pt-0001" not in text


def test_organizations_places_taxonomies_and_terms_validate(web: Client, catalog: int) -> None:
    organizations = get(web, "/hsds/organizations").json()
    validate_page(organizations, "organization_list.json")
    for organization in organizations["contents"]:
        full = get(web, f"/hsds/organizations/{organization['id']}").json()
        validate(full, "modular/organization.json")
        assert {s["organization_id"] for s in full["services"]} <= {organization["id"]}
    with_services = get(web, "/hsds/organizations?full_service=true").json()
    assert any(o["services"] for o in with_services["contents"])

    places = get(web, "/hsds/service_at_locations?per_page=500").json()
    validate_page(places, "service_at_location_list.json")
    for place in places["contents"][:10]:
        full = get(web, f"/hsds/service_at_locations/{place['id']}").json()
        validate(full, "modular/service_at_location.json")

    taxonomies = get(web, "/hsds/taxonomies").json()
    validate_page(taxonomies, "modular/taxonomy.json")
    for taxonomy in taxonomies["contents"]:
        assert get(web, f"/hsds/taxonomies/{taxonomy['id']}").json() == taxonomy
    terms = get(web, "/hsds/taxonomy_terms?per_page=500").json()
    validate_page(terms, "modular/taxonomy_term.json")
    assert terms["total_items"] == TaxonomyTerm.objects.count()
    term = terms["contents"][0]
    assert get(web, f"/hsds/taxonomy_terms/{term['id']}").json() == term
    only = get(web, f"/hsds/taxonomy_terms?taxonomy_id={term['taxonomy_id']}").json()
    assert only["total_items"] == terms["total_items"]


def test_the_official_examples_imported_are_published_back(web: Client, org_api: ApiClient) -> None:
    for example in ("service_full.json", "organization_full.json"):
        document = json.loads((EXAMPLES / example).read_text())
        response = org_api.post("/api/v1/catalog/import", json.dumps(document))
        assert response.status_code == 200, response.json()
    services = get(web, "/hsds/services?per_page=500").json()
    validate_page(services, "service_list.json")
    assert services["total_items"] == Service.objects.count() >= 1
    for service in services["contents"]:
        full = get(web, f"/hsds/services/{service['id']}").json()
        validate(full, "service.json")
    # The foreign taxonomy the examples use is published with its terms.
    taxonomies = get(web, "/hsds/taxonomies").json()
    validate_page(taxonomies, "modular/taxonomy.json")
    assert len(taxonomies["contents"]) >= 2
    terms = get(web, "/hsds/taxonomy_terms?per_page=500").json()
    validate_page(terms, "modular/taxonomy_term.json")


def test_answers_can_be_cached_and_revalidated(web: Client, catalog: int) -> None:
    first = get(web, "/hsds/services")
    assert "public" in first["Cache-Control"]
    assert "max-age=" in first["Cache-Control"]
    assert first["ETag"]
    assert first["Access-Control-Allow-Origin"] == "*"
    again = web.get("/hsds/services", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    service = Service.objects.first()
    assert service is not None
    service.name = "Renamed"
    service.save()
    changed = web.get("/hsds/services", headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    # A change no date of the service follows (its place) changes the ETag too.
    place = Location.objects.filter(service_at_locations__service=service).first()
    assert place is not None
    detail = get(web, f"/hsds/services/{service.id}")
    Location.objects.filter(id=place.id).update(transportation="Tram T1, arrêt Quai Claude Bernard")
    moved = web.get(f"/hsds/services/{service.id}", headers={"If-None-Match": detail["ETag"]})
    assert moved.status_code == 200
    # A browser with a session is not served a publicly cacheable answer.
    web.cookies["sessionid"] = "anything"
    assert "private" in get(web, "/hsds/services")["Cache-Control"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=501", "per_page"),
        ("per_page=-1", "per_page"),
        ("taxonomy_term_id=not-an-id", "taxonomy_term_id"),
        ("organization_id=1", "organization_id"),
        ("modified_after=yesterday", "modified_after"),
        ("minimal=perhaps", "minimal"),
        ("postcode=69001", "postcode"),
        ("format=ndjson", "format"),
        ("modified_after=2026-02-30", "modified_after"),
        ("modified_after=2026-13-01T00:00:00", "modified_after"),
        ("modified_after=0001-01-01T00:00:00%2B14:00", "modified_after"),
        ("modified_after=9999-12-31T23:59:59-12:00", "modified_after"),
        ("search=a%00b", "search"),
        ("search=" + "x" * 201, "search"),
        ("full_service=true", "full_service"),
        ("top_only=true", "top_only"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(web: Client, query: str, field: str) -> None:
    answer = get(web, f"/hsds/services?{query}")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert [f["field"] for f in error["fields"]] == [field]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/hsds/service_at_locations?taxonomy_id=abc", "taxonomy_id"),
        ("/hsds/service_at_locations?modified_after=2026-01-01", "modified_after"),
        ("/hsds/organizations?taxonomy_term_id=abc", "taxonomy_term_id"),
        ("/hsds/taxonomies?search=x", "search"),
        ("/hsds/taxonomy_terms?parent_id=abc", "parent_id"),
    ],
)
def test_a_parameter_a_path_does_not_implement_is_refused(
    web: Client, path: str, field: str
) -> None:
    answer = get(web, path)
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["error"]["fields"]] == [field]


def test_the_public_sees_whether_an_activity_takes_people_not_how_many_places(
    web: Client, catalog: int
) -> None:
    from community_catalog.models import ServiceAtLocation

    ServiceAtLocation.objects.update(capacity_available=3, capacity_maximum=12)
    for path in ("/hsds/services?full=true&per_page=500", "/hsds/service_at_locations?full=true"):
        for item in get(web, path).json()["contents"]:
            for place in item.get("service_at_locations", [item]):
                assert set(place.get("capacity", {})) <= {"status"}, place["capacity"]


def test_a_page_costs_a_fixed_number_of_queries(
    web: Client, catalog: int, django_assert_max_num_queries: Any
) -> None:
    for path in (
        "/hsds/services?full=true&per_page=500",
        "/hsds/organizations?full_service=true&per_page=500",
        "/hsds/service_at_locations?full=true&per_page=500",
    ):
        with django_assert_max_num_queries(40):
            assert get(web, path).status_code == 200


def test_unknown_paths_and_methods(web: Client, catalog: int) -> None:
    assert get(web, "/hsds/nothing").status_code == 404
    assert get(web, "/hsds/services/00000000-0000-0000-0000-000000000000").status_code == 404
    assert get(web, "/hsds/services/not-a-uuid").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    for method in (strict.post, strict.put, strict.delete):
        refused = method("/hsds/services")
        assert refused.status_code == 405
        assert refused["Allow"] == "GET, HEAD"
        assert refused.json()["error"]["code"] == "method_not_allowed"
    assert get(web, "/hsds/services/").status_code == 200  # either spelling


def test_one_address_is_limited(web: Client, settings: Any) -> None:
    settings.TISSER_HSDS_RATE_LIMIT_PER_MINUTE = 3
    # Addresses of this run's own: with Redis, counts outlive the test for a minute.
    run = uuid.uuid4().hex[:4]
    one, other = (f"2001:db8:{run}:{n}::1" for n in (1, 2))
    answers = [web.get("/hsds/", REMOTE_ADDR=one) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert "this address" in answers[-1].json()["error"]["message"]
    # Another address is counted on its own; an IPv6 subscriber's /64 as one.
    assert web.get("/hsds/", REMOTE_ADDR=other).status_code == 200
    prefix = f"2001:db8:{run}:3"
    statuses = [web.get("/hsds/", REMOTE_ADDR=f"{prefix}::{n}").status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_a_place_edit_moves_the_last_modified_of_its_services(web: Client, catalog: int) -> None:
    from urllib.parse import urlencode

    from django.utils import timezone

    from community_catalog.models import ServiceAtLocation
    from community_catalog.services import location_save

    place = ServiceAtLocation.objects.select_related("location__organization").first()
    assert place is not None
    before = timezone.now()
    query = urlencode({"modified_after": before.isoformat(), "per_page": 500})
    assert str(place.service_id) not in {
        s["id"] for s in get(web, f"/hsds/services?{query}").json()["contents"]
    }

    location_save(
        organization=place.location.organization,
        location_id=place.location_id,
        changes={"name": "Salle rénovée"},
    )

    changed = get(web, f"/hsds/services?{query}").json()["contents"]
    assert str(place.service_id) in {s["id"] for s in changed}
