"""Inserting many new rows of one model at once, for the catalogue's bulk writers.

Django's `bulk_create` compiles every value of every row into the statement (a third of
an HSDS import's time went there). Here each table's statement is made once, with every
value a parameter, and the rows go to the driver's `executemany`, which runs that one
prepared statement for all of them (psycopg in pipeline mode), all or nothing.

Values are prepared as `bulk_create` prepares them (`pre_save`, then
`get_db_prep_save`), except where that is known to hand the value over unchanged: a
`str` for a plain text column, an `int` for an integer one, a UUID on a backend that
stores UUIDs natively (its hex elsewhere), `None`. Each column's preparation is
worked out once per table and backend, not once per value.

- `rows_insert(model, objs)` writes model instances, which are marked saved.
- `values_insert(model, rows)` writes rows given as `{attname: value}` (`service_id`,
  not `service`), without making a model instance for each: a column left out takes
  the field's default, and `auto_now`/`auto_now_add` dates are set as `save()` would.

Like `bulk_create`: no signals, no `save()`. Unlike it: ids made by the database (an
auto-increment key left unset) are not read back, so rows of such a model must not be
needed afterwards.
"""

from __future__ import annotations

import gc
import operator
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

# Field classes (exactly these, not subclasses, which may prepare values their own way)
# whose preparation returns a value of this type unchanged.
_UNCHANGED: dict[type[models.Field[Any, Any]], type] = {
    models.CharField: str,
    models.TextField: str,
    models.EmailField: str,
    models.URLField: str,
    models.SlugField: str,
    models.IntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.BooleanField: bool,
    models.FloatField: float,
}


@dataclass(frozen=True)
class _Column:
    attname: str
    prepare: Callable[[Any], Any]
    # For `values_insert`: what a column left out holds, made for each row.
    default: Callable[[], Any]
    # `auto_now` (every write) or `auto_now_add` (this one): `pre_save` sets it.
    stamped: bool
    # `pre_save` does no more than read the attribute.
    plain_read: bool


def _prepare(
    field: models.Field[Any, Any], connection: BaseDatabaseWrapper
) -> Callable[[Any], Any]:
    def general(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if type(target) is models.UUIDField:
        native = connection.features.has_native_uuid_field

        def uuid_value(value: Any) -> Any:
            if type(value) is uuid.UUID:
                return value if native else value.hex
            return None if value is None else general(value)

        return uuid_value
    unchanged = _UNCHANGED.get(type(target))
    if unchanged is None:
        return general

    def plain(value: Any) -> Any:
        return value if value is None or type(value) is unchanged else general(value)

    return plain


def _default(field: models.Field[Any, Any]) -> Callable[[], Any]:
    if field.has_default() and callable(field.default):
        return field.get_default
    value = field.get_default()
    return lambda: value


# The table and columns of each INSERT statement, for PostgreSQL's COPY.
_COPY_TARGET: dict[str, tuple[str, str]] = {}
_tables: dict[tuple[type[models.Model], str, bool], tuple[str, list[_Column]]] = {}


def _table(
    model: type[models.Model], connection: BaseDatabaseWrapper, *, made_by_database: bool
) -> tuple[str, list[_Column]]:
    """The table's INSERT statement and its columns, made once per process."""
    key = (model, connection.alias, made_by_database)
    if key not in _tables:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not (f.primary_key and made_by_database)]
        quote = connection.ops.quote_name
        names = ", ".join(quote(str(f.column)) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        # Names from the model, quoted by the backend; every value is a parameter.
        sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({placeholders})"  # noqa: S608
        _COPY_TARGET[sql] = (quote(meta.db_table), names)
        columns = [
            _Column(
                attname=f.attname,
                prepare=_prepare(f, connection),
                default=_default(f),
                stamped=bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)),
                plain_read=type(f).pre_save is models.Field.pre_save,
            )
            for f in fields
        ]
        _tables[key] = (sql, columns)
    return _tables[key]


def _write(model: type[models.Model], alias: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
    connection = connections[alias]
    # All the rows or none, even outside a transaction (bulk_create's promise too).
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(sql, rows)
            return
        # PostgreSQL's COPY: the rows streamed as one statement, five times faster than
        # one INSERT per row even pipelined. The same values, adapted by psycopg.
        copy_sql = "COPY {} ({}) FROM STDIN".format(*_COPY_TARGET[sql])
        with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


def _reader(field: models.Field[Any, Any], *, plain: bool) -> Callable[[Any], Any]:
    if plain:
        return operator.attrgetter(field.attname)
    return lambda obj: field.pre_save(obj, True)


def rows_insert(model: type[models.Model], objs: Sequence[Any]) -> None:
    if not objs:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    # An auto-increment key left unset is the database's to make; one given is kept.
    made_by_database = isinstance(meta.pk, models.AutoField) and all(o.pk is None for o in objs)
    for obj in objs:
        if obj.pk is None and not isinstance(meta.pk, models.AutoField):
            obj.pk = meta.pk.get_pk_value_on_save(obj)
    sql, columns = _table(model, connection, made_by_database=made_by_database)
    fields = {f.attname: f for f in meta.concrete_fields}
    reads = [_reader(fields[c.attname], plain=c.plain_read) for c in columns]
    pairs = [(read, column.prepare) for read, column in zip(reads, columns, strict=True)]
    rows = [tuple(prepare(read(obj)) for read, prepare in pairs) for obj in objs]
    _write(model, alias, sql, rows)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


def values_insert(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows given as `{attname: value}`; the primary key must be given unless the
    database makes it (an auto-increment key) or the field has a default."""
    if not rows:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    made_by_database = isinstance(meta.pk, models.AutoField) and all(
        meta.pk.attname not in row for row in rows
    )
    sql, columns = _table(model, connection, made_by_database=made_by_database)
    known = {c.attname for c in columns}
    now = timezone.now()
    stamp = {
        c.attname: now if isinstance(meta.get_field(c.attname), models.DateTimeField) else today
        for c in columns
        if c.stamped
        for today in [date.today()]  # what DateField.pre_save sets
    }
    for row in rows:
        if not known.issuperset(row):
            raise TypeError(f"{model.__name__} has no column {sorted(row.keys() - known)}")
    # Column by column: each column's preparation is applied to all its values at once.
    values = []
    for column in columns:
        name, default = column.attname, column.default
        if column.stamped:
            given = [stamp[name]] * len(rows)
        else:
            given = [row[name] if name in row else default() for row in rows]
        values.append(list(map(column.prepare, given)))
    prepared = list(zip(*values, strict=True))
    _write(model, alias, sql, prepared)


_pauses = 0
_paused_lock = threading.Lock()
_was_enabled = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """Run a bulk read or write without Python's cyclic garbage collector.

    Checking a directory's records makes hundreds of thousands of small objects, and
    each of the collector's passes scans every object alive, the whole document
    included: half the time of checking HSDS records went there. Reference counting
    still frees what is no longer used; only cycles wait until the block ends. Meant
    for work bounded in size (an import's batch), and safe when nested or run in
    several threads at once: the collector comes back when the last block ends, if it
    was on when the first began."""
    global _pauses, _was_enabled
    with _paused_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _paused_lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
