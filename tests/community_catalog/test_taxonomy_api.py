"""The taxonomy as data: operators add, relabel, move and deactivate terms and change
which activities answer a need, through the API; matching, intake and the forms follow at
once, and the version moves with each change."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from accounts.keys import api_key_create
from community_catalog.forms import term_choices
from community_catalog.models import Organization, TaxonomyTerm
from community_catalog.services import organization_create, service_create
from events.models import Event
from matching.reasons import explanation_text
from referrals.matching_jobs import referral_match
from referrals.models import Referral
from tests.conftest import ApiClient, referral_body, referral_matched

pytestmark = pytest.mark.django_db

HOME = (45.7300, 4.8600)
KM = 1 / 111.2


@pytest.fixture
def operator() -> ApiClient:
    return ApiClient(api_key_create(name="coordination"))


@pytest.fixture
def organization() -> Organization:
    return organization_create(name="Maison des Habitants")[0]


def _activity(organization: Organization, name: str, codes: list[str], km: float = 1) -> str:
    service = service_create(
        organization=organization,
        document={
            "name": name,
            "assured_date": date.today().isoformat(),
            "taxonomy": codes,
            "service_at_locations": [
                {
                    "location": {
                        "id": str(uuid.uuid4()),
                        "location_type": "physical",
                        "name": f"Salle {name}",
                        "latitude": HOME[0] + km * KM,
                        "longitude": HOME[1],
                    },
                    "schedules": [{"freq": "WEEKLY", "byday": "TU", "opens_at": "14:00"}],
                }
            ],
        },
    )
    return service.name


def _offered(api: ApiClient, **overrides: Any) -> list[str]:
    referral = referral_matched(
        api,
        location={"latitude": HOME[0], "longitude": HOME[1]},
        max_distance_km=5,
        **overrides,
    )
    return [m.service_at_location.service.name for m in referral.matches.order_by("rank")]


def test_the_taxonomy_lists_each_need_with_the_activities_that_answer_it(api: ApiClient) -> None:
    body = api.get("/api/v1/catalog/taxonomy").json()
    needs = {t["code"]: t for t in body["terms"] if t["code"] == "needs"}["needs"]["children"]
    isolation = next(t for t in needs if t["code"] == "isolation")
    assert "talk-group" in isolation["activities"]
    assert isolation["active"] is True
    assert body["version"] == "2026.1"


def test_an_operator_adds_a_kind_of_activity_and_a_need_now_reaches_it(
    operator: ApiClient, api: ApiClient, organization: Organization
) -> None:
    created = operator.post(
        "/api/v1/catalog/taxonomy",
        {
            "code": "choir",
            "kind": "activity",
            "name_fr": "Chorale",
            "name_en": "Choir",
            "parent": "creative",
        },
    )
    assert created.status_code == 201, created.json()
    assert created.json()["code"] == "choir"
    _activity(organization, "Chorale du quartier", ["choir"])
    # creative is under low-mood; a choir, below creative, is reached at once.
    assert _offered(api, needs=["low-mood"]) == ["Chorale du quartier"]
    version = api.get("/api/v1/catalog/taxonomy").json()["version"]
    assert version != "2026.1"
    event = Event.objects.filter(aggregate_type="taxonomy").latest("id")
    assert event.payload == {"change": "term.added", "code": "choir", "fields": ["code"]}


def test_changing_which_activities_answer_a_need_changes_matching_at_once(
    operator: ApiClient, api: ApiClient, organization: Organization
) -> None:
    _activity(organization, "Jardin partagé", ["gardening"])
    assert _offered(api, needs=["caring-burden"]) == []
    changed = operator.patch(
        "/api/v1/catalog/taxonomy/caring-burden",
        {"activities": ["talk-group", "peer-support", "co-development", "gardening"]},
    )
    assert changed.status_code == 200, changed.json()
    assert "gardening" in changed.json()["activities"]
    assert _offered(api, needs=["caring-burden"]) == ["Jardin partagé"]


def test_a_deactivated_code_is_kept_but_no_longer_reached_nor_accepted(
    operator: ApiClient, api: ApiClient, organization: Organization
) -> None:
    _activity(organization, "Parrainage", ["mentoring"])
    assert _offered(api, needs=["new-to-area"]) == ["Parrainage"]
    assert (
        operator.patch("/api/v1/catalog/taxonomy/mentoring", {"active": False}).status_code == 200
    )
    assert _offered(api, needs=["new-to-area"]) == []
    refused = api.post("/api/v1/referrals", referral_body(needs=["mentoring"]))
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == [
        {"field": "needs[0]", "message": "taxonomy code 'mentoring' is no longer in use"}
    ]
    # Still on the service that carries it, and listed as inactive.
    assert TaxonomyTerm.objects.get(code="mentoring").services.count() == 1
    event = Event.objects.filter(aggregate_type="taxonomy").latest("id")
    assert event.payload["change"] == "term.deactivated"
    assert operator.patch("/api/v1/catalog/taxonomy/mentoring", {"active": True}).status_code == 200
    assert _offered(api, needs=["new-to-area"]) == ["Parrainage"]


def test_a_code_in_use_is_never_deleted_and_a_new_mistake_can_be(
    operator: ApiClient, organization: Organization
) -> None:
    refused = operator.delete("/api/v1/catalog/taxonomy/talk-group")
    assert refused.status_code == 409
    assert "deactivate" in refused.json()["error"]["message"]
    operator.post(
        "/api/v1/catalog/taxonomy",
        {"code": "tipo", "kind": "activity", "name_fr": "Tipo", "name_en": "Typo"},
    )
    assert operator.delete("/api/v1/catalog/taxonomy/tipo").status_code == 204
    assert not TaxonomyTerm.objects.filter(code="tipo").exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"code": "Bad Code"}, "code", "String should match pattern"),
        ({"code": "talk-group"}, "code", "already exists"),
        ({"code": "x", "parent": "isolation"}, "parent", "is a need, not a activity"),
        ({"code": "x", "parent": "nowhere"}, "parent", "unknown code 'nowhere'"),
        ({"code": "x", "activities": ["talk-group"]}, "activities", "is not a need"),
        ({"code": "x", "name_fr": ""}, "name_fr", "at least 1 character"),
    ],
)
def test_a_bad_term_is_refused_naming_the_field(
    operator: ApiClient, body: dict[str, Any], field: str, message: str
) -> None:
    full = {"kind": "activity", "name_fr": "Un terme", "name_en": "A term", **body}
    response = operator.post("/api/v1/catalog/taxonomy", full)
    assert response.status_code in (409, 422), response.json()
    problems = response.json()["error"]["fields"]
    assert any(p["field"] == field and message in p["message"] for p in problems), problems


def test_a_term_cannot_be_placed_under_its_own_child(operator: ApiClient) -> None:
    response = operator.patch(
        "/api/v1/catalog/taxonomy/physical-activity", {"parent": "walking-group"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "parent"


def test_a_code_is_never_renamed(operator: ApiClient) -> None:
    response = operator.patch("/api/v1/catalog/taxonomy/talk-group", {"code": "talk"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "code"


def test_only_operators_write_the_taxonomy(api: ApiClient, org_api: ApiClient) -> None:
    body = {"code": "choir", "kind": "activity", "name_fr": "Chorale", "name_en": "Choir"}
    for client in (api, org_api, ApiClient(None)):
        assert client.post("/api/v1/catalog/taxonomy", body).status_code == 401
    assert not TaxonomyTerm.objects.filter(code="choir").exists()


def test_another_process_sees_a_change_within_its_check_interval(
    operator: ApiClient, settings: Any
) -> None:
    from community_catalog import taxonomy

    settings.TISSER_TAXONOMY_CHECK_SECONDS = 0
    kept = taxonomy.taxonomy_current()
    # As another process would: the change is written without this process forgetting.
    TaxonomyTerm.objects.filter(code="volunteering").update(name="Bénévolat solidaire")
    taxonomy.taxonomy_version_bump()
    fresh = taxonomy.taxonomy_current()
    assert fresh.version != kept.version
    assert fresh.terms["volunteering"].name == "Bénévolat solidaire"


def test_nul_characters_are_a_422_or_404_never_a_500(operator: ApiClient) -> None:
    for body in (
        {"code": "x", "kind": "activity", "name_fr": "a\x00", "name_en": "b"},
        {"code": "x", "kind": "activity", "name_fr": "a", "name_en": "b", "parent": "\x00"},
        {"code": "x", "kind": "need", "name_fr": "a", "name_en": "b", "activities": ["\x00"]},
        {"code": "x", "kind": "activity", "name_fr": "a", "name_en": "b", "description": "\x00"},
    ):
        assert operator.post("/api/v1/catalog/taxonomy", body).status_code == 422, body
    assert (
        operator.patch("/api/v1/catalog/taxonomy/iso%00lation", {"active": False}).status_code
        == 404
    )
    assert operator.delete("/api/v1/catalog/taxonomy/iso%00lation").status_code == 404


def test_a_new_term_goes_under_the_top_of_its_kind_and_is_offered(
    operator: ApiClient, api: ApiClient
) -> None:
    operator.post(
        "/api/v1/catalog/taxonomy",
        {
            "code": "housing-stress",
            "kind": "need",
            "name_fr": "Mal-logement",
            "name_en": "Housing stress",
        },
    )
    term = TaxonomyTerm.objects.get(code="housing-stress")
    assert term.parent is not None
    assert term.parent.code == "needs"
    assert "housing-stress" in dict(term_choices("need"))


def test_an_inactive_kind_still_leads_to_the_active_kinds_below_it(
    operator: ApiClient, api: ApiClient, organization: Organization
) -> None:
    _activity(organization, "Marche", ["walking-group"])
    operator.patch("/api/v1/catalog/taxonomy/physical-activity", {"active": False})
    assert _offered(api, needs=["inactivity"]) == ["Marche"]


def test_a_referral_whose_needs_were_all_retired_is_told_so(
    operator: ApiClient, api: ApiClient, organization: Organization
) -> None:
    _activity(organization, "Atelier numérique", ["digital-inclusion"])
    response = api.post(
        "/api/v1/referrals",
        referral_body(
            needs=["digital-exclusion"],
            location={"latitude": HOME[0], "longitude": HOME[1]},
            max_distance_km=5,
        ),
    )
    referral_id = response.json()["id"]
    # Retired after the referral was filed, before it was matched.
    operator.patch("/api/v1/catalog/taxonomy/digital-exclusion", {"active": False})
    event = Event.objects.get(aggregate_id=referral_id, type="referral.submitted")
    referral_match(referral_id=uuid.UUID(referral_id), event_id=event.id)
    explanation = Referral.objects.get(id=referral_id).unmatched_explanation
    assert explanation["code"] == "needs"
    assert "Digital exclusion" in explanation_text(explanation, "en")
    assert "Difficultés numériques" in explanation_text(explanation, "fr")
