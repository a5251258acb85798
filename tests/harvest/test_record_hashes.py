"""A record's hashes made from its fields' texts (`RecordHashes`, issue 24 part 3) are
the hashes `content_hash` and `field_hashes` give, on records in the style of several
directories: stored hashes stay valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvest.records import RecordHashes, content_hash, field_hashes

EXAMPLES = Path(__file__).resolve().parents[1] / "community_catalog" / "hsds_examples"

_text = st.text(max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=20,
)


def _same(document: dict[str, Any]) -> None:
    hashes = RecordHashes(document)
    assert hashes.content_hash() == content_hash(document)
    assert hashes.field_hashes() == field_hashes(document)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "name", "é", "z", "a b", "status"]) | _text, _json))
def test_any_record(document: dict[str, Any]) -> None:
    _same(document)


def test_places_are_hashed_by_id() -> None:
    _same(
        {
            "id": "1",
            "name": "Atelier",
            "service_at_locations": [{"id": "s", "location": {"id": "l", "name": "Salle"}}],
            "organization": {"id": "o", "name": "Asso"},
        }
    )


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_the_official_examples(name: str) -> None:
    document = json.loads((EXAMPLES / name).read_text())
    for record in document.get("contents", [document]) if isinstance(document, dict) else document:
        if isinstance(record, dict):
            _same(record)
