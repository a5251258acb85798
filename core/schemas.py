"""Response schemas shared by every router."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest, QueryDict
from ninja import Schema
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

RowT = TypeVar("RowT", bound=Model)

# The largest `offset` a list accepts: far past any real list, and inside the 64-bit
# integers databases take (a larger one was a 500).
MAX_OFFSET = 1_000_000_000
ItemT = TypeVar("ItemT")


class PageQuery(Schema):
    """The paging parameters every list takes: `offset` as is, and `limit` with the
    bounds of the list (a list with other bounds overrides `limit` alone)."""

    limit: int = Field(default=50, ge=1, le=200, description="How many items per page.")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="Skip this many items.")


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorDetailOut(Schema):
    """Some errors say more, beside `fields`, under keys of their own (present only then)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    fields: list[FieldErrorOut] = []
    limit: int | None = Field(
        default=None,
        description="The limit reached (`webhook_limit_reached`, `busy`, `too_many_records`, "
        "`too_many_values`, `record_too_large`, `text_too_long`, `too_large`).",
    )
    retry_after: int | None = Field(
        default=None, description="Seconds to wait (`rate_limited`, `busy`), as `Retry-After`."
    )
    allowed: list[str] | None = Field(
        default=None, description="What is allowed now (`illegal_transition`)."
    )


class ErrorOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "validation_error",
                        "message": "Some needs are not taxonomy codes.",
                        "fields": [
                            {"field": "needs[0]", "message": "unknown taxonomy code 'isolement'"}
                        ],
                    }
                }
            ]
        }
    )

    error: ErrorDetailOut


# What every list answers with; `config.api` adds `X-Total-Count` and `Link` to it.
PAGE_FIELDS = frozenset({"items", "total", "limit", "offset"})


def paged(
    rows: QuerySet[RowT], *, limit: int, offset: int, item: Callable[[RowT], ItemT]
) -> dict[str, Any]:
    """One page of a list, in the shape every list answers with: items, total, limit,
    offset."""
    return {
        "items": [item(row) for row in rows[offset : offset + limit]],
        "total": rows.count(),
        "limit": limit,
        "offset": offset,
    }


# What a link to the next page keeps of the request's query: a list's filters are short
# codes, dates and words. Anything else (a name no list takes, a long value, a query
# grown past the size of any real filter) is left out rather than echoed back in a header.
_LINK_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LINK_VALUE_CHARS = 200
_LINK_QUERY_CHARS = 1000


def _link_query(request: HttpRequest, allowed: Collection[str] | None) -> QueryDict:
    kept = QueryDict(mutable=True)
    for key, values in request.GET.lists():
        if not _LINK_KEY.match(key):
            continue
        if allowed is not None and key not in allowed and key not in ("offset", "limit"):
            continue
        short = [v for v in values[:10] if len(v) <= _LINK_VALUE_CHARS]
        if short:
            kept.setlist(key, short)
    if len(kept.urlencode()) > _LINK_QUERY_CHARS:
        return QueryDict(mutable=True)
    return kept


def page_headers(
    request: HttpRequest, page: Mapping[str, Any], allowed: Collection[str] | None = None
) -> dict[str, str]:
    """A page's `X-Total-Count` (the list's `total`) and `Link` to the next and previous
    pages (RFC 8288), as the same request with another `offset`. `allowed`: the query
    parameters the list takes (others are not echoed back)."""
    total, limit, offset = int(page["total"]), int(page["limit"]), int(page["offset"])
    links = []
    for rel, start in (("next", offset + limit), ("prev", max(0, offset - limit))):
        if (rel == "next" and start < total) or (rel == "prev" and offset > 0):
            query = _link_query(request, allowed)
            query["offset"] = str(start)
            query["limit"] = str(limit)
            links.append(f'<{request.path}?{query.urlencode()}>; rel="{rel}"')
    headers = {"X-Total-Count": str(total)}
    if links:
        headers["Link"] = ", ".join(links)
    return headers


