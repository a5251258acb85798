"""The OpenAPI document integrators read, and what it promises: readable operation ids and
summaries, examples that match their schemas, each operation's refusals with an example
it really gives and when, examples free of real people, the headers and refusals every
operation may answer with, the webhooks Tisser sends, a JSON 404 for unknown API paths,
and Swagger UI served from Tisser itself."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook

from config.api import api as tisser_api
from config.openapi import EXAMPLE_SECRET, PATH_PARAMETERS, webhook_example, webhooks_section
from events import webhooks
from events.outbox import EVENT_PAYLOAD_KEYS
from events.schemas import PAYLOAD_KEY_SCHEMAS
from tests.conftest import ApiClient, referral_body

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Answers with no body to give an example of: files.
BINARY = {"application/pdf"}
PAGED_LISTS = [
    ("/api/v1/referrals", "get"),
    ("/api/v1/inbox/placements", "get"),
    ("/api/v1/webhooks/deliveries", "get"),
    ("/api/v1/audit", "get"),
    ("/api/v1/catalog/services", "get"),
    ("/api/v1/catalog/crosswalks", "get"),
    ("/api/v1/catalog/crosswalks/unmapped", "get"),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or media.get("examples"):
        return True
    schema = _resolve(document, media.get("schema", {}))
    if schema.get("type") == "array":
        schema = _resolve(document, schema.get("items", {}))
    return bool(schema.get("examples"))


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    # References point into the document's components (or the schema's own `$defs`).
    return Draft202012Validator({**schema, "components": document.get("components", {})})


def _refusals(document: dict[str, Any]) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    """Each documented 4xx of each operation: path, method, status, response."""
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if 400 <= int(status) < 500:
                yield path, method, int(status), response


def _error(response: dict[str, Any]) -> dict[str, Any]:
    return dict(response["content"]["application/json"]["example"]["error"])


# --- Operation ids, summaries, parameters ---------------------------------------------


def test_operation_ids_are_short_snake_case_names_used_once(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    ids += [op["operationId"] for item in document["webhooks"].values() for op in item.values()]
    assert [i for i in ids if not SNAKE_CASE.match(i) or len(i) > 40] == []
    assert [i for i in ids if "_api_" in i] == [], "ninja's module path is not a name"
    assert sorted(i for i in set(ids) if ids.count(i) > 1) == []
    assert document["paths"]["/api/v1/referrals"]["post"]["operationId"] == "referral_create"


def test_every_operation_has_a_written_summary(document: dict[str, Any]) -> None:
    # ninja's own summary is the view's name, title-cased ("Own Sal Create").
    automatic = []
    for _, router in tisser_api._routers:
        for path_view in router.path_operations.values():
            for view in path_view.operations:
                name = view.view_func.__name__
                if view.summary == name.title().replace("_", " "):
                    automatic.append(f"{name}: {view.summary}")
    assert automatic == []
    for path, method, operation in _operations(document):
        summary = operation.get("summary", "")
        assert summary, f"{method} {path}"
        assert summary != operation["operationId"].title().replace("_", " "), summary


def test_every_parameter_is_described(document: dict[str, Any]) -> None:
    bare = [
        f"{method.upper()} {path}: {p['in']} {p['name']}"
        for path, method, operation in _operations(document)
        for p in operation.get("parameters", [])
        if not p.get("description")
    ]
    assert bare == []
    # Path parameters say what they are (config.openapi.PATH_PARAMETERS).
    search = document["paths"]["/api/v1/catalog/services"]["get"]["parameters"]
    assert {p["name"] for p in search} >= {"lat", "lon", "radius_km", "weekday", "q"}
    detail = document["paths"]["/api/v1/referrals/{referral_id}"]["get"]["parameters"]
    assert detail[0]["description"] == PATH_PARAMETERS["referral_id"]


def test_the_document_names_its_licence_and_no_contact(document: dict[str, Any]) -> None:
    info = document["info"]
    assert info["license"] == {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"}
    assert "contact" not in info
    assert "paste your key into the scheme your role names" in info["description"]


# --- Examples --------------------------------------------------------------------------


def test_every_operation_has_a_request_and_a_success_example(document: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in _operations(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if not _has_example(document, media):
                missing.append(f"{method.upper()} {path}: request {media_type}")
        for status, response in operation["responses"].items():
            if not 200 <= int(status) < 300:
                continue
            for media_type, media in response.get("content", {}).items():
                if media_type not in BINARY and not _has_example(document, media):
                    missing.append(f"{method.upper()} {path}: {status} {media_type}")
    assert missing == []


def test_every_example_matches_its_schema(document: dict[str, Any]) -> None:
    wrong = []
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            for error in _validator(document, schema).iter_errors(example):
                wrong.append(f"{name}: {error.json_path}: {error.message}")
    media_objects = []
    for path, method, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {})
        media_objects += [(f"{method} {path} request", m) for m in body.values()]
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            media_objects += [(f"{method} {path} {status}", m) for m in content.values()]
    for event_type, item in document["webhooks"].items():
        content = item["post"]["requestBody"]["content"]
        media_objects += [(f"webhook {event_type}", m) for m in content.values()]
    checked = 0
    for where, media in media_objects:
        if "example" in media and "schema" in media:
            checked += 1
            for error in _validator(document, media["schema"]).iter_errors(media["example"]):
                wrong.append(f"{where}: {error.json_path}: {error.message}")
    assert checked > 40
    assert wrong == []


# Phone numbers France keeps for fiction (ARCEP): 01 99 00 00 00 to 01 99 99 99 99, and
# 06 39 98 00 00 to 06 39 98 99 99.
FICTION_PHONE = re.compile(r"^\+33(199[0-9]{6}|63998[0-9]{4})$")
PHONE_LIKE = re.compile(r"^(\+[0-9 .()-]{8,}|0[1-9]([ .-]?[0-9]{2}){4})$")


def _examples(node: Any, key: str = "") -> Iterator[Any]:
    """Every example the document gives, however deep (schemas, bodies, answers,
    parameters, webhooks)."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "example":
                yield value
            elif name == "examples" and isinstance(value, list):
                yield from value
            elif name == "examples" and isinstance(value, dict):
                yield from (v.get("value") for v in value.values() if isinstance(v, dict))
            else:
                yield from _examples(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _examples(value, key)


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) for every string in an example, with the key it sits under."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _strings(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, key)
    elif isinstance(node, str):
        yield key, node


