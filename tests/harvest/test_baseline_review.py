"""A harvest whose baseline (made from the rows written) were not what reading back
gives would take an untouched field or place for an edit made in Tisser at its next
run (from the review of issue 24, part 3: phones sharing an id at the source, a place
at -0.0; and a source removed and added again, its records inserted anew)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from community_catalog.models import Location
from harvest.models import HarvestedRecord
from harvest.runs import harvest_run
from harvest.sources import source_add

pytestmark = pytest.mark.django_db


def _feed(tmp_path: Path, documents: list[dict[str, Any]]) -> str:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(documents))
    return str(feed)


def _service(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"svc-{i}",
        "name": f"Permanence {i}",
        "status": "active",
        "organization": {"id": "asso", "name": "Centre social", "description": ""},
        **extra,
    }


def test_phones_sharing_an_id_at_the_source(tmp_path: Path) -> None:
    # A directory that numbers phones per kind: "accueil" for each reception line.
    phones = [
        {"id": "accueil" if i % 3 == 0 else f"p{i}", "number": f"04 78 00 00 {i:02d}"}
        for i in range(40)
    ]
    documents = [_service(i, phones=phones) for i in range(40)]
    source = source_add(
        name="annuaire", url=_feed(tmp_path, documents), kind="hsds-file", paths_allowed=True
    )
    assert harvest_run(source).created == 40
    # The source changes one phone number of every service.
    for d in documents:
        d["phones"] = [dict(p) for p in d["phones"]]
        d["phones"][1]["number"] = "04 78 99 99 99"
    _feed(tmp_path, documents)
    second = harvest_run(source)
    assert (second.updated, second.kept_local) == (40, 0)
    assert not HarvestedRecord.objects.exclude(review_fields=[]).exists()


def test_a_place_at_minus_zero(tmp_path: Path) -> None:
    place = {
        "id": "mairie",
        "name": "Mairie annexe",
        "location_type": "physical",
        "latitude": -0.0,
        "longitude": -0.0,
    }
    documents = [_service(1, service_at_locations=[{"id": "s1", "location": place}])]
    source = source_add(
        name="annuaire", url=_feed(tmp_path, documents), kind="hsds-file", paths_allowed=True
    )
    assert harvest_run(source).created == 1
    place["name"] = "Mairie annexe du 8e"
    _feed(tmp_path, documents)
    second = harvest_run(source)
    assert second.updated == 1, second.problems
    assert Location.objects.get().name == "Mairie annexe du 8e"


def test_phones_rows_vs_read_back_in_harvest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import community_catalog.hsds_writer as w
    from community_catalog.hsds_export import service_export, services_for_export
    from community_catalog.models import Service
    from harvest.records import field_hashes

    made: list[Any] = []
    real = w.exports_from_rows

    def spy(rows: Any, ids: Any, **kw: Any) -> Any:
        out = real(rows, list(ids), **kw)
        made.append(len(out))
        return out

    monkeypatch.setattr(w, "exports_from_rows", spy)
    phones = [
        {"id": "accueil" if i % 3 == 0 else f"p{i}", "number": f"04 78 00 00 {i:02d}"}
        for i in range(40)
    ]
    documents = [_service(i, phones=phones) for i in range(40)]
    source = source_add(
        name="annuaire", url=_feed(tmp_path, documents), kind="hsds-file", paths_allowed=True
    )
    assert harvest_run(source).created == 40
    assert made == [40]
    records = {r.service_id: r for r in HarvestedRecord.objects.all()}
    bad = [
        s.id
        for s in services_for_export(Service.objects.all())
        if field_hashes(service_export(s))["phones"] != records[s.id].written_hashes["phones"]
    ]
    assert bad == []


def test_batches_and_a_source_added_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harvest.runs as runs
    from harvest.models import HarvestedObject
    from harvest.sources import source_remove

    monkeypatch.setattr(runs, "BATCH", 3)
    place = {
        "id": "mairie",
        "name": "Mairie",
        "location_type": "physical",
        "latitude": 45.7,
        "longitude": 4.8,
    }
    documents = [
        _service(i, service_at_locations=[{"id": f"s{i}", "location": place}]) for i in range(10)
    ]
    url = _feed(tmp_path, documents)
    source = source_add(name="annuaire", url=url, kind="hsds-file", paths_allowed=True)
    first = harvest_run(source)
    assert first.created == 10, first.problems
    assert HarvestedObject.objects.count() == 2
    source_remove("annuaire")
    source = source_add(name="annuaire", url=url, kind="hsds-file", paths_allowed=True)
    again = harvest_run(source)
    assert (again.created, again.unchanged + again.updated, again.status) == (0, 10, "succeeded"), (
        again.problems
    )
    assert HarvestedRecord.objects.count() == 10
