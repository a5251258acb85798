"""`/harvest`: the directory sources Tisser keeps its catalogue current from, and their
runs' reports. Operators only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import StrictInt

from accounts.auth import OperatorKey
from core.schemas import (
    ErrorOut,
    PageQuery,
    StrictSchema,
    example_config,
    openapi_refusals,
    refusal,
)
from harvest.models import HarvestRun, HarvestSource
from harvest.reports import run_report, source_summary
from harvest.sources import source_add, source_get, source_remove, source_run_soon

harvest_router = Router(tags=["harvest"])

_REPORT_EXAMPLE: dict[str, Any] = {
    "id": "8a0e6c9e-2b57-4a53-9d6e-0d6f0c4f9b1a",
    "source": "metropole",
    "status": "succeeded",
    "trigger": "schedule",
    "started_at": "2026-12-07T03:00:00+00:00",
    "finished_at": "2026-12-07T03:00:41+00:00",
    "fetched": 1250,
    "created": 12,
    "updated": 40,
    "unchanged": 1190,
    "deactivated": 3,
    "invalid": 5,
    "kept_local": 1,
    "error": "",
    "problems": [
        {
            "record": "dora--42",
            "field": "nom",
            "message": "String should have at least 3 characters",
        }
    ],
    "unmapped_terms": [
        {
            "taxonomy": "https://gip-inclusion.github.io/data-inclusion-schema/latest/"
            "referentiels/publics",
            "code": "seniors-65",
            "label": "Seniors",
            "services": 31,
        }
    ],
}
_SOURCE_EXAMPLE: dict[str, Any] = {
    "name": "metropole",
    "label": "Annuaire de la Métropole",
    "url": "https://annuaire.example.org/hsds",
    "kind": "hsds-api",
    "every_hours": 24,
    "enabled": True,
    "token_env": "",
    "next_run_at": "2026-12-08T03:00:41+00:00",
    "failures": 0,
    "running": False,
    "last_run": _REPORT_EXAMPLE,
}

NOT_FOUND = refusal("No source with this name.", "not_found", "No source named 'metropol'.")
INVALID = refusal(
    "The name is taken or not a short lower-case name, the URL is not http(s), the kind "
    "is unknown, or the interval is out of range: `fields` names each.",
    "validation_error",
    "The source is not valid.",
    [("url", "an http:// or https:// URL")],
)
RUNNING = refusal(
    "A run of this source is under way.",
    "harvest_running",
    "The source 'metropole' is being harvested; try again later.",
)


class RunOut(Schema):
    model_config = example_config(_REPORT_EXAMPLE)

    id: uuid.UUID
    source: str
    status: Literal["running", "succeeded", "failed"]
    trigger: str = Field(description='"schedule" or "manual".')
    started_at: datetime
    finished_at: datetime | None
    fetched: int = Field(description="Records the source listed.")
    created: int
    updated: int
    unchanged: int
    deactivated: int = Field(description="Services the source no longer lists: inactive.")
    invalid: int = Field(description="Records left out; the first are in `problems`.")
    kept_local: int = Field(
        description="Services whose fields edited in Tisser were kept over a change at "
        "the source: flagged for review."
    )
    error: str = Field(description="Why the run failed, in Tisser's words.")
    problems: list[dict[str, str]] = Field(
        description="The first problems: the record's id at the source, the field, why."
    )
    unmapped_terms: list[dict[str, Any]] = Field(
        description="Terms of the source's taxonomies no crosswalk maps yet, with the "
        "number of services carrying each (map them with /catalog/crosswalks)."
    )


class SourceOut(Schema):
    model_config = example_config(_SOURCE_EXAMPLE)

    name: str
    label: str = Field(description="The directory's name as people know it ('' : the name).")
    url: str
    kind: Literal["hsds-api", "hsds-file", "data-inclusion"]
    every_hours: int = Field(description="Hours between runs; 0: by hand only.")
    enabled: bool
    token_env: str = Field(description="The environment variable holding its token, if any.")
    next_run_at: datetime | None
    failures: int = Field(description="Failed runs in a row.")
    running: bool
    last_run: RunOut | None


class SourceListOut(Schema):
    model_config = example_config(
        {"total": 1, "limit": 50, "offset": 0, "items": [_SOURCE_EXAMPLE]}
    )

    total: int
    limit: int
    offset: int
    items: list[SourceOut]


class RunListOut(Schema):
    model_config = example_config(
        {"total": 1, "limit": 50, "offset": 0, "items": [_REPORT_EXAMPLE]}
    )

    total: int
    limit: int
    offset: int
    items: list[RunOut]


class SourceIn(StrictSchema):
    model_config = example_config(
        {"name": "metropole", "url": "https://annuaire.example.org/hsds", "kind": "hsds-api"}
    )

    name: str = Field(max_length=60, description="A short name: lower-case letters, digits, -.")
    label: str = Field(
        "",
        max_length=200,
        description="The directory's name as people know it, shown on the public page of "
        "each activity it brings (the name when empty).",
    )
    url: str = Field(max_length=2000, description="The source's http(s) URL.")
    kind: Literal["hsds-api", "hsds-file", "data-inclusion"] = Field(
        description="`hsds-api`: an HSDS 3.0 API's base URL; `hsds-file`: an HSDS document; "
        "`data-inclusion`: data·inclusion's API base URL or an export file."
    )
    every_hours: StrictInt = Field(24, ge=0, le=8760, description="Hours between runs; 0: by hand.")
    token_env: str = Field(
        "",
        max_length=100,
        description="An environment variable on the server holding a bearer token, sent "
        "over https only; its name begins with `TISSER_HARVEST_TOKEN_`.",
    )


class PageParams(PageQuery):
    limit: int = Field(50, ge=1, le=500, description="How many items per page.")


class RunAcceptedOut(Schema):
    model_config = example_config({"source": "metropole", "queued": True})

    source: str
    queued: bool = Field(description="The relay hands it to a worker within a minute.")


def _summary(source: HarvestSource) -> dict[str, Any]:
    return source_summary(source, source.runs.select_related("source").first())


@harvest_router.get(
    "/sources",
    response={200: SourceListOut, 401: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="The directory sources and their last runs",
)
def sources_list(request: HttpRequest, params: Query[PageParams]) -> dict[str, Any]:
    """Every source, by name, with its last run's report."""
    sources = HarvestSource.objects.all()
    page = list(sources[params.offset : params.offset + params.limit])
    return {
        "items": [_summary(s) for s in page],
        "total": sources.count(),
        "limit": params.limit,
        "offset": params.offset,
    }


