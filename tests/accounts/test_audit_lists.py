"""The audit log covers what the second review found unrecorded: lists that show people
(one row per request, with the referrals it returned), the event feed, the web inbox and
list, the admin's reads and edits of referrals, and refused probes across tenants."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.keys import api_key_create
from accounts.models import AuditEntry
from referrals.models import Placement, Referral
from tests.conftest import ApiClient, organization_key, referral_matched
from tests.web.test_accounts import create_user, signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals"
INBOX = "/api/v1/inbox/placements"


def _one_new(before: int) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(id__gt=before))
    assert len(entries) == 1, [(e.action, e.path) for e in entries]
    return entries[0]


def _last() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def two(api: ApiClient, catalog: int) -> tuple[Referral, Referral]:
    return referral_matched(api), referral_matched(api, first_name="Marcel")


def test_api_lists_are_recorded_once_per_request_with_the_ids_returned(
    api: ApiClient, two: tuple[Referral, Referral], center: tuple, settings: Any
) -> None:
    settings.TISSER_EVENT_FEED_LAG_SECONDS = 0
    mark = _last()
    assert api.get(URL).status_code == 200
    entry = _one_new(mark)
    assert entry.action == "list"
    assert entry.referral_id is None
    assert sorted(entry.referral_ids) == sorted(str(r.id) for r in two)
    assert (entry.role, entry.health_center_id, entry.status) == (
        "health_center",
        center[0].id,
        200,
    )

    mark = _last()
    assert api.get("/api/v1/events").status_code == 200
    feed = _one_new(mark)
    assert feed.action == "list"
    assert sorted(feed.referral_ids) == sorted(str(r.id) for r in two)


def test_the_inbox_list_records_the_people_it_showed(two: tuple[Referral, Referral]) -> None:
    placement = Placement.objects.filter(referral=two[0]).order_by("match__rank").first()
    assert placement is not None
    organization = organization_key(placement.organization)
    mark = _last()
    shown = organization.get(INBOX).json()["items"]
    entry = _one_new(mark)
    assert entry.action == "list"
    assert entry.role == "organization"
    assert entry.organization_id == placement.organization_id
    returned = {str(Placement.objects.get(id=p["id"]).referral_id) for p in shown}
    assert set(entry.referral_ids) == returned
    assert str(two[0].id) in entry.referral_ids


def test_refused_probes_across_tenants_are_recorded(
    two: tuple[Referral, Referral], outsider_api: ApiClient, rival_api: ApiClient
) -> None:
    target = two[0]
    placement = Placement.objects.filter(referral=target).first()
    assert placement is not None
    mark = _last()
    assert outsider_api.get(f"{URL}/{target.id}").status_code == 404
    probe = _one_new(mark)
    assert (probe.action, probe.status, probe.referral_id) == ("refused", 404, target.id)
    assert probe.role == "health_center"

    mark = _last()
    assert rival_api.get(f"{INBOX}/{placement.id}").status_code == 404
    rival = _one_new(mark)
    assert (rival.action, rival.status, rival.referral_id) == ("refused", 404, target.id)
    assert rival.role == "organization"
    # Made-up ids are recorded too: probing is what the log is for.
    mark = _last()
    made_up = uuid.uuid4()
    assert outsider_api.get(f"{URL}/{made_up}/matches").status_code == 404
    assert _one_new(mark).referral_id == made_up


def test_web_lists_are_recorded(two: tuple[Referral, Referral], center: tuple) -> None:
    client = signed_in("c.martin", create_user("c.martin", "--center", center[0].name))
    mark = _last()
    assert client.get("/app/referrals/").status_code == 200
    entry = _one_new(mark)
    assert entry.action == "list"
    assert entry.username == "c.martin"
    assert sorted(entry.referral_ids) == sorted(str(r.id) for r in two)

    placement = Placement.objects.filter(referral=two[0]).first()
    assert placement is not None
    name = placement.organization.name
    volunteer = signed_in("b.roux", create_user("b.roux", "--org", name))
    mark = _last()
    assert volunteer.get("/app/inbox/").status_code == 200
    inbox = _one_new(mark)
    assert inbox.action == "list"
    assert inbox.role == "organization"
    assert str(two[0].id) in inbox.referral_ids


def test_admin_reads_edits_and_lists_of_referrals_are_recorded(
    two: tuple[Referral, Referral],
) -> None:
    admin = get_user_model().objects.create_superuser("ops", "ops@example.org", "x" * 20)
    client = Client()
    client.force_login(admin)
    target = two[0]
    mark = _last()
    assert client.get(f"/admin/referrals/referral/{target.id}/change/").status_code == 200
    read = _one_new(mark)
    assert (read.action, read.referral_id, read.username, read.role) == (
        "read",
        target.id,
        "ops",
        "admin",
    )
    mark = _last()
    assert client.get("/admin/referrals/referral/").status_code == 200
    listed = _one_new(mark)
    assert listed.action == "list"
    assert sorted(listed.referral_ids) == sorted(str(r.id) for r in two)


def test_operators_find_list_rows_by_referral(
    api: ApiClient, two: tuple[Referral, Referral]
) -> None:
    api.get(URL)
    api.get(f"{URL}/{two[0].id}")
    operator = ApiClient(api_key_create(name="coordination"))
    body: dict[str, Any] = operator.get(f"/api/v1/audit?referral_id={two[0].id}").json()
    assert [(i["action"], i["path"]) for i in body["items"]] == [
        ("list", URL),
        ("read", f"{URL}/{two[0].id}"),
    ]
    assert body["items"][0]["referral_ids"]


def test_every_admin_list_and_page_that_shows_referrals_is_recorded_and_none_deletes(
    two: tuple[Referral, Referral], media: Any
) -> None:
    from events.models import Event
    from slips.models import Slip

    admin = get_user_model().objects.create_superuser("ops", "ops@example.org", "x" * 20)
    client = Client()
    client.force_login(admin)
    target = two[0]
    for path in ("/admin/referrals/placement/", "/admin/events/event/"):
        mark = _last()
        assert client.get(path).status_code == 200, path
        listed = _one_new(mark)
        assert listed.action == "list", path
        assert str(target.id) in listed.referral_ids, path
    slip = Slip.objects.create(referral=target, file="", language="fr", size_bytes=0, render_ms=0)
    mark = _last()
    assert client.get(f"/admin/slips/slip/{slip.pk}/change/").status_code == 200
    assert _one_new(mark).referral_id == target.id
    event = Event.objects.filter(aggregate_id=target.id).first()
    assert event is not None
    mark = _last()
    assert client.get(f"/admin/events/event/{event.pk}/change/").status_code == 200
    assert _one_new(mark).referral_id == target.id
    # Referrals are erased, never deleted: no bulk delete, no delete page.
    changelist = client.get("/admin/referrals/referral/").content.decode()
    assert "delete_selected" not in changelist
    deleted = client.post(
        "/admin/referrals/referral/",
        {"action": "delete_selected", "_selected_action": [str(target.id)], "post": "yes"},
    )
    assert deleted.status_code in (200, 302, 403)
    assert Referral.objects.filter(id=target.id).exists()
    assert client.get(f"/admin/referrals/referral/{target.id}/delete/").status_code == 403
