"""Response schemas shared by every router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from django.db.models import Model, QuerySet
from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

RowT = TypeVar("RowT", bound=Model)

# The largest `offset` a list accepts: far past any real list, and inside the 64-bit
# integers databases take (a larger one was a 500).
MAX_OFFSET = 1_000_000_000
ItemT = TypeVar("ItemT")


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
    error: ErrorDetailOut


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


# What every body's text field is: stripped, and never holding NUL.
def no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refuse it as bad input, never a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(no_nul)]


class StrictSchema(Schema):
    # An unknown field is most often a typo in a client; refusing it says so at once.
    model_config = ConfigDict(extra="forbid")
