from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from community_catalog.models import Location, Service
from tests.conftest import ApiClient, referral_body


@pytest.mark.django_db
def test_operators_can_open_every_admin_list_and_page(client, api: ApiClient, catalog) -> None:
    referral_id = api.post("/api/v1/referrals", referral_body()).json()["id"]
    client.force_login(User.objects.create_superuser("operator", "op@example.org", "pw"))

    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
    service = Service.objects.first()
    location = Location.objects.first()
    assert service is not None
    assert location is not None
    for page in (
        reverse("admin:community_catalog_service_change", args=[service.id]),
        reverse("admin:community_catalog_location_change", args=[location.id]),
    ):
        assert client.get(page).status_code == 200, page
    page = reverse("admin:referrals_referral_change", args=[referral_id])
    response = client.get(page)
    assert response.status_code == 200
    assert "Josiane" in response.content.decode()


@pytest.mark.django_db
def test_old_admin_bookmarks_of_moved_models_redirect(client) -> None:
    """Models moved to the app of their concern (issue 23): their old admin addresses
    answer with a permanent redirect to the new ones, keeping the rest of the path."""
    answer = client.get("/admin/referrals/event/12/change/?x=1")
    assert answer.status_code == 301
    assert answer["Location"] == "/admin/events/event/12/change/?x=1"
    assert client.get("/admin/referrals/slip/")["Location"] == "/admin/slips/slip/"
    assert client.get("/admin/referrals/apikey/")["Location"] == "/admin/accounts/apikey/"
    # The referrals' own pages stay where they were.
    assert client.get("/admin/referrals/referral/").status_code != 301