def _e164(number: str) -> str:
    digits = re.sub(r"[^0-9+]", "", number)
    return "+33" + digits[1:] if digits.startswith("0") else digits


def test_examples_hold_no_real_phone_number(document: dict[str, Any]) -> None:
    texts = {text.strip() for example in _examples(document) for _, text in _strings(example)}
    phones = {text for text in texts if PHONE_LIKE.match(text)}
    assert len(phones) >= 3, "the examples show phone numbers"
    assert {p for p in phones if not FICTION_PHONE.match(_e164(p))} == set()


def test_examples_name_no_real_looking_person(document: dict[str, Any]) -> None:
    strings = [pair for example in _examples(document) for pair in _strings(example)]
    contacts = [c["name"] for example in _examples(document) for c in _contacts(example)]
    assert len(contacts) >= 3, "the examples show contacts"
    assert [name for name in contacts if "Exemple" not in name] == []
    assert {text for key, text in strings if key == "clinician_name"} == {"Dr Exemple"}
    assert {text for key, text in strings if key == "username" and text} == {"dr.exemple"}
    whole = json.dumps(document, ensure_ascii=False)
    for former in ("Samia Benali", "Hélène Girard", "Dr Martin", "dr.martin", "Josiane"):
        assert former not in whole


def _contacts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "contacts" and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict) and "name" in c)
            else:
                yield from _contacts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _contacts(value)


# --- Refusals ---------------------------------------------------------------------------