# What every body's text field is: stripped, and never holding NUL.
def no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refuse it as bad input, never a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(no_nul)]


def example_config(*examples: Any) -> ConfigDict:
    """A schema's `model_config` giving its examples, shown in the OpenAPI document."""

    def add(schema: dict[str, Any]) -> None:
        schema["examples"] = copy.deepcopy(list(examples))

    return ConfigDict(json_schema_extra=add)


def refusal(
    when: str,
    code: str,
    message: str,
    fields: Sequence[tuple[str, str]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One refusal an operation documents: `when` it happens (the answer's description)
    and the body it answers with then (its example), as the view really raises it."""
    body = {
        "code": code,
        "message": message,
        "fields": [{"field": field, "message": said} for field, said in fields],
        **extra,
    }
    return {"description": when, "content": {"application/json": {"example": {"error": body}}}}


def openapi_examples(
    answers: Mapping[int, Any],
    body: Any = None,
    *,
    body_schema: dict[str, Any] | None = None,
    body_required: bool = True,
    refusals: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An operation's `openapi_extra` giving an example of its JSON answer for each status,
    for a body the endpoint reads itself the body's schema and an example, and the
    operation's own `refusals` by status (each made with `refusal`)."""
    extra: dict[str, Any] = {
        "responses": {
            status: {"content": {"application/json": {"example": example}}}
            for status, example in answers.items()
        }
    }
    if body is not None:
        media = {"schema": body_schema or {"type": "object"}, "example": body}
        extra["requestBody"] = {
            "required": body_required,
            "content": {"application/json": media},
        }
    return openapi_merged(extra, openapi_refusals(refusals or {}))


# The refusal of a body an endpoint reads itself (`core.bodies.json_parse`), not through
# ninja (whose own parse error is `bad_request`, documented by `config.openapi`).
BODY_NOT_JSON = refusal(
    "The body is not JSON, or nests more than 32 levels deep.",
    "invalid_json",
    "The body is not JSON: Expecting property name enclosed in double quotes: line 1 "
    "column 2 (char 1)",
)
# What an action reading an optional JSON body (`core.bodies.optional_body`) may refuse
# before its own checks: not JSON (400), in another format (415).
OPTIONAL_BODY_REFUSALS = {
    400: BODY_NOT_JSON,
    415: refusal(
        "A body was sent in another format than JSON (`Content-Type` is not `application/json`).",
        "unsupported_media_type",
        "Send the body as application/json.",
        [("Content-Type", "text/plain: use application/json")],
    ),
}


def openapi_refusals(refusals: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    """An operation's `openapi_extra` documenting its own refusals by status."""
    if not refusals:
        return {}
    return {"responses": {status: copy.deepcopy(r) for status, r in refusals.items()}}


def openapi_merged(*extras: Mapping[str, Any]) -> dict[str, Any]:
    """Several `openapi_extra` dicts as one: nested dicts merged, the later winning."""
    merged: dict[str, Any] = {}
    for extra in extras:
        _merge_into(merged, extra)
    return merged


def _merge_into(target: dict[Any, Any], source: Mapping[Any, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class StrictSchema(Schema):
    # An unknown field is most often a typo in a client; refusing it says so at once.
    model_config = ConfigDict(extra="forbid")


class ModelOut(Schema):
    """An answer read from a model: `XOut.model_validate(instance)` takes the fields of
    the same name (ninja's schemas read attributes) and the `resolve_<field>` static
    methods compute the others from the instance.

    One already built, nested in another (`ListOut(items=[...])`), is taken as it is:
    ninja's own validator would read it again through the resolvers, which expect the
    model. So build these from model instances only, not from keyword values or a dict
    (`model_dump()` of one does not validate back: the resolvers read the model)."""

    @model_validator(mode="wrap")
    @classmethod
    def _built_as_is(
        cls, value: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        if isinstance(value, cls):
            return value
        return handler(value)
