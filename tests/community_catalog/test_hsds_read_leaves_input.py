"""Reading a document leaves it as it was, and reading it twice gives the same records
(`_pruned` now hands back what needs no pruning, uncopied; from the review of issue 24
part 3).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from community_catalog.hsds import hsds_read

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[1] / "community_catalog" / "hsds_examples"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_reading_leaves_the_document_alone(name: str) -> None:
    document = json.loads((EXAMPLES / name).read_text())
    before = copy.deepcopy(document)
    read = hsds_read(document)
    assert document == before
    again = hsds_read(document)
    assert [r.model_dump() for _, r in again.records] == [r.model_dump() for _, r in read.records]
