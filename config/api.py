"""The one NinjaAPI: mounts each app's router and maps every refusal to one error shape,
unknown paths under `/api/` included; serves its OpenAPI document (`config.openapi`) and
Swagger UI from the installed package, not a CDN."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.utils import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from accounts.audit_api import router as audit_router
from community_catalog.catalog_api import catalog_router
from community_catalog.organization_api import organization_router
from community_catalog.taxonomy_api import taxonomy_router
from config.openapi import openapi_complete
from core.errors import Problem, error_body, problem_body
from core.ratelimit import RateLimited
from core.schemas import PAGE_FIELDS, page_headers
from events.feed_api import events_router
from events.webhooks_api import webhooks_router
from harvest.api import harvest_router
from outreach.api import router as outreach_router
from referrals.api import router as referrals_router
from referrals.inbox_api import router as inbox_router
from reports.api import router as reports_router
from slips.api import router as slips_router

logger = logging.getLogger(__name__)


class TisserApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # `referral_create`, not ninja's module path: views are named uniquely across the
        # API (tests/config/test_openapi.py), or given an `operation_id`.
        return operation.view_func.__name__

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        openapi_complete(schema, error_examples())
        return schema

    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        response = super().create_response(
            request, data, status=status, temporal_response=temporal_response
        )
        # A page of a list says its total and links its neighbours in headers too.
        if response.status_code == 200 and isinstance(data, dict) and data.keys() >= PAGE_FIELDS:
            allowed = _query_parameters(self, request.method or "GET", request.path)
            for name, value in page_headers(request, data, allowed).items():
                response[name] = value
        return response


api = TisserApi(
    title="Tisser API",
    version="1",
    description=(
        "Social prescribing: health centres file non-medical referrals; Tisser matches "
        "them to community activities and produces a printed slip for the patient. "
        "Authenticate with `Authorization: Bearer <key>`: each role's key has its own "
        "security scheme, so paste your key into the scheme your role names (a health "
        "centre's, an organisation's or an operator's). Every refusal answers "
        '`{"error": {"code", "message", "fields"}}`; each operation lists when it refuses '
        "and with what. The examples' people, names and phone numbers are made up."
    ),
    openapi_extra={
        # Free software: the licence, and no contact (a deployment is its operator's).
        "info": {"license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"}}
    },
    urls_namespace="api-v1",
    # Swagger UI's files come from ninja's static files ("ninja" is an installed app),
    # and it asks no outside validator about the document.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("/referrals", referrals_router)
api.add_router("/referrals", outreach_router)
api.add_router("/catalog", catalog_router)
api.add_router("/catalog", taxonomy_router)
api.add_router("/organization", organization_router)
api.add_router("/inbox", inbox_router)
api.add_router("/events", events_router)
api.add_router("/webhooks", webhooks_router)
api.add_router("", slips_router)  # /referrals/{id}/slip.pdf|.html, /slips.pdf
api.add_router("/audit", audit_router)
api.add_router("/reports", reports_router)
api.add_router("/harvest", harvest_router)
# bench/ mounts its floor endpoint here itself when TISSER_BENCH_FLOOR is on (bench.apps).


AUTHENTICATION_REQUIRED = "A valid API key is required: send 'Authorization: Bearer <key>'."


# ninja's own message when it cannot parse a body it reads (`on_http_error` codes it).
BODY_NOT_PARSED = "Cannot parse request body"
# The limit a 429's example names when this server counts no requests (the default).
RATE_LIMIT_EXAMPLE = 600


def error_examples() -> dict[int, dict[str, Any]]:
    """The bodies of the refusals any operation may give, by status, for the OpenAPI
    document (`config.openapi`); each operation documents its own others."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    rate = RateLimited(
        limit=settings.TISSER_RATE_LIMIT_PER_MINUTE or RATE_LIMIT_EXAMPLE, retry_after=23
    )
    return {
        400: error_body("bad_request", BODY_NOT_PARSED),
        401: error_body("unauthorized", AUTHENTICATION_REQUIRED),
        413: too_large_body(limit),
        429: error_body(rate.code, rate.message, **rate.extra),
    }


def too_large_body(limit: int) -> dict[str, Any]:
    return error_body(
        "too_large",
        f"The request body is larger than {limit} bytes.",
        [{"field": "body", "message": f"at most {limit} bytes"}],
    )


def field_path(loc: list[Any] | tuple[Any, ...]) -> str:
    """`["body", "payload", "needs", 0]` → `"needs[0]"`: the path a client wrote."""
    parts = list(loc)
    # ninja prefixes the source ("body", "query", "path", "header") and, for bodies and
    # for query parameters gathered in a schema, the parameter's name; neither is part of
    # what the client sent (`["query", "params", "need", 1]` → `"need[1]"`).
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        source = parts.pop(0)
        named = len(parts) > 1 and isinstance(parts[0], str)
        if named and (source == "body" or isinstance(parts[1], str)):
            parts.pop(0)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [
        {"field": field_path(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in exc.errors
    ]
    message = "The request is not valid: " + "; ".join(
        f"{f['field']}: {f['message']}" for f in fields
    )
    return api.create_response(request, error_body("validation_error", message, fields), status=422)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request,
        error_body("unauthorized", AUTHENTICATION_REQUIRED),
        status=401,
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return api.create_response(
        request,
        error_body(code.get(exc.status_code, "error"), exc.message),
        status=exc.status_code,
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body("not_found", "No such resource."), status=404)


@api.exception_handler(RateLimited)
def on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = api.create_response(
        request, error_body(exc.code, exc.message, **exc.extra), status=exc.status
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(Problem)
def on_problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return api.create_response(request, problem_body(exc), status=exc.status)


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(
        request, too_large_body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE), status=413
    )


@api.exception_handler(InterfaceError)  # a connection the server closed under us
@api.exception_handler(OperationalError)
def on_database_unavailable(
    request: HttpRequest, exc: OperationalError | InterfaceError
) -> HttpResponse:
    # The database is down, overloaded or dropped the connection: the request's
    # transaction rolled back, so the client can safely try again (with its
    # Idempotency-Key, in case the commit itself was what failed to answer).
    logger.warning("database unavailable: %s", exc)
    response = api.create_response(
        request,
        error_body("unavailable", "The service is briefly unavailable; try again shortly."),
        status=503,
    )
    response["Retry-After"] = "5"
    return response


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return api.create_response(
        request, error_body("internal_error", "Something went wrong on our side."), status=500
    )


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under `/api/`: the API's 404, in its error shape, not a page."""
    return api.create_response(
        request,
        error_body(
            "not_found",
            f"No API endpoint at {request.path}; the endpoints are listed at /api/v1/docs.",
        ),
        status=404,
    )


@lru_cache(maxsize=1)
def _query_routes(api: NinjaAPI) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    """Each operation's path (as a pattern), methods and query parameters, read once from
    the routers' own parameter models (not from the OpenAPI document, which takes about
    a second to build): what a page's `Link` may carry over to the next page."""
    routes = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            escaped = re.escape(f"/api/v1{prefix}{path}")
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", escaped) + "$")
            for operation in path_view.operations:
                names = frozenset(
                    name
                    for model in operation.models
                    if model.__ninja_param_source__ == "query"
                    for name in model.__ninja_flatten_map__
                )
                for method in operation.methods:
                    routes.append((pattern, method, names))
    return routes


def _query_parameters(api: NinjaAPI, method: str, path: str) -> frozenset[str]:
    for pattern, route_method, names in _query_routes(api):
        if route_method == method and pattern.match(path):
            return names
    return frozenset()