def test_every_refusal_says_when_and_gives_an_example(document: dict[str, Any]) -> None:
    vague = []
    for path, method, status, response in _refusals(document):
        where = f"{method.upper()} {path} {status}"
        description = response.get("description", "")
        if not description or description == HTTPStatus(status).phrase:
            vague.append(f"{where}: {description!r}")
        media = response.get("content", {}).get("application/json", {})
        if "example" not in media:
            vague.append(f"{where}: no example")
    assert vague == []


def _kind(path: str) -> str:
    """The kind of resource a path is about: its last path parameter, or the path."""
    names = re.findall(r"{(\w+)}", path)
    return names[-1] if names else path


def test_each_kind_of_resource_has_its_own_404(document: dict[str, Any]) -> None:
    kinds: dict[str, set[str]] = {}
    for path, _, status, response in _refusals(document):
        if status == 404:
            kinds.setdefault(_error(response)["message"], set()).add(_kind(path))
    assert len(kinds) >= 10
    assert {m: k for m, k in kinds.items() if len(k) > 1} == {}
    paths = document["paths"]
    location = paths["/api/v1/organization/locations/{location_id}"]["get"]["responses"]["404"]
    assert _error(location)["message"] == "No such location in your organisation."
    assert _error(paths["/api/v1/slips.pdf"]["get"]["responses"]["404"])["code"] == "no_slips"


