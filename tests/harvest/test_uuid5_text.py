"""`core.names.uuid5_text` is `str(uuid.uuid5(...))`: the ids a harvest gives a source's
records, and an export its attributes, stay what they were (issue 24, part 3)."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from core.names import uuid5_text


@settings(max_examples=500, deadline=None)
@given(st.uuids(), st.text())
def test_the_same_as_the_standard_library(namespace: uuid.UUID, name: str) -> None:
    assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name))


def test_a_known_value() -> None:
    # RFC 4122's DNS namespace and python.org, as the standard library's documentation.
    assert uuid5_text(uuid.NAMESPACE_DNS, "python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d"
