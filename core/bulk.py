"""Inserting many new rows of one model at once, for the catalogue's bulk writers.

Django's `bulk_create` compiles every value of every row into the statement (a third of
an HSDS import's time went there). Here each table's statement is made once, with every
value a parameter, and the rows go to SQLite's `executemany` (one prepared statement for
all of them) or PostgreSQL's `COPY`, all or nothing.

Values are prepared as `bulk_create` prepares them (`pre_save`, then
`get_db_prep_save`), except where that is known to hand the value over unchanged: a
`str` for a plain text column, an `int` for an integer one, `None`; a UUID goes as its
hex, which every backend reads (PostgreSQL's driver would adapt each UUID in Python); a
date, a time or an aware datetime goes straight to the backend's adaptation, where
`get_db_prep_save` takes it. Each column's preparation is worked out once per table and
backend, and applied to the whole column: when the types of its values (found at C
speed) are all taken unchanged, nothing is called for each value.

- `rows_insert(model, objs)` writes model instances, which are marked saved.
- `values_insert(model, rows)` writes rows given as `{attname: value}` (`service_id`,
  not `service`), without making a model instance for each: a column left out takes
  the field's default, and `auto_now`/`auto_now_add` dates are set as `save()` would.

Like `bulk_create`: no signals, no `save()`. Keys made by the database (an
auto-increment key left unset) are set on the instances `rows_insert` writes, as
`bulk_create` sets them: PostgreSQL's sequence gives them before the rows are copied;
SQLite gives them while inserting, one more than the table's largest each time, and no
other connection can insert meanwhile (SQLite's one writer holds its lock from the first
INSERT to the commit), so the last one read back names them all. `values_insert` does
not read them back.
"""

from __future__ import annotations

import operator
import time as clock
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
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
    models.AutoField: int,
    models.BigAutoField: int,
}


@dataclass(frozen=True)
class _Column:
    field: models.Field[Any, Any]
    attname: str
    # For `values_insert`: what a column left out holds, made for each row.
    default: Callable[[], Any]
    # `auto_now` (every write) or `auto_now_add` (this one): `pre_save` sets it.
    stamped: bool
    # `pre_save` does no more than read the attribute.
    plain_read: bool


@dataclass(frozen=True)
class _Table:
    sql: str
    # For PostgreSQL's COPY.
    copy_sql: str
    columns: list[_Column]

    def prepares(self, connection: BaseDatabaseWrapper) -> list[Callable[[list[Any]], list[Any]]]:
        """Each column's preparation for this connection, applied to all the column's
        values at once (the thread's own: nothing kept for the process holds a
        connection)."""
        return [_column_prepare(c.field, connection) for c in self.columns]


_NoneType = type(None)


def _column_prepare(
    field: models.Field[Any, Any], connection: BaseDatabaseWrapper
) -> Callable[[list[Any]], list[Any]]:
    """`_prepare` for a whole column. When every value is of the type the column takes
    unchanged (or None), which the types of all of them tell at C speed, nothing is
    called for each value; UUIDs become their hex, which both backends read (a
    driver's own UUID adaptation runs in Python for each value)."""
    prepare = _prepare(field, connection)
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if type(target) is models.UUIDField:

        def uuids(values: list[Any]) -> list[Any]:
            kinds = set(map(type, values))
            if kinds == {uuid.UUID}:
                return [f"{v.int:032x}" for v in values]
            if kinds <= {uuid.UUID, _NoneType}:
                return [None if v is None else f"{v.int:032x}" for v in values]
            return list(map(prepare, values))

        return uuids
    unchanged = _UNCHANGED.get(type(target))
    if unchanged is None:
        return lambda values: list(map(prepare, values))
    taken = {unchanged, _NoneType}

    def plain(values: list[Any]) -> list[Any]:
        return values if set(map(type, values)) <= taken else list(map(prepare, values))

    return plain


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
    ops = connection.ops
    if type(target) is models.DateField:
        # What `get_db_prep_save` comes to for a date: the backend's adaptation.
        return _last_kept(lambda v: ops.adapt_datefield_value(v) if type(v) is date else general(v))
    if type(target) is models.TimeField:
        return _last_kept(lambda v: ops.adapt_timefield_value(v) if type(v) is time else general(v))
    if type(target) is models.DateTimeField:
        # An aware datetime (a naive one is warned about and made aware: `general`).
        return _last_kept(
            lambda v: (
                ops.adapt_datetimefield_value(v)
                if type(v) is datetime and v.tzinfo is not None
                else general(v)
            )
        )
    unchanged = _UNCHANGED.get(type(target))
    if unchanged is None:
        return general

    def plain(value: Any) -> Any:
        return value if value is None or type(value) is unchanged else general(value)

    return plain


