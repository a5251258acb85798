from __future__ import annotations

import uuid
from typing import Any

import pytest

import matching.index
from community_catalog.models import Organization
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed


@pytest.fixture
def orgs(db: None) -> list[Organization]:
    """Four organisations, so that matching's one-per-organisation rule stays out of the
    way."""
    taxonomy_seed()
    return [organization_create(name=f"Association {i}")[0] for i in range(4)]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> set[uuid.UUID]:
    """The services whose rows the index read back from the tables."""
    read: set[uuid.UUID] = set()
    original = matching.index._read

    def recorded(service_ids: list[uuid.UUID]) -> Any:
        read.update(service_ids)
        return original(service_ids)

    monkeypatch.setattr(matching.index, "_read", recorded)
    return read
