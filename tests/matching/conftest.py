from __future__ import annotations

import pytest

from community_catalog.models import Organization
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed


@pytest.fixture
def orgs(db: None) -> list[Organization]:
    """Four organisations, so that matching's one-per-organisation rule stays out of the
    way."""
    taxonomy_seed()
    return [organization_create(name=f"Association {i}")[0] for i in range(4)]
