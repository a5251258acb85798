"""Crosswalk changes racing imports and each other end in an index that reads the terms
as the crosswalks say. On PostgreSQL the writers really overlap (the term's row is held
by each in turn); on SQLite they queue on the database's write lock."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from community_catalog.crosswalks import CrosswalkIn, crosswalk_set
from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.models import Crosswalk, Organization, Service
from community_catalog.service_codes import service_codes
from community_catalog.services import organization_create
from community_catalog.taxonomy_services import taxonomy_seed
from matching.models import MatchPoint
from tests.community_catalog.directory import CITY, directory_service, directory_term
from tests.referrals.test_races import _together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _taxonomy() -> None:
    # A transactional test's database is emptied after each test, the seeded taxonomy
    # with it.
    taxonomy_seed()


def _document(organization: Organization) -> dict[str, Any]:
    return directory_service(
        organization, directory_term("binomes", "Binômes d'entraide"), name="Binômes"
    )


@pytest.mark.parametrize("attempt", range(3))
def test_a_crosswalk_racing_an_import_of_its_term_is_never_missed(attempt: int) -> None:
    organization = organization_create(name=f"Maison {attempt}")[0]
    document = _document(organization)
    _together(
        lambda: hsds_import(hsds_read([document]), organization=organization),
        lambda: crosswalk_set(CrosswalkIn(CITY, "binomes", ("peer-support",))),
    )
    service = Service.objects.get(id=document["id"])
    point = MatchPoint.objects.get(service_key=str(service.id))
    truth = service_codes([service.id])[service.id]
    assert truth.codes == ("peer-support",)
    assert (point.codes, point.unmapped) == (",peer-support,", False)


def test_two_operators_mapping_the_same_new_term_both_succeed() -> None:
    results = _together(
        lambda: crosswalk_set(CrosswalkIn(CITY, "cafe", ("talk-group",))),
        lambda: crosswalk_set(CrosswalkIn(CITY, "cafe", ("talk-group", "isolation"))),
    )
    assert {r.outcome for r in results} <= {"created", "updated"}
    assert Crosswalk.objects.filter(taxonomy=CITY, code="cafe").count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_taxonomy_changes_racing_each_other_never_deadlock(attempt: int) -> None:
    """A crosswalk to a code, that code relabelled, a new code, and another crosswalk,
    all at once: each waits its turn (the taxonomy's version row first), none fails."""
    from community_catalog.taxonomy_services import TermIn, term_create, term_update

    results = _together(
        lambda: crosswalk_set(CrosswalkIn(CITY, "binomes", ("peer-support",))),
        lambda: term_update(code="peer-support", data=TermIn(name=f"Binôme {attempt}")),
        lambda: term_create(
            code=f"choir-{attempt}", kind="activity", data=TermIn(name="Chorale", name_en="Choir")
        ),
        lambda: crosswalk_set(CrosswalkIn(CITY, "cafe", ("talk-group", "peer-support"))),
    )
    assert all(result is not None for result in results), results


@pytest.mark.parametrize("attempt", range(3))
def test_a_new_code_racing_an_import_of_the_same_code_is_read_either_way(attempt: int) -> None:
    from community_catalog.taxonomy_services import TermIn, term_create

    organization = organization_create(name=f"Jardins {attempt}")[0]
    document = _document(organization)
    document["attributes"][0]["taxonomy_term"]["code"] = "Jardins-Partages"
    _together(
        lambda: hsds_import(hsds_read([document]), organization=organization),
        lambda: term_create(
            code="jardins-partages",
            kind="activity",
            data=TermIn(name="Jardins partagés", name_en="Shared gardens", parent="gardening"),
        ),
    )
    service = Service.objects.get(id=document["id"])
    point = MatchPoint.objects.get(service_key=str(service.id))
    assert (point.codes, point.unmapped) == (",jardins-partages,", False)


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="PostgreSQL's row lock; SQLite has one writer at a time, its own lock",
)
def test_an_import_holds_the_taxonomy_even_before_its_first_change() -> None:
    """Reported by CI (the race above failed once in three on PostgreSQL): an import
    holds the taxonomy with FOR SHARE on its version row, and a change waits for it.
    But the row is made by the first change, and FOR SHARE of no row holds nothing: on a
    database whose taxonomy had never changed (each transactional test's), a new code
    and an import ran side by side, each missing the other's half. The read lock now
    makes the row first."""
    from django.db import transaction

    from community_catalog.models import TaxonomyVersion
    from community_catalog.taxonomy import taxonomy_read_lock

    TaxonomyVersion.objects.all().delete()
    with transaction.atomic():
        taxonomy_read_lock()
        held = TaxonomyVersion.objects.select_for_update(nowait=True, of=("self",))
        assert held.filter(pk=1).exists()  # the row is there, and this transaction holds it
