from __future__ import annotations

from tests.conftest import ApiClient, referral_body

URL = "/api/v1/referrals"


def test_it_shows_the_centre_its_referral(api: ApiClient, catalog: int) -> None:
    referral_id = api.post(URL, referral_body()).json()["id"]

    response = api.get(f"{URL}/{referral_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["stage"] == "submitted"
    assert body["needs"] == ["isolation"]
    assert body["slip_ready"] is False
    assert "clinical_reason" not in body


def test_another_centre_gets_404_not_the_referral(
    api: ApiClient, outsider_api: ApiClient, catalog: int
) -> None:
    referral_id = api.post(URL, referral_body()).json()["id"]

    assert outsider_api.get(f"{URL}/{referral_id}").status_code == 404
    assert outsider_api.get(f"{URL}/{referral_id}/slip.pdf").status_code == 404
    assert outsider_api.get(URL).json()["total"] == 0


def test_the_slip_is_409_with_the_stage_until_ready(api: ApiClient, catalog: int) -> None:
    referral_id = api.post(URL, referral_body()).json()["id"]

    response = api.get(f"{URL}/{referral_id}/slip.pdf")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "slip_not_ready",
        "message": "The slip is not ready yet; the referral is at stage 'submitted'.",
        "fields": [],
        "stage": "submitted",
    }


def test_an_unknown_id_is_404(api: ApiClient) -> None:
    response = api.get(f"{URL}/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_malformed_id_is_422_naming_it(api: ApiClient) -> None:
    response = api.get(f"{URL}/not-a-uuid")

    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "referral_id"


def test_the_list_is_paginated_and_filtered(api: ApiClient, catalog: int) -> None:
    for _ in range(3):
        api.post(URL, referral_body())

    page = api.get(f"{URL}?limit=2&offset=0").json()
    assert (page["total"], len(page["items"]), page["limit"]) == (3, 2, 2)
    assert api.get(f"{URL}?stage=slip_ready").json()["total"] == 0
    assert api.get(f"{URL}?stage=nonsense").status_code == 422
