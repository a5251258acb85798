"""The catalogue as Open Referral's HSDS 3.0 API, under `/hsds/`: read-only, public, no
key (the operations of `hsds_schema/openapi.json`, which `/hsds/openapi.json` serves).

- Paged lists: `page` (from 1) and `per_page` (1 to 500, 50 by default), answered with
  HSDS's page fields (`total_items`, `total_pages`, `page_number`, `size`,
  `first_page`, `last_page`, `empty`, `contents`).
- Query parameters of the specification: `search`, `taxonomy_term_id`, `taxonomy_id`,
  `organization_id`, `modified_after`, `minimal`, `full` (services); `full_service`
  (organisations); `taxonomy_id` (terms). A parameter of the specification that this
  server does not implement (`postcode`, `proximity`, `format` other than `json`) is
  refused by name rather than ignored.
- `ETag` (a hash of the body), answered with 304 to a matching `If-None-Match`;
  `Cache-Control: public, max-age=60` (`private` to a browser that sends cookies);
  `Access-Control-Allow-Origin: *`. No `Last-Modified`: an answer changes with its
  organisation, places, sessions and capacity too, which no one date follows.
- `modified_after` compares a service's `last_modified`, which moves when the service or
  one of its places changes. Capacity and the organisation's own record do not move it: a
  harvester should also re-read whole pages now and then (the `ETag` makes an unchanged
  one cheap).
- A rate limit per client address (`TISSER_HSDS_RATE_LIMIT_PER_MINUTE`).
- Refusals are JSON: `{"error": {"code", "message", "fields": [{"field", "message"}]}}`.

What is published, and what never is, is `community_catalog.hsds_publish`'s.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache, wraps
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import get_current_timezone, is_naive, make_aware
from django.views.decorators.csrf import csrf_exempt

from accounts.client_ip import client_ip
from community_catalog import hsds_publish as publish
from community_catalog.models import Organization, Service
from core.errors import FieldProblem, InvalidInput, NotFound, Problem, problem_body
from core.ratelimit import RateLimited, rate_limit_check

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 500
CACHE_SECONDS = 60
SCHEMA_DIR = Path(__file__).resolve().parent / "hsds_schema"
# The query parameters the specification defines, on one path or another: those a path
# does not implement are refused by name rather than ignored.
_SPECIFIED = frozenset(
    {
        "search", "page", "per_page", "format", "taxonomy_term_id", "taxonomy_id",
        "organization_id", "modified_after", "minimal", "full", "full_service",
        "postcode", "proximity", "top_only", "parent_id",
    }
)  # fmt: skip
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


# --- Answers and refusals -------------------------------------------------------------


def _refusal(problem: Problem) -> JsonResponse:
    response = JsonResponse(problem_body(problem), status=problem.status)
    if isinstance(problem, RateLimited):
        response["Retry-After"] = str(problem.retry_after)
    return response


def _answer(request: HttpRequest, document: Any) -> HttpResponse:
    """The JSON answer, with its `ETag` (a hash of the body: it changes whenever the
    answer does, whatever changed it) and a 304 to a matching `If-None-Match`."""
    body = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    response: HttpResponse = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    conditional = get_conditional_response(request, etag=etag, response=response)
    if conditional is not None and conditional is not response:
        conditional["ETag"] = etag  # a 304 (or 412) names the version it stands for
        response = conditional
    return response


def _headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    # Shared caches may keep an answer, but not one sent to a browser that carries a
    # session: the session middleware may set its cookie on it.
    if request.COOKIES:
        patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    else:
        patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    # Read-only, public, no credentials: any web page may read it (Open Referral tools).
    response["Access-Control-Allow-Origin"] = "*"
    return response


def hsds_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET/HEAD only, counted per client address, refusals as JSON."""

    @csrf_exempt  # nothing but GET and HEAD is served: a POST gets the JSON 405
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            refused = _refusal(
                Problem("This API is read-only: GET or HEAD.", code="method_not_allowed")
            )
            refused.status_code = 405
            refused["Allow"] = "GET, HEAD"
            return _headers(request, refused)
        try:
            _rate_limit(request)
            response = view(request, *args, **kwargs)
        except Problem as problem:
            response = _refusal(problem)
        return _headers(request, response)

    return wrapped


def _rate_limit(request: HttpRequest) -> None:
    limit = settings.TISSER_HSDS_RATE_LIMIT_PER_MINUTE
    try:
        rate_limit_check(f"hsds:{_client(request)}", limit=limit)
    except RateLimited as refused:
        raise RateLimited(
            limit=limit,
            retry_after=refused.retry_after,
            message=f"Too many requests from this address: at most {limit} a minute. "
            f"Try again in {refused.retry_after} s.",
        ) from None


