"""Keys the database makes, read back by `rows_insert` on a table whose insert fires a
trigger, and on PostgreSQL from a serial column as well as an identity one (from the
review of issue 24 part 3).
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from core.bulk import rows_insert
from events.models import Event

pytestmark = pytest.mark.django_db


def _events(n: int) -> list[Event]:
    return [
        Event(type="service.updated", aggregate_type="service", aggregate_id=uuid.UUID(int=i + 1))
        for i in range(n)
    ]


def _check(events: list[Event]) -> None:
    stored = dict(
        Event.objects.filter(pk__in=[e.pk for e in events]).values_list("pk", "aggregate_id")
    )
    assert stored == {e.pk: e.aggregate_id for e in events}


def test_sqlite_trigger_inserting_elsewhere() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("a SQLite trigger: the PostgreSQL pass tests its serial column below")
    with connection.cursor() as c:
        c.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ev INTEGER)")
        c.execute("INSERT INTO audit (ev) VALUES (0)")
        c.execute("INSERT INTO audit (ev) VALUES (0)")
        c.execute(
            "CREATE TRIGGER t AFTER INSERT ON referrals_event"
            " BEGIN INSERT INTO audit (ev) VALUES (NEW.id); END"
        )
    Event.objects.create(type="x", aggregate_type="service", aggregate_id=uuid.uuid4())
    events = _events(150)
    rows_insert(Event, events)
    _check(events)


def test_postgresql_serial_not_identity() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL sequence: the SQLite pass tests its trigger above")
    with connection.cursor() as c:
        c.execute("ALTER TABLE referrals_event ALTER COLUMN id DROP IDENTITY")
        c.execute("CREATE SEQUENCE ev_id_seq2 OWNED BY referrals_event.id")
        c.execute("SELECT setval('ev_id_seq2', 1000)")
        c.execute("ALTER TABLE referrals_event ALTER COLUMN id SET DEFAULT nextval('ev_id_seq2')")
    events = _events(150)
    rows_insert(Event, events)
    assert events[0].pk == 1001
    _check(events)
