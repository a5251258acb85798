"""Sign-ins are remembered for a while (who, from where), then forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessLog
from django.utils import timezone

from accounts.services import sign_in_logs_prune


@pytest.mark.django_db
def test_sign_ins_are_forgotten_after_the_retention_of_sign_in_logs(settings: Any) -> None:
    settings.TISSER_SIGNIN_LOG_DAYS = 90
    old = AccessLog.objects.create(username="c.martin", ip_address="10.0.0.1", user_agent="x")
    recent = AccessLog.objects.create(username="c.martin", ip_address="10.0.0.1", user_agent="x")
    AccessLog.objects.filter(id=old.id).update(attempt_time=timezone.now() - timedelta(days=91))
    assert sign_in_logs_prune() == 1
    assert list(AccessLog.objects.values_list("id", flat=True)) == [recent.id]


@pytest.mark.django_db
def test_expired_sessions_and_stale_failure_counts_are_deleted_too(settings: Any) -> None:
    from axes.models import AccessAttempt
    from django.contrib.sessions.models import Session

    Session.objects.create(
        session_key="old", session_data="", expire_date=timezone.now() - timedelta(minutes=1)
    )
    Session.objects.create(
        session_key="live", session_data="", expire_date=timezone.now() + timedelta(minutes=30)
    )
    stale = AccessAttempt.objects.create(
        username="c.martin", ip_address="10.0.0.1", user_agent="x", failures_since_start=3
    )
    AccessAttempt.objects.filter(id=stale.id).update(
        attempt_time=timezone.now() - timedelta(minutes=16)
    )
    sign_in_logs_prune()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]
    assert not AccessAttempt.objects.exists()
