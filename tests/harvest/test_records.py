"""Ids in a source's namespace (harvest.records): the same record always gets the same
ids, two sources never share one, and a taxonomy stays the same taxonomy."""

from __future__ import annotations

import uuid

from harvest.records import namespaced, source_namespace

TAXONOMY = "6a3b2e34-25b1-4b0a-9a9e-0d1f1d3c7a10"
RECORD = {
    "id": "42",
    "organization": {"id": "asso-7", "name": "Asso"},
    "attributes": [{"taxonomy_term": {"id": "t-1", "code": "x", "taxonomy_id": TAXONOMY}}],
    "service_at_locations": [{"location": {"name": "Salle"}}],
}


def test_the_same_record_gets_the_same_ids_and_two_sources_never_share_one() -> None:
    a, b = source_namespace("metropole"), source_namespace("departement")

    first, again, other = (namespaced(RECORD, ns, path="42") for ns in (a, a, b))

    assert first == again
    assert first["id"] == str(uuid.uuid5(a, "42")) != other["id"]
    assert first["organization"]["id"] != other["organization"]["id"]
    # A nested object without an id gets one from its place in the record.
    sal = first["service_at_locations"][0]
    assert uuid.UUID(sal["id"])
    assert uuid.UUID(sal["location"]["id"])
    assert sal["location"]["id"] != other["service_at_locations"][0]["location"]["id"]


def test_a_taxonomy_named_by_uuid_is_the_same_from_every_source() -> None:
    a, b = source_namespace("metropole"), source_namespace("departement")

    terms = [namespaced(RECORD, ns)["attributes"][0]["taxonomy_term"] for ns in (a, b)]

    assert [t["taxonomy_id"] for t in terms] == [TAXONOMY, TAXONOMY]
    assert terms[0]["id"] != terms[1]["id"]  # the term rows stay each source's own
    named = namespaced({"taxonomy_id": "openeligibility"}, a)
    assert uuid.UUID(named["taxonomy_id"])  # not a UUID: made one, within the source


def test_a_base_url_with_a_query_keeps_it_below_each_path() -> None:
    from harvest.feeds import _url

    assert _url("https://x.org/api?key=k1", "/services", page=2) == (
        "https://x.org/api/services?key=k1&page=2"
    )
    assert _url("https://x.org/api/", "/services") == "https://x.org/api/services"
