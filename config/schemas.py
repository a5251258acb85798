"""Response schemas shared by every router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from ninja import Schema

RowT = TypeVar("RowT", bound=Model)

# The largest `offset` a list accepts: far past any real list, and inside the 64-bit
# integers databases take (a larger one was a 500).
MAX_OFFSET = 1_000_000_000
ItemT = TypeVar("ItemT")


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorDetailOut(Schema):
    code: str
    message: str
    fields: list[FieldErrorOut] = []


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
