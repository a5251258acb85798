"""Domain errors that services raise and the API turns into one JSON error shape.

Services raise these without knowing about HTTP; `config.api` maps each to its status
code once, so every endpoint answers a refusal the same way:
`{"error": {"code": ..., "message": ..., "fields": [{"field": ..., "message": ...}]}}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class Problem(Exception):
    """A refusal the client can act on. Subclasses fix the HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: list[FieldProblem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or []
        self.extra = extra or {}


class InvalidInput(Problem):
    status = 422
    code = "validation_error"


class NotFound(Problem):
    status = 404
    code = "not_found"


class Conflict(Problem):
    status = 409
    code = "conflict"


class Gone(Problem):
    status = 410
    code = "gone"


class TooLarge(Problem):
    status = 413
    code = "too_large"


class UnsupportedMediaType(Problem):
    status = 415
    code = "unsupported_media_type"


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None, **extra: Any
) -> dict[str, Any]:
    """The one JSON shape of every refusal."""
    return {"error": {"code": code, "message": message, "fields": fields or [], **extra}}


def problem_body(problem: Problem) -> dict[str, Any]:
    fields = [{"field": f.field, "message": f.message} for f in problem.fields]
    return error_body(problem.code, problem.message, fields, **problem.extra)