def _client(request: HttpRequest) -> str:
    """The client's address; for IPv6, its /64 (one subscriber's usual share)."""
    address = client_ip(request) or "unknown"
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


# --- Query parameters -----------------------------------------------------------------


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}", code="invalid_parameter", fields=[FieldProblem(field, message)]
    )


def _int(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise _invalid(name, f"a whole number from {low} to {high}")
    return value


def _bool(request: HttpRequest, name: str) -> bool:
    raw = request.GET.get(name, "").strip().lower()
    if raw in ("", *_FALSE):
        return False
    if raw in _TRUE:
        return True
    raise _invalid(name, "true or false")


def _uuid(request: HttpRequest, name: str) -> uuid.UUID | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _invalid(name, "an id (a UUID)") from None


def _datetime(request: HttpRequest, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    problem = _invalid(name, "a date or date and time, e.g. 2026-01-31T09:00:00Z")
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            moment = datetime.combine(day, datetime.min.time()) if day else None
        if moment is None:
            raise problem
        if is_naive(moment):
            moment = make_aware(moment, get_current_timezone())
        moment.astimezone(UTC)  # out of range once in UTC (year 0 or 10000): refused
    except (ValueError, OverflowError):
        raise problem from None
    return moment


def _search(request: HttpRequest) -> str:
    text = request.GET.get("search", "").strip()
    if "\x00" in text:
        raise _invalid("search", "must not contain NUL characters")
    if len(text) > 200:
        raise _invalid("search", "at most 200 characters")
    return text


def _check_supported(request: HttpRequest, accepted: frozenset[str]) -> None:
    """Refuse by name a parameter of the specification this path does not implement."""
    for name in sorted(_SPECIFIED - accepted - {"page", "per_page"}):
        if request.GET.get(name):
            raise _invalid(name, "not supported on this path")
    if request.GET.get("format", "json") != "json":
        raise _invalid("format", "only json is supported")


def _page(
    request: HttpRequest, items: QuerySet[Any] | Sequence[Any]
) -> tuple[list[Any], dict[str, Any]]:
    """This request's page of `items`, and HSDS's page fields around it."""
    page = _int(request, "page", 1, 1, 1_000_000)
    per_page = _int(request, "per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX)
    total = items.count() if isinstance(items, QuerySet) else len(items)
    pages = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    shown = list(items[start : start + per_page])
    return shown, {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(shown),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": total == 0,
    }


# --- The operations -------------------------------------------------------------------


@hsds_view
def api_root(request: HttpRequest) -> HttpResponse:
    return _answer(
        request,
        {
            "version": publish.HSDS_VERSION,
            "profile": "https://docs.openreferral.org/en/latest/hsds/overview.html",
            "openapi_url": request.build_absolute_uri("/hsds/openapi.json"),
        },
    )


@cache
def _openapi_document() -> dict[str, Any]:
    return dict(json.loads((SCHEMA_DIR / "openapi.json").read_text(encoding="utf-8")))


@hsds_view
def openapi(request: HttpRequest) -> HttpResponse:
    """Open Referral's own document, with this server's address."""
    document = {**_openapi_document(), "servers": [{"url": request.build_absolute_uri("/hsds")}]}
    return _answer(request, document)


@hsds_view
def service_list(request: HttpRequest) -> HttpResponse:
    _check_supported(
        request,
        frozenset(
            {"search", "taxonomy_term_id", "taxonomy_id", "organization_id"}
            | {"modified_after", "minimal", "full"}
        ),
    )
    minimal, full = _bool(request, "minimal"), _bool(request, "full")
    services = Service.objects.all()
    if search := _search(request):
        services = services.filter(name__icontains=search) | services.filter(
            description__icontains=search
        )
    if term := _uuid(request, "taxonomy_term_id"):
        services = services.filter(publish.services_with_term(term))
    if taxonomy := _uuid(request, "taxonomy_id"):
        services = services.filter(publish.services_in_taxonomy(str(taxonomy)))
    if organization := _uuid(request, "organization_id"):
        services = services.filter(organization_id=organization)
    if after := _datetime(request, "modified_after"):
        services = services.filter(last_modified__gte=after)
    ids = services.order_by("id").values_list("id", flat=True).distinct()
    shown_ids, page = _page(request, ids)
    shape = "minimal" if minimal else "full" if full else "list"
    shown = publish.published_services().filter(id__in=shown_ids)
    contents = [publish.service_published(s, shape=shape) for s in shown]
    return _answer(request, {**page, "contents": contents})


@hsds_view
def service_detail(request: HttpRequest, service_id: uuid.UUID) -> HttpResponse:
    service = publish.published_services().filter(id=service_id).first()
    if service is None:
        raise NotFound("No service with this id.", code="not_found")
    return _answer(request, publish.service_published(service))


@hsds_view
def organization_list(request: HttpRequest) -> HttpResponse:
    _check_supported(request, frozenset({"search", "full_service"}))
    full = _bool(request, "full_service")
    organizations = Organization.objects.order_by("id")
    if search := _search(request):
        organizations = organizations.filter(name__icontains=search)
    shown, page = _page(request, organizations)
    contents = publish.organizations_published(shown, full=full)
    return _answer(request, {**page, "contents": contents})


@hsds_view
def organization_detail(request: HttpRequest, organization_id: uuid.UUID) -> HttpResponse:
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        raise NotFound("No organization with this id.", code="not_found")
    [document] = publish.organizations_published([organization], full=True)
    return _answer(request, document)


@hsds_view
def service_at_location_list(request: HttpRequest) -> HttpResponse:
    _check_supported(request, frozenset({"search", "taxonomy_term_id", "organization_id", "full"}))
    full = _bool(request, "full")
    places = publish.published_places()
    if search := _search(request):
        places = places.filter(service__name__icontains=search)
    if term := _uuid(request, "taxonomy_term_id"):
        places = places.filter(service__in=Service.objects.filter(publish.services_with_term(term)))
    if organization := _uuid(request, "organization_id"):
        places = places.filter(service__organization_id=organization)
    shown, page = _page(request, places)
    contents = [publish.place_published(sal, full=full) for sal in shown]
    return _answer(request, {**page, "contents": contents})


@hsds_view
def service_at_location_detail(request: HttpRequest, sal_id: uuid.UUID) -> HttpResponse:
    sal = publish.published_places().filter(id=sal_id).first()
    if sal is None:
        raise NotFound("No service_at_location with this id.", code="not_found")
    return _answer(request, publish.place_published(sal))


@hsds_view
def taxonomy_list(request: HttpRequest) -> HttpResponse:
    _check_supported(request, frozenset())
    shown, page = _page(request, publish.taxonomies())
    return _answer(request, {**page, "contents": shown})


@hsds_view
def taxonomy_detail(request: HttpRequest, taxonomy_id: uuid.UUID) -> HttpResponse:
    for taxonomy in publish.taxonomies():
        if taxonomy["id"] == str(taxonomy_id):
            return _answer(request, taxonomy)
    raise NotFound("No taxonomy with this id.", code="not_found")


@hsds_view
def taxonomy_term_list(request: HttpRequest) -> HttpResponse:
    _check_supported(request, frozenset({"taxonomy_id"}))
    taxonomy = _uuid(request, "taxonomy_id")
    terms = publish.taxonomy_terms(str(taxonomy) if taxonomy else None)
    shown, page = _page(request, terms)
    return _answer(request, {**page, "contents": shown})


@hsds_view
def taxonomy_term_detail(request: HttpRequest, term_id: uuid.UUID) -> HttpResponse:
    for term in publish.taxonomy_terms():
        if term["id"] == str(term_id):
            return _answer(request, term)
    raise NotFound("No taxonomy_term with this id.", code="not_found")


@hsds_view
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise NotFound(f"No such HSDS operation: /hsds/{rest}", code="not_found")


def _both(route: str, view: Callable[..., HttpResponse]) -> list[URLPattern]:
    """`route` with and without a trailing slash: HSDS clients write either."""
    return [path(route, view), path(f"{route}/", view)] if route else [path("", view)]


urlpatterns = [
    *_both("", api_root),
    path("openapi.json", openapi),
    *_both("services", service_list),
    *_both("services/<uuid:service_id>", service_detail),
    *_both("organizations", organization_list),
    *_both("organizations/<uuid:organization_id>", organization_detail),
    *_both("service_at_locations", service_at_location_list),
    *_both("service_at_locations/<uuid:sal_id>", service_at_location_detail),
    *_both("taxonomies", taxonomy_list),
    *_both("taxonomies/<uuid:taxonomy_id>", taxonomy_detail),
    *_both("taxonomy_terms", taxonomy_term_list),
    *_both("taxonomy_terms/<uuid:term_id>", taxonomy_term_detail),
]