@harvest_router.post(
    "/sources",
    response={201: SourceOut, 401: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="Add a directory source",
    openapi_extra=openapi_refusals({422: INVALID}),
)
def source_create(request: HttpRequest, body: SourceIn) -> Status:
    """Add a source, due at once when it has an interval. Over the API a source is an
    http(s) URL (a file on the server is for operators at its terminal: `tisser harvest
    add`); its host must be public unless the server allows it
    (`TISSER_HARVEST_PRIVATE_HOSTS`)."""
    source = source_add(
        name=body.name,
        url=body.url,
        kind=body.kind,
        every_hours=body.every_hours,
        token_env=body.token_env,
        label=body.label,
        paths_allowed=False,
    )
    return Status(201, source_summary(source, None))


@harvest_router.get(
    "/sources/{name}",
    response={200: SourceOut, 401: ErrorOut, 404: ErrorOut},
    auth=OperatorKey(),
    summary="A directory source",
    openapi_extra=openapi_refusals({404: NOT_FOUND}),
)
def source_read(request: HttpRequest, name: str) -> dict[str, Any]:
    """A source, with its last run's report."""
    return _summary(source_get(name))


@harvest_router.delete(
    "/sources/{name}",
    response={204: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    auth=OperatorKey(),
    summary="Remove a directory source",
    openapi_extra=openapi_refusals({404: NOT_FOUND, 409: RUNNING}),
)
def source_delete(request: HttpRequest, name: str) -> Status:
    """Stop harvesting a source and forget its reports. The services it brought stay as
    they are, with their provenance: referrals point at them. Added again under the same
    name, a source takes them back. 409 while it runs."""
    source_remove(name)
    return Status(204, None)


@harvest_router.post(
    "/sources/{name}/run",
    response={202: RunAcceptedOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    auth=OperatorKey(),
    summary="Run a directory source now",
    openapi_extra=openapi_refusals({404: NOT_FOUND, 409: RUNNING}),
)
def source_run(request: HttpRequest, name: str) -> Status:
    """Make the source due now: the relay hands it to a worker at its next check (within
    `TISSER_HARVEST_CHECK_SECONDS`). Its report then appears in `/runs`. 409 while it
    runs, or when it is disabled (`harvest_disabled`)."""
    source = source_get(name)
    source_run_soon(source)
    return Status(202, {"source": source.name, "queued": True})


@harvest_router.get(
    "/sources/{name}/runs",
    response={200: RunListOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    auth=OperatorKey(),
    summary="A directory source's run reports",
    openapi_extra=openapi_refusals({404: NOT_FOUND}),
)
def source_runs(request: HttpRequest, name: str, params: Query[PageParams]) -> dict[str, Any]:
    """The source's runs, the latest first: counts, problems and unmapped terms."""
    source = source_get(name)
    runs = HarvestRun.objects.filter(source=source).select_related("source")
    page = runs[params.offset : params.offset + params.limit]
    return {
        "items": [run_report(r) for r in page],
        "total": runs.count(),
        "limit": params.limit,
        "offset": params.offset,
    }
