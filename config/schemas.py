"""Response schemas shared by every router."""

from __future__ import annotations

from ninja import Schema


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorDetailOut(Schema):
    code: str
    message: str
    fields: list[FieldErrorOut] = []


class ErrorOut(Schema):
    error: ErrorDetailOut
