"""The FHIR view: a Bundle that fhir.resources validates, shaped after SDOH Clinical Care."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from tests.conftest import ApiClient, organization_key, referral_matched

pytestmark = pytest.mark.django_db

SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition"


def test_the_bundle_validates_and_carries_one_task_per_placement(
    api: ApiClient, catalog: int
) -> None:
    referral = referral_matched(
        api, needs=["walking-group"], max_distance_km=10, clinician_name="Dr Martin"
    )
    first, second, _third = referral.placements.select_related("organization").order_by(
        "match__rank"
    )
    organization_key(first.organization).post(
        f"/api/v1/inbox/placements/{first.id}/accept", {"note": "Bienvenue"}
    )
    organization_key(second.organization).post(
        f"/api/v1/inbox/placements/{second.id}/reject", {"reason": "not-eligible"}
    )

    response = api.get(f"/api/v1/referrals/{referral.id}/fhir")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    document = response.json()
    bundle: Any = Bundle.model_validate(document)  # raises if not valid FHIR
    assert bundle.type == "collection"
    resources = {e.fullUrl: e.resource for e in bundle.entry}
    [request] = [r for r in resources.values() if r.__resource_type__ == "ServiceRequest"]
    tasks = [r for r in resources.values() if r.__resource_type__ == "Task"]
    assert type(request).__name__ == ServiceRequest.__name__
    assert request.meta.profile == [f"{SDOHCC}/SDOHCC-ServiceRequest"]
    assert (request.status, request.intent) == ("active", "order")
    assert request.identifier[0].value == referral.code
    assert [c.coding[0].code for c in request.category] == ["walking-group"]
    assert request.requester.display == "Dr Martin, Maison de santé Gerland"
    # Every reference resolves inside the bundle.
    assert request.subject.reference in resources
    assert request.requester.reference in resources
    assert len({p.reference for p in request.performer}) == len(request.performer)

    assert len(tasks) == 3
    by_id = {t.id: t for t in tasks}
    for task in tasks:
        assert type(task).__name__ == Task.__name__
        assert task.meta.profile == [f"{SDOHCC}/SDOHCC-TaskForReferralManagement"]
        assert task.intent == "order"
        assert task.code.coding[0].code == "fulfill"
        assert task.focus.reference == f"urn:uuid:{referral.id}"
        assert task.for_fhir.reference == request.subject.reference
        assert task.owner.reference in resources
        assert task.requester.reference == request.requester.reference
        assert task.authoredOn
    assert by_id[str(first.id)].status == "accepted"
    assert by_id[str(first.id)].note[0].text == "Bienvenue"
    rejected = by_id[str(second.id)]
    assert rejected.status == "rejected"
    assert rejected.statusReason.coding[0].code == "not-eligible"
    assert rejected.statusReason.text  # the SDOH profile requires the text
    waiting = [t for t in tasks if t.status == "requested"]
    assert waiting
    assert waiting[0].restriction.period.end

    [patient] = [r for r in resources.values() if r.__resource_type__ == "Patient"]
    assert patient.identifier[0].value == "pt-0001"
    assert str(patient.birthDate) == "1948"


def test_a_cancelled_referral_is_revoked(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    api.post(f"/api/v1/referrals/{referral.id}/cancel", {})

    document = api.get(f"/api/v1/referrals/{referral.id}/fhir").json()

    bundle: Any = Bundle.model_validate(document)
    statuses = sorted(
        (e.resource.__resource_type__, e.resource.status)
        for e in bundle.entry
        if e.resource.__resource_type__ in ("ServiceRequest", "Task")
    )
    assert statuses == [("ServiceRequest", "revoked")] + [("Task", "cancelled")] * 3
