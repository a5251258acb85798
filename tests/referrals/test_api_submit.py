from __future__ import annotations

import pytest

from events.models import Event
from referrals.models import Referral
from referrals.services import CODE_ALPHABET
from tests.conftest import ApiClient, referral_body

URL = "/api/v1/referrals"


def fields_of(response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


def test_it_accepts_a_referral_and_announces_it(api: ApiClient, catalog: int) -> None:
    response = api.post(URL, referral_body())

    assert response.status_code == 202
    body = response.json()
    assert body["stage"] == "submitted"
    assert body["links"]["self"] == f"{URL}/{body['id']}"
    code = body["code"]
    assert len(code) == 7
    assert code[3] == "-"
    assert set(code.replace("-", "")) <= set(CODE_ALPHABET)
    referral = Referral.objects.get(id=body["id"])
    assert [t.code for t in referral.needs.all()] == ["isolation"]
    assert referral.consent_given is True
    event = Event.objects.get(aggregate_id=referral.id)
    assert event.type == "referral.submitted"


def test_it_names_the_unknown_taxonomy_code(api: ApiClient, catalog: int) -> None:
    response = api.post(URL, referral_body(needs=["isolation", "knitting-in-space"]))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert fields_of(response) == {"needs[1]": "unknown taxonomy code 'knitting-in-space'"}
    assert not Referral.objects.exists()
    assert not Event.objects.filter(aggregate_type="referral").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": {"latitude": 91, "longitude": 4.8}}, "location.latitude"),
        ({"year_of_birth": 2999}, "year_of_birth"),
        ({"preferred_language": "french"}, "preferred_language"),
        ({"needs": []}, "needs"),
        ({"first_name": "   "}, "first_name"),
        ({"max_distance_km": 0}, "max_distance_km"),
        ({"national_health_number": "1 48 07 75 123 456 78"}, "national_health_number"),
    ],
)
def test_it_refuses_bad_fields_by_name(api: ApiClient, catalog: int, change, field) -> None:
    response = api.post(URL, referral_body(**change))

    assert response.status_code == 422
    assert field in fields_of(response)
    assert not Referral.objects.exists()


def test_it_refuses_a_referral_without_consent(api: ApiClient, catalog: int) -> None:
    body = referral_body()
    body["consent"]["given"] = False

    response = api.post(URL, body)

    assert response.status_code == 422
    assert "consent" in fields_of(response)["consent.given"]


def test_it_refuses_a_missing_field(api: ApiClient, catalog: int) -> None:
    body = referral_body()
    del body["consent"]

    response = api.post(URL, body)

    assert response.status_code == 422
    assert "consent" in fields_of(response)


def test_it_answers_malformed_json_with_400(api: ApiClient, catalog: int) -> None:
    response = api.post(URL, "{not json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("header", [None, "Bearer tsk_nope_nope", "Basic dXNlcjpwYXNz"])
def test_it_refuses_a_missing_or_wrong_key(db: None, header: str | None) -> None:
    client = ApiClient(None)
    headers = {"Authorization": header} if header else {}

    response = client.post(URL, referral_body(), **headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_refused(center, catalog: int) -> None:
    from django.utils import timezone

    health_center, key = center
    health_center.api_keys.update(revoked_at=timezone.now())

    response = ApiClient(key).post(URL, referral_body())

    assert response.status_code == 401


def test_it_keeps_everything_the_intake_says(catalog, api: ApiClient) -> None:
    body = referral_body(
        availability=[{"weekday": "TU", "start": "14:00", "end": "18:00"}],
        accessibility_needs=["wheelchair", "hearing-loop"],
        free_only=True,
        large_print=True,
        note_for_organization="Préfère les petits groupes.",
        do_not_contact=True,
        preferred_contact="phone",
    )

    referral_id = api.post("/api/v1/referrals", body).json()["id"]
    shown = api.get(f"/api/v1/referrals/{referral_id}").json()

    assert shown["availability"] == [{"weekday": "TU", "start": "14:00:00", "end": "18:00:00"}]
    assert shown["accessibility_needs"] == ["wheelchair", "hearing-loop"]
    assert (shown["free_only"], shown["large_print"], shown["do_not_contact"]) == (True,) * 3
    assert shown["preferred_contact"] == "phone"
    referral = Referral.objects.get(id=referral_id)
    assert referral.note_for_organization == "Préfère les petits groupes."


def test_a_postcode_stands_for_the_position(catalog, api: ApiClient) -> None:
    body = referral_body(postcode="69007")
    del body["location"]

    response = api.post("/api/v1/referrals", body)

    assert response.status_code == 202, response.json()
    referral = Referral.objects.get(id=response.json()["id"])
    assert referral.latitude is not None
    assert referral.longitude is not None
    assert (round(referral.latitude, 2), round(referral.longitude, 2)) == (45.74, 4.84)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": None, "postcode": "99999"}, "postcode"),
        ({"location": None}, "postcode"),
        (
            {"availability": [{"weekday": "TU", "start": "18:00", "end": "14:00"}]},
            "availability[0]",
        ),
        (
            {"availability": [{"weekday": "Tuesday", "start": "14:00", "end": "18:00"}]},
            "availability[0].weekday",
        ),
        ({"accessibility_needs": ["jetpack"]}, "accessibility_needs[0]"),
        ({"preferred_contact": "pigeon"}, "preferred_contact"),
    ],
)
def test_intake_problems_are_named(catalog, api: ApiClient, change, field) -> None:
    body = {**referral_body(), **change}
    body = {k: v for k, v in body.items() if v is not None}

    response = api.post("/api/v1/referrals", body)

    assert response.status_code == 422, response.json()
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert not Referral.objects.exists()


@pytest.mark.parametrize("idempotency_key", [None, "collision-1"])
def test_a_code_already_taken_files_the_referral_with_another(
    api: ApiClient, catalog: int, monkeypatch: pytest.MonkeyPatch, idempotency_key: str | None
) -> None:
    taken = api.post(URL, referral_body()).json()["code"]
    codes = iter([taken, taken, "XYZ-7KW"])
    monkeypatch.setattr("referrals.services.referral_code_generate", lambda: next(codes))
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    response = api.post(URL, referral_body(first_name="Marcel"), **headers)

    assert response.status_code == 202, response.json()
    assert response.json()["code"] == "XYZ-7KW"
    marcel = Referral.objects.get(first_name="Marcel")
    assert marcel.code == "XYZ-7KW"
    assert [t.code for t in marcel.needs.all()] == ["isolation"]
    # The attempts that collided left nothing behind: one referral, one event each.
    assert Referral.objects.count() == 2
    assert Event.objects.filter(type="referral.submitted").count() == 2
