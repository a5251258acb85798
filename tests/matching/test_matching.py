"""Matching: each hard filter, each soft part, diversity, determinism, reasons, the
unmatched explanation, and the index kept current by the catalogue's own writes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community_catalog.models import Organization, Service
from community_catalog.services import organization_create, service_create
from matching.candidates import CandidateRow
from matching.reasons import explanation_text, reason_text
from matching.scoring import Person, Window, candidate_score, choose, match
from referrals.models import Referral
from tests.conftest import ApiClient, organization_key, referral_body, referral_matched

# A quiet spot in Lyon, far from the demo catalogue's places.
HOME = (45.7300, 4.8600)
KM = 1 / 111.2  # one kilometre north, in degrees of latitude


def _service(
    organization: Organization,
    name: str,
    *,
    km: float = 1.0,
    codes: tuple[str, ...] = ("talk-group",),
    **fields: Any,
) -> Service:
    """An activity `km` north of HOME, written through the HSDS importer (as an
    organisation would), so the matching index is kept current the normal way."""
    schedule = fields.pop("schedule", {"freq": "WEEKLY", "byday": "TU", "opens_at": "14:00"})
    capacity = fields.pop("capacity", None)
    accessibility = fields.pop("accessibility", [])
    document: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": name,
        "status": "active",
        "assured_date": date.today().isoformat(),
        "cost_options": [{"id": str(uuid.uuid4()), "amount": 0, "currency": "EUR"}],
        "taxonomy": list(codes),
        "service_at_locations": [
            {
                "id": str(uuid.uuid4()),
                "location": {
                    "id": str(uuid.uuid4()),
                    "name": f"Salle {name}",
                    "location_type": "physical",
                    "latitude": HOME[0] + km * KM,
                    "longitude": HOME[1],
                    "accessibility": [
                        {"id": str(uuid.uuid4()), "description": text} for text in accessibility
                    ],
                },
                "schedules": [{"id": str(uuid.uuid4()), **schedule}] if schedule else [],
                **({"capacity": capacity} if capacity else {}),
            }
        ],
        **fields,
    }
    return service_create(organization=organization, document=document)


def _referral(api: ApiClient, **overrides: Any) -> Referral:
    body: dict[str, Any] = {
        "location": {"latitude": HOME[0], "longitude": HOME[1]},
        "needs": ["talk-group"],
        "max_distance_km": 5,
        **overrides,
    }
    return referral_matched(api, **body)


def _names(referral: Referral) -> list[str]:
    return [
        m.service_at_location.service.name
        for m in referral.matches.select_related("service_at_location__service").order_by("rank")
    ]


# --- Hard filters --------------------------------------------------------------------


def test_a_need_reaches_its_activity_kinds_through_the_tree(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(orgs[0], "Marche du mardi", codes=("walking-group",))
    _service(orgs[1], "Atelier tricot", codes=("creative",))
    # inactivity → physical activity → walking group (a child in the tree)
    assert _names(_referral(api, needs=["inactivity"])) == ["Marche du mardi"]
    # isolation → talk groups, creative activities, walking groups…
    assert set(_names(_referral(api, needs=["isolation"]))) == {
        "Marche du mardi",
        "Atelier tricot",
    }
    # digital exclusion reaches neither
    assert _names(_referral(api, needs=["digital-exclusion"])) == []


@pytest.mark.parametrize(
    ("fields", "person"),
    [
        ({"status": "inactive"}, {}),
        ({"status": "temporarily closed"}, {}),
        ({"minimum_age": 60}, {"year_of_birth": 1990}),
        ({"maximum_age": 25}, {"year_of_birth": 1950}),
        ({"km": 6}, {}),
        (
            {"languages": [{"id": str(uuid.uuid4()), "code": "fr", "name": "French"}]},
            {"preferred_language": "en"},
        ),
        ({"capacity": {"status": "no-capacity"}}, {}),
        (
            {"cost_options": [{"id": str(uuid.uuid4()), "amount": 5, "currency": "EUR"}]},
            {"free_only": True},
        ),
    ],
    ids=["inactive", "closed", "too-young", "too-old", "too-far", "language", "full", "paid"],
)
def test_each_hard_filter_excludes(
    api: ApiClient, orgs: list[Organization], fields: dict[str, Any], person: dict[str, Any]
) -> None:
    fields = dict(fields)
    km = fields.pop("km", 1.0)
    _service(orgs[0], "Excluded", km=km, **fields)
    _service(
        orgs[1],
        "Control",
        km=2.0,
        languages=[
            {"id": str(uuid.uuid4()), "code": "fr"},
            {"id": str(uuid.uuid4()), "code": "en"},
        ],
    )

    assert _names(_referral(api, **person)) == ["Control"]


def test_interpretation_lets_another_language_through(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(
        orgs[0],
        "Interprété",
        languages=[{"id": str(uuid.uuid4()), "code": "fr", "name": "French"}],
        interpretation_services="Interprète sur demande",
    )
    referral = _referral(api, preferred_language="en")
    assert _names(referral) == ["Interprété"]
    reasons = [r["code"] for r in referral.matches.get().reasons]
    assert "language" in reasons
    language = next(r for r in referral.matches.get().reasons if r["code"] == "language")
    assert language == {"code": "language", "params": {}}
    assert reason_text(language, "en") == "Interpreting available"


def test_never_the_same_service_twice(api: ApiClient, orgs: list[Organization]) -> None:
    first = _service(orgs[0], "Premier")
    _service(orgs[1], "Second", km=2)
    referral = _referral(api)
    chosen = match(referral, exclude_services=[first.id])
    assert [c.row.service_name for c in chosen] == ["Second"]


def test_the_index_follows_the_catalogue(api: ApiClient, orgs: list[Organization]) -> None:
    service = _service(orgs[0], "Bientôt complet")
    org = organization_key(orgs[0])
    sal = service.service_at_locations.get()
    assert _names(_referral(api)) == ["Bientôt complet"]

    full = org.patch(
        f"/api/v1/organization/service-at-locations/{sal.id}/capacity", {"available": 0}
    )
    assert full.status_code == 200
    assert _names(_referral(api)) == []
    org.patch(f"/api/v1/organization/service-at-locations/{sal.id}/capacity", {"available": 4})
    assert _names(_referral(api)) == ["Bientôt complet"]
    closed = org.post(f"/api/v1/organization/services/{service.id}/close", {})
    assert closed.status_code == 200, closed.json()
    assert _names(_referral(api)) == []


# --- Soft parts, choice, reasons -----------------------------------------------------


def test_each_soft_part_moves_the_ranking_the_right_way(
    api: ApiClient, orgs: list[Organization]
) -> None:
    base: dict[str, Any] = {"km": 1.0}
    variants: dict[str, dict[str, Any]] = {
        "far": {"km": 3.0},
        "paid": {"cost_options": [{"id": str(uuid.uuid4()), "amount": 5, "currency": "EUR"}]},
        "stale": {"assured_date": (date.today() - timedelta(days=400)).isoformat()},
        "waitlist": {"capacity": {"status": "waitlist"}},
        "no-step-free": {"accessibility": []},
        "friday": {"schedule": {"freq": "WEEKLY", "byday": "FR", "opens_at": "14:00"}},
    }
    for i, (name, fields) in enumerate(variants.items()):
        org = organization_create(name=f"Rivale {i}")[0]
        _service(org, f"Good {name}", accessibility=["Accès de plain-pied"], **base)
        _service(
            org, f"Worse {name}", **{"accessibility": ["Accès de plain-pied"], **base, **fields}
        )

    referral = _referral(
        api,
        accessibility_needs=["step-free"],
        availability=[{"weekday": "TU", "start": "13:00", "end": "18:00"}],
        matches_wanted=5,
    )
    chosen = match(referral, count=12)
    order = [c.row.service_name for c in chosen]
    for name in variants:
        assert order.index(f"Good {name}") < order.index(f"Worse {name}"), (name, order)


def test_diversity_one_per_organisation_unless_fewer(
    api: ApiClient, orgs: list[Organization]
) -> None:
    for i in range(3):
        _service(orgs[0], f"Proche {i}", km=0.5 + i * 0.1)
    _service(orgs[1], "Plus loin", km=3)
    _service(orgs[2], "Encore plus loin", km=4)

    assert _names(_referral(api)) == ["Proche 0", "Plus loin", "Encore plus loin"]
    # Only one organisation nearby: its activities fill the list.
    assert _names(_referral(api, max_distance_km=2)) == ["Proche 0", "Proche 1", "Proche 2"]


def test_matches_wanted_up_to_five(api: ApiClient, orgs: list[Organization]) -> None:
    for i in range(6):
        _service(organization_create(name=f"Asso {i}")[0], f"Groupe {i}", km=0.5 + i * 0.3)
    assert len(_names(_referral(api, matches_wanted=5))) == 5
    too_many = api.post(
        "/api/v1/referrals",
        {**_body(), "matches_wanted": 6},
    )
    assert too_many.status_code == 422
    assert too_many.json()["error"]["fields"][0]["field"] == "matches_wanted"


def _body() -> dict[str, Any]:

    return referral_body(location={"latitude": HOME[0], "longitude": HOME[1]})


def test_same_input_same_output_and_documented_ties(
    api: ApiClient, orgs: list[Organization]
) -> None:
    # Two activities that score the same: nearer first, then by name.
    _service(orgs[0], "Bêta", km=1.0)
    _service(orgs[1], "Alpha", km=1.0)
    _service(orgs[2], "Gamma", km=0.999)
    referral = _referral(api)
    first = [(c.row.id, c.total) for c in match(referral)]
    for _ in range(3):
        assert [(c.row.id, c.total) for c in match(referral)] == first
    assert _names(referral) == ["Gamma", "Alpha", "Bêta"]


def test_reasons_in_french_and_english(api: ApiClient, orgs: list[Organization]) -> None:
    _service(orgs[0], "Causerie", accessibility=["Accès de plain-pied, ascenseur"])
    referral = _referral(
        api,
        accessibility_needs=["step-free"],
        availability=[{"weekday": "TU", "start": "13:00", "end": "18:00"}],
    )
    stored = {r["code"]: r for r in referral.matches.get().reasons}
    assert set(stored) >= {"need", "distance", "schedule", "cost", "language", "accessibility"}
    # Stored as codes and parameters, put in words when read.
    reasons = {
        code: {lang: reason_text(r, lang) for lang in ("fr", "en")} for code, r in stored.items()
    }
    assert reasons["distance"]["en"] == "A 13-minute walk from home"
    assert reasons["distance"]["fr"] == "À 13 min à pied de chez vous"
    assert reasons["schedule"]["en"] == "Tuesday afternoons, when you are free"
    assert reasons["schedule"]["fr"] == "Le mardi après-midi, quand vous êtes libre"
    assert (reasons["cost"]["fr"], reasons["cost"]["en"]) == ("Gratuit", "Free")
    assert (reasons["language"]["fr"], reasons["language"]["en"]) == ("En français", "In French")
    assert reasons["accessibility"]["en"] == "Step-free access"


def test_the_clinician_sees_each_part_of_the_score(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(orgs[0], "Causerie")
    referral = _referral(api)

    response = api.get(f"/api/v1/referrals/{referral.id}/matches")

    assert response.status_code == 200
    [item] = response.json()["items"]
    parts = {p["name"]: p for p in item["parts"]}
    assert set(parts) == {
        "distance",
        "schedule",
        "language",
        "cost",
        "accessibility",
        "freshness",
        "capacity",
    }
    assert all(0 <= p["score"] <= 1 for p in parts.values())
    assert abs(sum(p["contribution"] for p in parts.values()) - item["score"]) < 0.01
    assert item["travel"] == {"mode": "walk", "minutes": 13}
    assert item["placement_status"] == "requested"
    assert {"code", "fr", "en"} <= set(item["reasons"][0])


# --- Unmatched explanations ----------------------------------------------------------


def test_unmatched_says_what_relaxing_would_find(api: ApiClient, orgs: list[Organization]) -> None:
    _service(orgs[0], "Loin", km=7)
    _service(orgs[1], "Plus loin", km=9)
    referral = _referral(api, max_distance_km=5)
    assert referral.stage == "unmatched"
    # Stored as a code and the message's parameters, put in words when read.
    assert referral.unmatched_explanation == {
        "code": "distance",
        "alternatives": 2,
        "params": {"count": 2, "km": 5, "wider": 10.0},
    }
    shown = api.get(f"/api/v1/referrals/{referral.id}").json()["unmatched_explanation"]
    assert shown == {
        "code": "distance",
        "alternatives": 2,
        "fr": "Rien à moins de 5 km ; 2 à moins de 10 km.",
        "en": "Nothing within 5 km; 2 within 10 km.",
    }


@pytest.mark.parametrize(
    ("fields", "person", "code", "english"),
    [
        (
            {"languages": [{"id": "7b0c43a6-0000-4000-8000-000000000001", "code": "fr"}]},
            {"preferred_language": "de"},
            "language",
            "Nothing in German within 5 km; 1 in other languages.",
        ),
        ({"minimum_age": 60}, {"year_of_birth": 1995}, "age", None),
        (
            {"cost_options": [{"id": "7b0c43a6-0000-4000-8000-000000000002", "amount": 3}]},
            {"free_only": True},
            "cost",
            "Nothing free within 5 km; 1 with a fee.",
        ),
        ({"capacity": {"status": "no-capacity"}}, {}, "capacity", None),
    ],
)
def test_each_unmatched_reason(
    api: ApiClient,
    orgs: list[Organization],
    fields: dict[str, Any],
    person: dict[str, Any],
    code: str,
    english: str | None,
) -> None:
    _service(orgs[0], "Seule", **fields)
    referral = _referral(api, **person)
    assert referral.stage == "unmatched"
    assert referral.unmatched_explanation["code"] == code
    assert explanation_text(referral.unmatched_explanation, "fr")
    if english:
        assert explanation_text(referral.unmatched_explanation, "en") == english


# --- Properties (pure scoring, no database) ------------------------------------------

_PERSON = Person(
    latitude=HOME[0],
    longitude=HOME[1],
    max_distance_km=10,
    language="fr",
    needs=["isolation"],
    age_range=(60, 61),
    availability=[Window("TU", datetime(2026, 1, 1, 13).time(), datetime(2026, 1, 1, 18).time())],
    accessibility_needs=[],
    free_only=False,
    count=3,
    codes={"isolation"},
    today=date(2026, 11, 23),
)
_NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday

rows = st.builds(
    CandidateRow,
    id=st.uuids().map(str),
    service_id=st.uuids().map(str),
    organization_id=st.sampled_from(["a", "b", "c", "d"]),
    location_id=st.just("l"),
    service_name=st.text("abc", min_size=1, max_size=3),
    distance_km=st.floats(0, 10),
    capacity_status=st.sampled_from(["has-capacity", "waitlist", "assessment-required"]),
    cost=st.sampled_from(["free", "paid", "not-stated"]),
    assured_date=st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2026, 11, 1))),
    runs_in_language=st.booleans(),
    interpretation=st.just(True),
    slots=st.sampled_from(["", "TU 14:00 16:00 W", "FR 10:00 12:00 W", "TU 14:00 16:00 M"]),
)


def _rank_of(target: str, candidates: list[CandidateRow]) -> int:
    scored = [candidate_score(r, [], _PERSON, _NOW) for r in candidates]
    order = [c.row.id for c in sorted(scored, key=lambda c: c.key())]
    return order.index(target)


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, min_size=2, max_size=8, unique_by=lambda r: r.id), st.floats(0, 1))
def test_moving_a_place_closer_never_lowers_its_rank(
    candidates: list[CandidateRow], closer: float
) -> None:
    target = candidates[0]
    moved = replace(target, distance_km=target.distance_km * closer)
    before = _rank_of(target.id, candidates)
    after = _rank_of(target.id, [moved, *candidates[1:]])
    assert after <= before


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, min_size=2, max_size=8, unique_by=lambda r: r.id))
def test_speaking_the_persons_language_never_lowers_the_rank(
    candidates: list[CandidateRow],
) -> None:
    target = replace(candidates[0], runs_in_language=False)
    speaking = replace(target, runs_in_language=True)
    before = _rank_of(target.id, [target, *candidates[1:]])
    after = _rank_of(target.id, [speaking, *candidates[1:]])
    assert after <= before


@settings(max_examples=100, deadline=None)
@given(st.lists(rows, min_size=1, max_size=10, unique_by=lambda r: r.id))
def test_choice_is_diverse_and_deterministic(candidates: list[CandidateRow]) -> None:
    scored = [candidate_score(r, [], _PERSON, _NOW) for r in candidates]
    chosen = choose(scored, 3)
    again = choose(list(reversed([candidate_score(r, [], _PERSON, _NOW) for r in candidates])), 3)
    assert [c.row.id for c in chosen] == [c.row.id for c in again]
    organizations = {r.organization_id for r in candidates}
    if len(organizations) >= 3:
        assert len({c.row.organization_id for c in chosen}) == 3
    assert len(chosen) == min(3, len(candidates))


def test_unmatched_after_everything_was_offered(api: ApiClient, orgs: list[Organization]) -> None:
    from referrals.matching_jobs import unmatched_explanation

    _service(orgs[0], "Unique")
    referral = _referral(api)
    assert _names(referral) == ["Unique"]
    assert unmatched_explanation(referral)["code"] == "offered"


def test_distance_explanation_counts_only_what_the_person_could_attend(
    api: ApiClient, orgs: list[Organization]
) -> None:
    _service(
        orgs[0], "English only, far", km=8, languages=[{"id": str(uuid.uuid4()), "code": "en"}]
    )
    referral = _referral(api)
    assert (
        explanation_text(referral.unmatched_explanation, "en")
        == "Nothing within 10 km either: try other needs."
    )


def test_diversity_survives_early_stopping(api: ApiClient, orgs: list[Organization]) -> None:
    """More places of one organisation than a batch, all near; one of another far away:
    the far one still takes a place in the choice."""
    for i in range(30):
        _service(orgs[0], f"A{i:02d}", km=0.1 + i * 0.01)
    _service(orgs[1], "B far", km=4.5)
    assert _names(_referral(api)) == ["A00", "A01", "B far"]


def test_one_service_at_two_places_is_offered_once(
    api: ApiClient, orgs: list[Organization]
) -> None:
    service = _service(orgs[0], "Deux lieux")
    org = organization_key(orgs[0])
    location = org.post(
        "/api/v1/organization/locations",
        {"name": "Autre salle", "latitude": HOME[0] + 2 * KM, "longitude": HOME[1]},
    )
    assert location.status_code == 201, location.json()
    added = org.post(
        f"/api/v1/organization/services/{service.id}/service-at-locations",
        {"location_id": location.json()["id"]},
    )
    assert added.status_code == 201, added.json()
    assert _names(_referral(api)) == ["Deux lieux"]


@pytest.mark.parametrize(
    ("text", "met"),
    [
        ("Accès de plain-pied, ascenseur", ["step-free"]),
        ("Pas accessible en fauteuil roulant, pas d'ascenseur", []),
        ("Not wheelchair accessible; no lift", []),
        ("Salle de trampoline au 2e étage", []),
        ("Wheelchair accessible. Hearing loop at the desk", ["wheelchair", "hearing-loop"]),
    ],
)
def test_accessibility_reads_words_and_negations(text: str, met: list[str]) -> None:
    from matching.scoring import accessibility_met

    assert accessibility_met([text], ["wheelchair", "step-free", "hearing-loop"]) == met


def test_a_long_schedule_list_never_breaks_matching(
    api: ApiClient, orgs: list[Organization]
) -> None:
    service = _service(orgs[0], "Tous les jours")
    org = organization_key(orgs[0])
    sal = service.service_at_locations.get()
    for hour in range(8, 13):
        response = org.post(
            f"/api/v1/organization/service-at-locations/{sal.id}/schedules",
            {"freq": "WEEKLY", "byday": "MO,TU,WE,TH,FR,SA,SU", "opens_at": f"{hour:02d}:00"},
        )
        assert response.status_code == 201, response.json()
    assert _names(_referral(api)) == ["Tous les jours"]
