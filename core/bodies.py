"""Request bodies read by hand: JSON parsed with a depth bound, and an action's optional
JSON body validated against its schema, each refused with a 4xx that names the field."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.http import HttpRequest
from ninja import Schema
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from core.errors import FieldProblem, InvalidInput, Problem, UnsupportedMediaType
from core.schemas import ErrorOut

BodyT = TypeVar("BodyT", bound=BaseModel)


class DocumentError(ValueError):
    """The document as a whole cannot be read (not a list of services)."""


# HSDS nests a phone in a contact in a location in a service_at_location in a service:
# real documents stay well under this depth, and deeper ones would exhaust the stack.
MAX_JSON_DEPTH = 32


def json_depth_check(document: Any) -> None:
    """Refuse a document whose objects and arrays nest more than MAX_JSON_DEPTH deep
    (a lone value is one level). Walked a level at a time, each level's containers
    found by comprehensions (a harvest checks every page it reads)."""
    level = [document] if isinstance(document, (dict, list)) else []
    depth = 1
    while level:
        if depth > MAX_JSON_DEPTH:
            raise DocumentError(f"nests more than {MAX_JSON_DEPTH} levels deep")
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
        depth += 1


def validation_problems(exc: PydanticValidationError) -> list[tuple[str, str]]:
    """pydantic's errors as (`a[0].b` path, message) pairs, in the API's field syntax."""
    return [
        (
            # pydantic adds steps such as "function-after[...]" that are not fields.
            field_path([p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]),
            _message(err),
        )
        for err in exc.errors()
    ]


def _message(err: Any) -> str:
    message: str = err["msg"].removeprefix("Value error, ")
    if err["type"] == "enum" and len(message) > 200:
        # "Input should be 'a', 'b', …" for a list of sixty values says less than this.
        shown = str(err.get("input", ""))[:80]
        return f"{shown!r} is not one of the allowed values"
    return message


def field_path(parts: Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def json_parse(body: bytes, *, what: str) -> Any:
    """JSON from a request body, refusing with 400 what is not JSON or nests too deep."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise Problem(f"The {what} is not JSON: {reason}", code="invalid_json") from None
    try:
        json_depth_check(document)
    except DocumentError as exc:
        raise Problem(f"The {what} {exc}.", code="invalid_json") from None
    return document


def optional_body(request: HttpRequest, model: type[BodyT]) -> BodyT:
    """An action's optional JSON body: none (or an empty form) means the defaults; a body
    in another format is refused rather than ignored."""
    content_type = request.content_type or ""
    if not request.body or (
        content_type in ("multipart/form-data", "application/x-www-form-urlencoded")
        and not request.POST
    ):
        return model()
    if "json" not in content_type:
        raise UnsupportedMediaType(
            "Send the body as application/json.",
            fields=[
                FieldProblem("Content-Type", f"{content_type or 'none'}: use application/json")
            ],
        )
    document = json_parse(request.body, what="body")
    if not isinstance(document, dict):
        raise InvalidInput(
            "Expected a JSON object.", fields=[FieldProblem("body", "expected a JSON object")]
        )
    try:
        return model.model_validate(document)
    except PydanticValidationError as exc:
        fields = [FieldProblem(f or "body", m) for f, m in validation_problems(exc)]
        raise InvalidInput(
            "The request is not valid: " + "; ".join(f"{f.field}: {f.message}" for f in fields),
            fields=fields,
        ) from None


# What an action reading `optional_body` may answer besides success.
ACTION_ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    415: ErrorOut,
    422: ErrorOut,
}


def body_doc(model: type[Schema]) -> dict[str, Any]:
    """OpenAPI for an optional JSON body read with `optional_body`."""
    return {
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
