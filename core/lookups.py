"""`field__any_of=[...]`: `IN (...)` whose values travel as one parameter on PostgreSQL.

With `__in`, a list of 1,000 ids becomes 1,000 placeholders that Django writes out and
psycopg parses and quotes one by one, for every query (its client-side binding caches
nothing); on PostgreSQL, `= ANY(%s)` with the list as one array costs the same whatever
its length. Elsewhere it is `__in` itself. `any_of(name, values)` makes the filter (and
registers the lookup for every field).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Model, Q, QuerySet
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(In):
    lookup_name = "any_of"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        if not self.rhs_is_direct_value():
            return self.as_sql(compiler, connection)  # a subquery: as `__in`
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [
            field.get_db_prep_value(value, connection, prepared=True)
            for value in dict.fromkeys(self.rhs)
            if value is not None  # NULL is never equal to anything
        ]
        if not values:
            raise EmptyResultSet
        if all(type(value) is uuid.UUID for value in values):
            # As text, cast by the server: psycopg adapts each UUID in Python.
            return f"{lhs} = ANY(%s::uuid[])", (*lhs_params, [f"{v.int:032x}" for v in values])
        return f"{lhs} = ANY(%s)", (*lhs_params, values)


Field.register_lookup(AnyOf)
# Relations read their lookups from their own classes only.
ForeignObject.register_lookup(AnyOf)


def any_of(name: str, values: Iterable[Any]) -> Q:
    """`Q(name__in=values)`, the values one parameter on PostgreSQL."""
    if isinstance(values, QuerySet):
        return Q(**{f"{name}__in": values})  # a subquery, as `__in` makes it
    return Q(**{f"{name}__any_of": [v.pk if isinstance(v, Model) else v for v in values]})
