"""The Grenoble directory's reported defects, and the offer horizon: tests that import
the directory themselves (the others share one import per way: test_real_directory.py,
whose docstring describes the fixture)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from community_catalog.hsds import hsds_read
from tests.community_catalog.test_real_directory import (
    ANTI_GASPI,
    BINOMES_BERRIAT,
    CAUSERIE,
    JARDIN,
    MARCHE_ETE,
    MARCHE_PRINTEMPS,
    TAXONOMY,
    TRICOT,
    crosswalk,
    directory,
    directory_text,
    import_by_cli,
    refer,
)
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


# --- The fixture itself ---------------------------------------------------------------


def test_the_directory_is_valid_hsds_as_tisser_reads_it() -> None:
    document = directory()
    read = hsds_read(document)
    assert read.errors == []
    assert len(read.records) == 17
    assert "{{" not in directory_text()
    for service in document["contents"]:
        uuid.UUID(service["id"])
        assert not service.get("cost_options"), service["name"]
        for attribute in service["attributes"]:
            assert attribute["taxonomy_term"]["taxonomy"] == TAXONOMY


# --- The three reported defects, first --------------------------------------------------


def test_defect_a_gratuit_text_without_cost_options_is_free(api: ApiClient, tmp_path: Path) -> None:
    """Reported: a `fees_description: "Gratuit"` service without cost options was
    treated as paid, so a person asking free activities only got nothing."""
    import_by_cli(tmp_path)

    outcome = refer(api, "P1 Saint-Bruno, isolated, free only")

    assert CAUSERIE in outcome.names, outcome.unmatched
    assert TRICOT not in outcome.names


def test_defect_an_ended_summer_walking_group_is_not_offered(
    api: ApiClient, tmp_path: Path
) -> None:
    """Reported: a summer walking group whose only schedule ended months ago was still
    offered."""
    import_by_cli(tmp_path)

    outcome = refer(api, "P2 Fontaine, inactive, near only ended walks")

    assert MARCHE_ETE not in outcome.names
    assert outcome.names == []
    assert outcome.unmatched is not None
    assert outcome.unmatched["code"] == "schedule"


def test_defect_a_foreign_term_is_kept_and_a_crosswalk_makes_it_matchable(
    api: ApiClient, tmp_path: Path
) -> None:
    """Reported: the foreign `binomes-entraide` term was dropped on import, so the only
    peer-support activities in the directory could never be matched, even after a
    crosswalk."""
    import_by_cli(tmp_path)

    crosswalk("add", TAXONOMY, "binomes-entraide", "peer-support")
    outcome = refer(api, "P3 Berriat, wants peer support")

    assert outcome.names == [BINOMES_BERRIAT]


def test_the_horizon_is_a_setting(api: ApiClient, tmp_path: Path, settings: Any) -> None:
    settings.TISSER_OFFER_HORIZON_DAYS = 90
    import_by_cli(tmp_path)

    garden = refer(api, "P4 Île Verte, food insecurity")
    walks = refer(api, "P2 Fontaine, inactive, near only ended walks")

    assert set(garden.names) == {JARDIN, ANTI_GASPI}
    # Ended, or never again, whatever the horizon.
    assert walks.names == [MARCHE_PRINTEMPS]


def test_a_short_horizon_leaves_the_garden_out(
    api: ApiClient, tmp_path: Path, settings: Any
) -> None:
    settings.TISSER_OFFER_HORIZON_DAYS = 10
    import_by_cli(tmp_path)

    outcome = refer(api, "P4 Île Verte, food insecurity")

    assert outcome.names == []
    assert outcome.unmatched is not None
    assert outcome.unmatched["code"] == "schedule"
