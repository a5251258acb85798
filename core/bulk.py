"""Inserting many new rows of one model at once, for the catalogue's bulk writers.

Django's `bulk_create` compiles every value of every row into the statement (a third of
an HSDS import's time went there). `rows_insert` prepares each value the way
`bulk_create` does (`pre_save`, then `get_db_prep_save`), then hands the rows to the
driver's `executemany`, which runs one prepared statement for all of them (psycopg in
pipeline mode), all or nothing. Like `bulk_create`: no signals, no `save()`, and the
objects are marked as saved. Unlike it: ids made by the database (an auto-increment key
left unset) are not read back, so rows of such a model must not be needed afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router, transaction


def rows_insert(model: type[models.Model], objs: Sequence[Any]) -> None:
    if not objs:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    # An auto-increment key left unset is the database's to make; one given is kept.
    made_by_database = isinstance(meta.pk, models.AutoField) and all(o.pk is None for o in objs)
    fields = [f for f in meta.concrete_fields if not (f.primary_key and made_by_database)]
    for obj in objs:
        if obj.pk is None and not isinstance(meta.pk, models.AutoField):
            obj.pk = meta.pk.get_pk_value_on_save(obj)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Names from the model, quoted by the backend; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    rows = [
        tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields) for obj in objs
    ]
    # All the rows or none, even outside a transaction (bulk_create's promise too).
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
