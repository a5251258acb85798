"""Wellbeing on the web pages: asked on the referral form where the centre records it,
again after a completed activity, by the clinician or the organisation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.keys import health_center_create
from accounts.models import HealthCenter
from community_catalog.services import organization_create
from referrals.models import Placement, Referral, WellbeingMeasure
from tests.conftest import ApiClient, organization_key, referral_matched
from tests.web.test_accounts import create_user, labelled, signed_in
from tests.web.test_center_pages import form_answers

pytestmark = pytest.mark.django_db

SCORES = {"life_satisfaction": "5", "worthwhile": "6", "happiness": "4", "anxiety": "7"}


@pytest.fixture
def clinician(catalog: int, media: Any) -> tuple[Client, ApiClient, HealthCenter]:
    center, key = health_center_create(name="Maison de santé Gerland")
    HealthCenter.objects.filter(id=center.id).update(records_wellbeing=True)
    client = signed_in("c.martin", create_user("c.martin", "--center", center.name))
    return client, ApiClient(key), center


def _complete(placement: Placement) -> None:
    org = organization_key(placement.organization)
    for action in ("accept", "start", "complete"):
        assert org.post(f"/api/v1/inbox/placements/{placement.id}/{action}", {}).status_code == 200


def test_the_form_asks_the_four_questions_only_where_the_centre_records_them(
    clinician: tuple[Client, ApiClient, HealthCenter],
) -> None:
    client, _api, center = clinician
    html = client.get("/app/referrals/new/").content.decode()
    labelled(html)
    assert "Dans l'ensemble, à quel point vous êtes-vous senti·e heureux·se hier" in html.replace(
        "&#x27;", "'"
    )
    partial = client.post("/app/referrals/new/", form_answers(life_satisfaction="5"))
    assert partial.status_code == 422
    assert "Répondez aux quatre questions" in partial.content.decode()
    assert Referral.objects.count() == 0

    assert client.post("/app/referrals/new/", form_answers(**SCORES)).status_code == 302
    measure = WellbeingMeasure.objects.get()
    assert (measure.timepoint, measure.life_satisfaction, measure.anxiety) == ("baseline", 5, 7)

    # Left empty: filed without answers.
    assert client.post("/app/referrals/new/", form_answers()).status_code == 302
    assert Referral.objects.count() == 2
    assert WellbeingMeasure.objects.count() == 1

    HealthCenter.objects.filter(id=center.id).update(records_wellbeing=False)
    assert "heureux" not in client.get("/app/referrals/new/").content.decode()


def test_the_clinician_records_the_answers_after_a_completed_activity(
    clinician: tuple[Client, ApiClient, HealthCenter],
) -> None:
    client, api, _center = clinician
    referral = referral_matched(api)
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    page = f"/app/referrals/{referral.id}/"
    assert "Comment la personne se sent après" not in client.get(page).content.decode()
    _complete(placement)
    html = client.get(page).content.decode()
    assert "Comment la personne se sent après" in html
    labelled(html)
    url = f"/app/referrals/{referral.id}/wellbeing/{placement.id}/"
    prefixed = {f"{placement.id}-{k}": v for k, v in SCORES.items()}
    missing = client.post(url, {k: v for k, v in prefixed.items() if not k.endswith("anxiety")})
    assert missing.status_code == 422
    assert WellbeingMeasure.objects.count() == 0
    assert client.post(url, prefixed).status_code == 302
    measure = WellbeingMeasure.objects.get()
    assert (measure.timepoint, measure.placement_id, measure.recorded_by) == (
        "follow_up",
        placement.id,
        "health_center",
    )
    assert "Comment la personne se sent après" not in client.get(page).content.decode()


def test_the_organisation_records_them_once_and_never_sees_them(
    clinician: tuple[Client, ApiClient, HealthCenter],
) -> None:
    _client, api, _center = clinician
    referral = referral_matched(api)
    placement = referral.placements.order_by("match__rank").first()
    assert placement is not None
    _complete(placement)
    member = signed_in("o.rey", create_user("o.rey", "--org", placement.organization.name))
    inbox = member.get("/app/inbox/?show=all").content.decode()
    assert "Comment la personne se sent-elle maintenant" in inbox
    url = f"/app/inbox/{placement.id}/wellbeing/"
    answers = {f"wb-{placement.id}-{k}": v for k, v in SCORES.items()}
    card = member.post(url, answers, headers={"HX-Request": "true"})
    assert card.status_code == 200
    assert "Les réponses sont enregistrées" in card.content.decode()
    assert "Comment la personne se sent-elle maintenant" not in card.content.decode()
    measure = WellbeingMeasure.objects.get()
    assert measure.recorded_by == "organization"
    # Sent again (another tab): refused, nothing added; the scores never show.
    again = member.post(url, answers)
    assert again.status_code == 302
    assert WellbeingMeasure.objects.count() == 1
    after = member.get("/app/inbox/?show=all").content.decode()
    assert "déjà enregistrées" in after
    # Another organisation cannot.
    organization_create(name="Association Rivale")
    rival = signed_in("r.x", create_user("r.x", "--org", "Association Rivale"))
    assert rival.post(url, answers).status_code in (403, 404)
