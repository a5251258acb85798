"""What a harvest keeps as the baseline of each field (the hash of what it wrote) is
what the catalogue holds, now that the importer makes it from the rows it wrote rather
than reading the services back (issue 24, part 3).

Written before it ran: after harvesting data·inclusion's Lyon export and a generated
HSDS feed, each record's `written_hashes` equals the field hashes of its service read
back from the database, and each shared object's `written_hash` the hash of its
organisation or place read back; a second run finds nothing edited in Tisser and
flags nothing.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from community_catalog.hsds_export import (
    LOCATION_PARTS,
    location_export,
    organization_export,
    service_export,
    services_for_export,
)
from community_catalog.models import Location, Organization, Service, ServiceProvenance
from community_catalog.taxonomy_services import taxonomy_seed
from harvest.models import HarvestedObject, HarvestedRecord, HarvestSource
from harvest.records import field_hashes, object_hash
from harvest.runs import harvest_run
from harvest.sources import source_add

pytestmark = pytest.mark.django_db

DATA_INCLUSION = Path(__file__).resolve().parent / "data_inclusion_lyon"


def _baseline_is_what_is_stored(source: HarvestSource) -> int:
    records = {r.service_id: r for r in HarvestedRecord.objects.filter(source=source)}
    assert records
    for service in services_for_export(Service.objects.filter(id__in=records)):
        assert records[service.id].written_hashes == field_hashes(service_export(service))
    objects = list(HarvestedObject.objects.filter(source=source))
    organizations = {
        o.id: o for o in Organization.objects.filter(id__in=[o.object_id for o in objects])
    }
    places = {
        p.id: p
        for p in Location.objects.filter(id__in=[o.object_id for o in objects]).prefetch_related(
            *LOCATION_PARTS
        )
    }
    for row in objects:
        if row.object_id in organizations:
            stored = organization_export(organizations[row.object_id])
        else:
            stored = location_export(places[row.object_id])
        assert row.written_hash == object_hash(stored), row.kind
    return len(records)


def test_data_inclusion_s_lyon_export() -> None:
    source = source_add(
        name="lyon", url=str(DATA_INCLUSION), kind="data-inclusion", paths_allowed=True
    )
    first = harvest_run(source)
    assert first.created > 5, first.problems
    assert _baseline_is_what_is_stored(source) == first.created
    again = harvest_run(source)
    assert (again.created, again.updated, again.kept_local) == (0, 0, 0)
    assert not HarvestedRecord.objects.exclude(review_fields=[]).exists()


def test_a_generated_hsds_feed(tmp_path: Path) -> None:
    from bench.harvest import feed_documents

    taxonomy_seed()
    documents = feed_documents(120)
    # Two services share each place, as a directory's listing often has them.
    for first, second in zip(documents[::2], documents[1::2], strict=True):
        second["service_at_locations"][0]["location"] = first["service_at_locations"][0]["location"]
    documents[0]["service_at_locations"][0]["location"]["id"] = str(uuid.uuid4())
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(documents))
    source = source_add(name="metropole", url=str(feed), kind="hsds-file", paths_allowed=True)
    run = harvest_run(source)
    assert run.created == 120, run.problems
    assert _baseline_is_what_is_stored(source) == 120
    again = harvest_run(source)
    assert (again.unchanged, again.kept_local) == (120, 0)
    # Every record the source still lists was seen at the second run, written or not.
    seen = set(HarvestedRecord.objects.filter(source=source).values_list("seen_at", flat=True))
    assert len(seen) == 1
    assert seen.pop() >= again.started_at
    fetched = set(ServiceProvenance.objects.values_list("fetched_at", flat=True))
    assert len(fetched) == 1
    documents[5]["name"] = "Renamed at the source"
    feed.write_text(json.dumps(documents))
    third = harvest_run(source)
    assert (third.updated, third.unchanged) == (1, 119)
    assert HarvestedRecord.objects.filter(source=source).values("seen_at").distinct().count() == 1
    assert ServiceProvenance.objects.values("fetched_at").distinct().count() == 1