def _last_kept(adapt: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`adapt`, for a column whose rows mostly share one value (the moment of the
    write, the day of a batch): the same object as the last value is adapted once.
    `None` stays `None`."""
    last: list[Any] = [None, None]

    def adapted(value: Any) -> Any:
        if value is None:
            return None
        if value is not last[0]:
            last[0], last[1] = value, adapt(value)
        return last[1]

    return adapted


def _default(field: models.Field[Any, Any]) -> Callable[[], Any]:
    if field.has_default() and callable(field.default):
        return field.get_default
    value = field.get_default()
    return lambda: value


def _stamp(field: models.Field[Any, Any], now: datetime) -> Any:
    """What `pre_save` sets an `auto_now`/`auto_now_add` field to."""
    if isinstance(field, models.DateTimeField):
        return now
    if isinstance(field, models.DateField):
        return date.today()
    return datetime.now().time()  # a TimeField


_tables: dict[tuple[type[models.Model], str, bool], _Table] = {}


def _table(
    model: type[models.Model], connection: BaseDatabaseWrapper, *, made_by_database: bool
) -> _Table:
    """The table's INSERT statement and its columns, made once per process."""
    key = (model, connection.alias, made_by_database)
    if key not in _tables:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not (f.primary_key and made_by_database)]
        quote = connection.ops.quote_name
        table, names = quote(meta.db_table), ", ".join(quote(str(f.column)) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        _tables[key] = _Table(
            # Names from the model, quoted by the backend; every value is a parameter.
            sql=f"INSERT INTO {table} ({names}) VALUES ({placeholders})",  # noqa: S608
            copy_sql=f"COPY {table} ({names}) FROM STDIN",
            columns=[
                _Column(
                    field=f,
                    attname=f.attname,
                    default=_default(f),
                    stamped=bool(
                        getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
                    ),
                    plain_read=type(f).pre_save is models.Field.pre_save,
                )
                for f in fields
            ],
        )
    return _tables[key]


def _write(alias: str, table: _Table, rows: list[tuple[Any, ...]]) -> int | None:
    """Write the rows; on SQLite, return the last key the database made (if it made any)."""
    connection = connections[alias]
    # All the rows or none, even outside a transaction (bulk_create's promise too).
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.executemany(table.sql, rows)
            cursor.execute("SELECT last_insert_rowid()")
            return int(cursor.fetchone()[0])
        if connection.vendor != "postgresql":
            cursor.executemany(table.sql, rows)
            return None
        # PostgreSQL's COPY: the rows streamed as one statement, five times faster than
        # one INSERT per row even pipelined. The same values, adapted by psycopg. It
        # goes to the driver's cursor, so what Django's cursor does is done here:
        # refuse to run in a broken transaction, turn errors into Django's, log it.
        connection.validate_no_broken_transaction()
        started = clock.monotonic()
        with connection.wrap_database_errors, cursor.cursor.copy(table.copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        if connection.queries_logged:
            connection.queries_log.append(
                {
                    "sql": f"{table.copy_sql} -- {len(rows)} rows",
                    "time": f"{clock.monotonic() - started:.3f}",
                }
            )
        return None


def _made_by_database(meta: Any, keys: list[Any]) -> bool:
    """Whether the database makes the rows' keys: an auto-increment key none of them
    gives. Some giving one and others not is refused (the database would be given
    NULL for the others)."""
    if not isinstance(meta.pk, models.AutoField):
        return False
    given = [key is not None for key in keys]
    if any(given) and not all(given):
        raise ValueError(f"{meta.object_name}: give every row's key, or none")
    return not any(given)


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
    made_by_database = _made_by_database(meta, [o.pk for o in objs])
    for obj in objs:
        if obj.pk is None and not isinstance(meta.pk, models.AutoField):
            obj.pk = meta.pk.get_pk_value_on_save(obj)
    if made_by_database and connection.vendor == "postgresql":
        # COPY returns nothing: the sequence gives the keys first.
        for obj, key in zip(objs, _keys_reserve(connection, meta, len(objs)), strict=True):
            obj.pk = key
        made_by_database = False
    table = _table(model, connection, made_by_database=made_by_database)
    reads = [_reader(c.field, plain=c.plain_read) for c in table.columns]
    columns = [
        prepare(list(map(read, objs)))
        for read, prepare in zip(reads, table.prepares(connection), strict=True)
    ]
    last = _write(alias, table, list(zip(*columns, strict=True)))
    if made_by_database:
        # SQLite: each key one more than the largest, no other writer meanwhile.
        if last is None:
            raise RuntimeError(f"{model.__name__}: the database did not say its last key")
        for key, obj in enumerate(objs, start=last - len(objs) + 1):
            obj.pk = key
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


def _keys_reserve(connection: BaseDatabaseWrapper, meta: Any, count: int) -> list[int]:
    """`count` keys from the sequence of a PostgreSQL auto-increment key, in order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(meta.db_table), meta.pk.column, count],
        )
        return sorted(int(key) for (key,) in cursor.fetchall())


def values_insert(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows given as `{attname: value}`; the primary key must be given unless the
    database makes it (an auto-increment key) or the field has a default."""
    if not rows:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    made_by_database = _made_by_database(meta, [row.get(meta.pk.attname) for row in rows])
    table = _table(model, connection, made_by_database=made_by_database)
    known = {c.attname for c in table.columns}
    if made_by_database:
        known.add(meta.pk.attname)  # given as None by every row: left to the database
    for row in rows:
        if not known.issuperset(row):
            raise TypeError(f"{model.__name__} has no column {sorted(row.keys() - known)}")
    # Column by column: each column's preparation is applied to all its values at once.
    now = timezone.now()
    values = []
    for column, prepare in zip(table.columns, table.prepares(connection), strict=True):
        name, default = column.attname, column.default
        if column.stamped:
            given = [_stamp(column.field, now)] * len(rows)
        else:
            given = [row[name] if name in row else default() for row in rows]
        values.append(prepare(given))
    _write(alias, table, list(zip(*values, strict=True)))
