"""The audit log: who read or changed which referral, and when; readable by operators;
never rewritten."""

from __future__ import annotations

import pytest

from accounts.keys import api_key_create
from accounts.models import AuditEntry
from referrals.models import Placement
from tests.conftest import ApiClient, organization_key, referral_matched

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals"


def test_reads_and_changes_are_recorded_with_who_did_them(
    api: ApiClient, outsider_api: ApiClient, catalog: int, center: tuple
) -> None:
    referral = referral_matched(api)
    placement = Placement.objects.filter(referral=referral).first()
    assert placement is not None
    organization = organization_key(placement.organization)

    assert api.get(f"{URL}/{referral.id}").status_code == 200
    assert outsider_api.get(f"{URL}/{referral.id}").status_code == 404  # a refused probe
    assert organization.get(f"/api/v1/inbox/placements/{placement.id}").status_code == 200
    assert (
        organization.post(f"/api/v1/inbox/placements/{placement.id}/accept", {}).status_code == 200
    )
    assert api.post(f"{URL}/{referral.id}/cancel", {"reason": "moved"}).status_code == 200

    entries = list(AuditEntry.objects.filter(referral_id=referral.id))
    assert [(e.action, e.method, e.role) for e in entries] == [
        ("read", "GET", "health_center"),
        ("refused", "GET", "health_center"),
        ("read", "GET", "organization"),
        ("change", "POST", "organization"),
        ("change", "POST", "health_center"),
    ]
    assert entries[0].health_center_id == center[0].id
    assert entries[0].path == f"{URL}/{referral.id}"
    assert entries[1].status == 404
    assert entries[1].health_center_id not in (None, center[0].id)
    assert entries[2].organization_id == placement.organization_id
    assert entries[3].path.endswith("/accept")
    assert all(e.status == 200 for e in entries if e.action != "refused")
    assert entries[0].key_prefix in center[1]
    assert len(entries[0].key_prefix) == 8


def test_operators_read_the_log_and_no_one_else(
    api: ApiClient, org_api: ApiClient, catalog: int
) -> None:
    referral = referral_matched(api)
    api.get(f"{URL}/{referral.id}")
    api.get(f"{URL}/{referral.id}/events")
    operator = ApiClient(api_key_create(name="coordination"))

    response = operator.get(f"/api/v1/audit?referral_id={referral.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert [item["path"] for item in body["items"]] == [
        f"{URL}/{referral.id}",
        f"{URL}/{referral.id}/events",
    ]
    assert api.get("/api/v1/audit").status_code == 401
    assert org_api.get("/api/v1/audit").status_code == 401
    assert operator.get("/api/v1/audit?referral_id=nope").status_code == 422


def test_the_log_is_append_only(api: ApiClient, catalog: int) -> None:
    referral = referral_matched(api)
    api.get(f"{URL}/{referral.id}")
    entry = AuditEntry.objects.get(referral_id=referral.id)

    entry.path = "/elsewhere"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(id=entry.id).update(path="/elsewhere")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(id=entry.id).path == f"{URL}/{referral.id}"
