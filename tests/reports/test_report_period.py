"""A report's period is whole local days, in the territory's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from referrals.models import Referral
from reports.outcomes import report_build
from reports.report_model import Scope
from tests.conftest import ApiClient, referral_body

pytestmark = pytest.mark.django_db


def test_the_period_is_whole_local_days(api: ApiClient, catalog: int) -> None:
    """From the first minute of `from` to the last of `to`, in the territory's time zone
    (Paris), not in UTC."""
    start = timezone.localdate() - timedelta(days=10)
    end = start + timedelta(days=2)
    local = timezone.get_current_timezone()
    moments = {
        "before": datetime.combine(start - timedelta(days=1), datetime.min.time()).replace(
            hour=23, minute=50, tzinfo=local
        ),
        "first": datetime.combine(start, datetime.min.time()).replace(
            hour=0, minute=10, tzinfo=local
        ),
        "last": datetime.combine(end, datetime.min.time()).replace(
            hour=23, minute=30, tzinfo=local
        ),
        "after": datetime.combine(end + timedelta(days=1), datetime.min.time()).replace(
            hour=0, minute=30, tzinfo=local
        ),
    }
    filed: dict[str, list[str]] = {}
    for name, at in moments.items():
        for i in range(5):  # five each, so that no count is suppressed
            response = api.post("/api/v1/referrals", referral_body(patient_ref=f"{name}-{i}"))
            Referral.objects.filter(id=response.json()["id"]).update(created_at=at)
            filed.setdefault(name, []).append(response.json()["id"])
    center = Referral.objects.get(id=filed["first"][0]).health_center
    report = report_build(Scope(health_center_id=center.id), start, end)
    assert report.tables["funnel"].rows[0]["count"] == 10  # "first" and "last" only
