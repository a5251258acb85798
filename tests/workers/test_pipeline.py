"""The whole pipeline, POST to PDF, through the configured broker and real workers."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from events.models import Event
from referrals.models import Match, Referral
from slips.models import Slip
from tests.conftest import ApiClient, referral_body, wait_for_stage

URL = "/api/v1/referrals"

pytestmark = pytest.mark.django_db(transaction=True)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_referral_becomes_a_printed_slip(api: ApiClient, catalog: int, worker) -> None:
    accepted = api.post(URL, referral_body(first_name="Josiane", needs=["walking-group"]))
    assert accepted.status_code == 202

    wait_for_stage(accepted.json()["id"], Referral.Stage.SLIP_READY)

    detail = api.get(f"{URL}/{accepted.json()['id']}").json()
    assert detail["stage"] == "slip_ready"
    assert detail["slip_ready"] is True
    assert 1 <= len(detail["matches"]) <= 3
    scores = [m["score"] for m in detail["matches"]]
    assert scores == sorted(scores, reverse=True)
    assert all(m["distance_km"] <= 4 for m in detail["matches"])
    response = api.get(f"{URL}/{accepted.json()['id']}/slip.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = pdf_text(pdf)
    assert "Josiane" in text
    assert detail["matches"][0]["activity"] in text
    assert detail["code"] in text
    # What the clinician wrote for the patient is printed; the clinical reason never is.
    assert "sans engagement" in text
    assert "veuvage" not in text


def test_the_slip_speaks_the_patients_language(api: ApiClient, catalog: int, worker) -> None:
    accepted = api.post(
        URL, referral_body(first_name="Emily", preferred_language="en", needs=["new-to-area"])
    )
    wait_for_stage(accepted.json()["id"], Referral.Stage.SLIP_READY)

    pdf = b"".join(api.get(f"{URL}/{accepted.json()['id']}/slip.pdf").streaming_content)

    text = pdf_text(pdf)
    assert "Hello Emily" in text
    assert "Referral code" in text


def test_nothing_nearby_still_gives_a_slip_that_says_so(
    api: ApiClient, catalog: int, worker
) -> None:
    far_away = {"latitude": 45.9890, "longitude": 4.7190}  # Villefranche-sur-Saône
    accepted = api.post(URL, referral_body(location=far_away, max_distance_km=3))

    referral = wait_for_stage(accepted.json()["id"], Referral.Stage.SLIP_READY)

    assert not referral.matches.exists()
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.unmatched").exists()
    text = pdf_text(referral.slip.file.read())
    assert "pas encore trouvé" in text


def test_every_stage_change_is_an_event(api: ApiClient, catalog: int, worker) -> None:
    accepted = api.post(URL, referral_body())
    referral = wait_for_stage(accepted.json()["id"], Referral.Stage.SLIP_READY)

    types = list(
        Event.objects.filter(aggregate_id=referral.id).order_by("id").values_list("type", flat=True)
    )

    assert types == [
        "referral.submitted",
        "referral.matching",
        "referral.matched",
        "referral.slip_ready",
    ]


def test_running_the_jobs_again_changes_nothing(api: ApiClient, catalog: int, worker) -> None:
    """Delivery is at least once: a duplicate message must not make a second slip."""
    from workers.actors import match_referral, render_slip

    accepted = api.post(URL, referral_body())
    referral = wait_for_stage(accepted.json()["id"], Referral.Stage.SLIP_READY)
    slip_file = referral.slip.file.name
    matches = list(Match.objects.filter(referral=referral).values_list("id", flat=True))

    for event in Event.objects.filter(aggregate_id=referral.id):
        match_referral.fn(event_id=event.id, aggregate_id=str(referral.id))
        render_slip.fn(event_id=event.id, aggregate_id=str(referral.id))

    assert Slip.objects.filter(referral=referral).count() == 1
    assert Slip.objects.get(referral=referral).file.name == slip_file
    assert list(Match.objects.filter(referral=referral).values_list("id", flat=True)) == matches
    assert Referral.objects.get(id=referral.id).stage == "slip_ready"


def _wait_for_slip_version(referral_id: str, version: int, timeout: float = 60) -> Slip:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slip = Slip.objects.filter(referral_id=referral_id, version=version).first()
        referral = Referral.objects.get(id=referral_id)
        if slip is not None and referral.stage == Referral.Stage.SLIP_READY:
            return slip
        time.sleep(0.05)
    raise AssertionError(f"no slip version {version}")


def test_a_rejection_rematches_and_reprints_the_slip(api: ApiClient, catalog: int, worker) -> None:
    from tests.conftest import organization_key

    referral_id = api.post(URL, referral_body(needs=["walking-group"], max_distance_km=10)).json()[
        "id"
    ]
    wait_for_stage(referral_id, Referral.Stage.SLIP_READY)
    referral = Referral.objects.get(id=referral_id)
    placement = referral.placements.select_related(
        "organization", "match__service_at_location__service"
    ).get(match__rank=1)
    refused = placement.match.service_at_location.service.name

    response = organization_key(placement.organization).post(
        f"/api/v1/inbox/placements/{placement.id}/reject", {"reason": "no-capacity"}
    )
    assert response.status_code == 200

    slip = _wait_for_slip_version(referral_id, 2)
    detail = api.get(f"{URL}/{referral_id}").json()
    assert detail["slip_version"] == 2
    assert len(detail["placements"]) == 4
    newcomer = next(p for p in detail["placements"] if p["rank"] == 4)
    assert newcomer["status"] == "requested"
    pdf = b"".join(api.get(f"{URL}/{referral_id}/slip.pdf").streaming_content)
    text = pdf_text(pdf)
    assert newcomer["activity"] in text
    assert refused not in text
    assert str(slip.file.name).endswith("-v2.pdf")
    # The work the rejection triggered is done, once.
    rejected = Event.objects.get(type="placement.rejected", aggregate_id=placement.id)
    assert rejected.processed_at is not None
    assert Match.objects.filter(referral_id=referral_id).count() == 4