def test_conflicts_are_each_operations_own(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def conflict(path: str, method: str) -> str:
        return str(_error(paths[path][method]["responses"]["409"])["code"])

    assert conflict("/api/v1/referrals", "post") == "idempotency_key_reused"
    assert conflict("/api/v1/referrals/{referral_id}/cancel", "post") == "referral_closed"
    assert conflict("/api/v1/referrals/{referral_id}/slip.pdf", "get") == "slip_not_ready"
    assert conflict("/api/v1/referrals/{referral_id}/wellbeing", "post") == (
        "wellbeing_already_recorded"
    )
    assert conflict("/api/v1/webhooks", "post") == "webhook_limit_reached"
    # A placement's illegal move is only where placements move.
    for path, method, status, response in _refusals(document):
        if status == 409 and _error(response)["code"] == "illegal_transition":
            assert "/placements/" in path, f"{method} {path}"
    # Reads conflict with nothing (but a slip not printed yet).
    for path, method, status, _ in _refusals(document):
        if status == 409 and method == "get":
            assert path.endswith(("/slip.pdf", "/slip.html")), path
    # 422s say what each operation checks.
    invalid = {_error(r)["message"] for _, _, status, r in _refusals(document) if status == 422}
    assert len(invalid) >= 20


def test_documented_refusals_are_what_the_api_answers(
    catalog: int, api: ApiClient, document: dict[str, Any]
) -> None:
    paths = document["paths"]

    def documented(path: str, method: str, status: int) -> dict[str, Any]:
        return dict(
            paths[path][method]["responses"][str(status)]["content"]["application/json"]["example"]
        )

    detail = "/api/v1/referrals/{referral_id}"
    assert api.get("/api/v1/referrals/42").json() == documented(detail, "get", 422)
    missing = api.get(f"/api/v1/referrals/{uuid.uuid4()}")
    assert missing.json() == documented(detail, "get", 404)
    assert api.get("/api/v1/referrals?stage=nope").json() == documented(
        "/api/v1/referrals", "get", 422
    )
    unknown = api.post("/api/v1/referrals", referral_body(needs=["isolement"]))
    assert unknown.json() == documented("/api/v1/referrals", "post", 422)
    garbled = api.client.post(
        "/api/v1/referrals", b"{nope", content_type="application/json", headers=api.headers
    )
    assert garbled.status_code == 400
    assert garbled.json() == documented("/api/v1/referrals", "post", 400)
    day = api.get("/api/v1/slips.pdf?date=2026-13-01")
    assert day.json() == documented("/api/v1/slips.pdf", "get", 422)
    first = api.post("/api/v1/referrals", referral_body(), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    reused = api.post(
        "/api/v1/referrals", referral_body(first_name="Autre"), **{"Idempotency-Key": "k-1"}
    )
    assert reused.status_code == 409
    assert reused.json() == documented("/api/v1/referrals", "post", 409)


def test_the_rate_limit_example_is_the_configured_one(
    document: dict[str, Any], settings: Any
) -> None:
    limited = document["paths"]["/api/v1/referrals"]["get"]["responses"]["429"]
    error = _error(limited)
    assert error["code"] == "rate_limited"
    assert error["limit"] == settings.TISSER_RATE_LIMIT_PER_MINUTE == 600
    assert "at most 600 a minute" in error["message"]
    settings.TISSER_RATE_LIMIT_PER_MINUTE = 120
    rebuilt = tisser_api.get_openapi_schema()
    rebuilt_error = _error(rebuilt["paths"]["/api/v1/referrals"]["get"]["responses"][429])
    assert rebuilt_error["limit"] == 120


def test_every_body_may_be_too_large(document: dict[str, Any], settings: Any) -> None:
    for path, method, operation in _operations(document):
        if "application/json" not in operation.get("requestBody", {}).get("content", {}):
            continue
        too_large = operation["responses"].get("413")
        assert too_large is not None, f"{method} {path}"
        assert _error(too_large)["code"] == "too_large"
    create = document["paths"]["/api/v1/referrals"]["post"]["responses"]["413"]
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in _error(create)["message"]
    # The HSDS import is read past it, up to its own limit.
    imported = document["paths"]["/api/v1/catalog/import"]["post"]["responses"]["413"]
    assert "TISSER_IMPORT_MAX_BYTES" in _error(imported)["message"]


# --- Headers and refusals ---------------------------------------------------------------


def test_idempotency_key_is_documented_on_referral_creation(document: dict[str, Any]) -> None:
    create = document["paths"]["/api/v1/referrals"]["post"]
    headers = {p["name"]: p for p in create["parameters"] if p["in"] == "header"}
    assert headers["Idempotency-Key"]["required"] is False
    assert "Idempotent-Replayed" in create["responses"]["202"]["headers"]


def test_every_operation_documents_429_and_503_with_retry_after(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        statuses = [503, 429] if operation.get("security") else [503]
        for status in statuses:
            response = operation["responses"].get(str(status))
            assert response is not None, f"{method} {path}: no {status}"
            assert response["headers"]["Retry-After"]["required"] is True
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}
    # Each refusal's example is one of its kind.
    refusals = document["paths"]["/api/v1/referrals/{referral_id}"]["get"]["responses"]
    assert refusals["401"]["content"]["application/json"]["example"]["error"]["code"] == (
        "unauthorized"
    )
    assert refusals["404"]["content"]["application/json"]["example"]["error"]["code"] == (
        "not_found"
    )
    # The public taxonomy needs no key, so no key's limit.
    public = document["paths"]["/api/v1/catalog/taxonomy"]["get"]
    assert "429" not in public["responses"]
    # An operation's own 429 keeps its example and gains the header.
    batch = document["paths"]["/api/v1/slips.pdf"]["get"]["responses"]["429"]
    assert "Retry-After" in batch["headers"]


def test_paged_lists_document_their_total_and_links(document: dict[str, Any]) -> None:
    for path, method in PAGED_LISTS:
        headers = document["paths"][path][method]["responses"]["200"]["headers"]
        assert headers["X-Total-Count"]["required"] is True, path
        assert headers["Link"]["required"] is False, path
    day = document["paths"]["/api/v1/slips.pdf"]["get"]["responses"]["200"]["headers"]
    assert {"X-Total-Count", "Link"} <= set(day)


def test_a_page_answers_its_total_and_links_its_neighbours(catalog: int, api: ApiClient) -> None:
    for _ in range(3):
        assert api.post("/api/v1/referrals", referral_body()).status_code == 202

    response = api.get("/api/v1/referrals?limit=1&offset=1&stage=submitted")
    assert response["X-Total-Count"] == "3"
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"]))
    assert links == {
        "next": "/api/v1/referrals?limit=1&offset=2&stage=submitted",
        "prev": "/api/v1/referrals?limit=1&offset=0&stage=submitted",
    }
    assert api.get(links["next"]).json()["offset"] == 2

    whole = api.get("/api/v1/referrals")
    assert whole["X-Total-Count"] == "3"
    assert "Link" not in whole


# --- Webhooks ---------------------------------------------------------------------------


def test_webhooks_list_every_event_type_one_may_subscribe_to(document: dict[str, Any]) -> None:
    assert set(document["webhooks"]) == set(webhooks.WEBHOOK_EVENT_TYPES)
    for event_type, item in document["webhooks"].items():
        operation = item["post"]
        media = operation["requestBody"]["content"]["application/json"]
        data = media["schema"]["properties"]["data"]["properties"]
        assert set(data) == {"event_id", "aggregate_type", "aggregate_id"} | set(
            EVENT_PAYLOAD_KEYS[event_type]
        )
        # The example is the body `events.webhooks` would send, signed as it would be.
        body = webhooks.webhook_body(webhook_example(event_type))
        assert media["example"] == body
        assert set(media["schema"]["properties"]) == set(body)
        headers = {p["name"]: p["example"] for p in operation["parameters"]}
        sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        payload = json.dumps(body, separators=(",", ":"))
        signature = Webhook(EXAMPLE_SECRET).sign(headers["webhook-id"], sent_at, payload)
        assert headers["webhook-signature"] == signature


def test_every_payload_key_is_described() -> None:
    keys = set().union(*EVENT_PAYLOAD_KEYS.values())
    assert keys - set(PAYLOAD_KEY_SCHEMAS) == set()


def test_a_new_event_type_is_documented_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EVENT_PAYLOAD_KEYS, "referral.reviewed", frozenset({"referral_id"}))
    monkeypatch.setattr(
        webhooks, "WEBHOOK_EVENT_TYPES", (*webhooks.WEBHOOK_EVENT_TYPES, "referral.reviewed")
    )
    section = webhooks_section()
    body = section["referral.reviewed"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"]["type"] == "referral.reviewed"
    assert "referral_id" in body["schema"]["properties"]["data"]["properties"]


# --- Unknown paths, the docs page --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/nowhere"),
        ("post", "/api/v1/nowhere"),
        ("get", "/api/v2/referrals"),
        ("get", "/api/v1/referrals/a/b/c/d"),
        ("delete", "/api"),
    ],
)
def test_an_unknown_api_path_is_a_json_404(method: str, path: str) -> None:
    response = getattr(Client(), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["fields"] == []
    assert path in error["message"]


@pytest.mark.django_db
def test_an_unknown_page_is_still_a_page() -> None:
    response = Client().get("/nowhere")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag in ("script", "img") else found.get("href")
        if tag in ("script", "link", "img") and url:
            self.urls.append(url)


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_tisser_itself() -> None:
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assets = _Assets()
    assets.feed(page.content.decode())
    scripts = [u for u in assets.urls if u.endswith(".js")]
    assert len(scripts) >= 2
    assert any(u.endswith(".css") for u in assets.urls)
    assert [u for u in assets.urls if "//" in u or not u.startswith("/static/")] == []
    for url in assets.urls:
        assert client.get(url).status_code == 200, url
    found = re.search(r'id="swagger-settings">(.*?)</script>', page.content.decode(), re.S)
    assert found is not None
    settings = json.loads(found[1])
    assert settings["url"] == "/api/v1/openapi.json"
    assert settings["validatorUrl"] is None


def test_the_document_loads_in_schemathesis(document: dict[str, Any]) -> None:
    import schemathesis
    from schemathesis.core.result import Ok

    results = list(schemathesis.openapi.from_dict(document).get_all_operations())
    assert len(results) > 40
    assert all(isinstance(r, Ok) for r in results)
