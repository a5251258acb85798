"""`community_catalog.changes.rows_written` hands over the rows of the services an import
created, all of them in the database: an existing service met in the same file whose
update turned out unchanged (its savepoint rolled back) hands over nothing (from the
review of issue 24 part 3, where it did)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from community_catalog.changes import rows_written_now
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Schedule, Service, ServiceAtLocation
from community_catalog.services import organization_create
from events import outbox
from matching.models import MatchPoint
from tests.matching.test_index_from_rows import WEEKLY, _place, _sal, _service

pytestmark = pytest.mark.django_db


def test_rows_written_are_rows_of_created_services_only(monkeypatch: pytest.MonkeyPatch) -> None:
    org, _ = organization_create(name="Ville")
    existing = _service(
        "Permanence",
        _sal(_place("Maison", 45.76, 4.83), schedules=[{"id": str(uuid.uuid4()), **WEEKLY}]),
        schedules=[{"id": str(uuid.uuid4()), **WEEKLY}],
    )
    assert hsds_import(hsds_read([existing]), organization=org).created == 1
    seen: list[Any] = []
    monkeypatch.setattr(
        outbox,
        "_recorded_hooks",
        [*outbox._recorded_hooks, lambda _e: seen.append(rows_written_now())],
    )
    new = _service("Atelier", _sal(_place("Jardin", 45.75, 4.84)))
    report = hsds_import(hsds_read([existing, new]), organization=org)
    assert report.unchanged == 1
    assert report.created == 1
    (written,) = seen
    created = {r["id"] for r in written.rows[Service]}
    assert created == {uuid.UUID(new["id"])}
    for model in (Schedule, ServiceAtLocation):
        for row in written.rows[model]:
            assert model.objects.filter(id=row["id"]).exists(), (model.__name__, row)


def test_the_rows_are_grouped_once_for_every_chunk_of_the_refresh(
    monkeypatch: pytest.MonkeyPatch, reads: set[uuid.UUID]
) -> None:
    """The index is refreshed in chunks of ids; grouping the rows for each chunk would
    grow with the square of the file (found in review)."""
    import matching.index

    monkeypatch.setattr(matching.index, "_CHUNK", 2)
    grouped: list[Any] = []
    original = matching.index._Written._group

    def counted(rows: Any) -> Any:
        grouped.append(rows)
        return original(rows)

    monkeypatch.setattr(matching.index._Written, "_group", counted)
    org, _ = organization_create(name="Ville")
    document = [_service(f"Atelier {i}", _sal(_place(f"Lieu {i}", 45.7, 4.8))) for i in range(7)]

    report = hsds_import(hsds_read(document), organization=org)

    assert report.created == 7
    assert len(grouped) == 1
    assert not reads
    assert MatchPoint.objects.count() == 7
