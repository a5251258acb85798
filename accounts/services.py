"""The first password: who must still change it; how long sign-ins are remembered."""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.models import AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import PasswordChangeRequired


def password_change_require(*, user: User) -> None:
    """`user` signs in with a password somebody else knows: they must choose their own."""
    PasswordChangeRequired.objects.get_or_create(user=user)


def password_change_required(*, user_id: int) -> bool:
    return PasswordChangeRequired.objects.filter(user_id=user_id).exists()


def password_change_done(*, user_id: int) -> None:
    PasswordChangeRequired.objects.filter(user_id=user_id).delete()


def sign_in_logs_prune(*, now: datetime | None = None) -> int:
    """Forget sign-ins (who, from where, with which browser) older than
    TISSER_SIGNIN_LOG_DAYS. Lockout counts are axes' own and expire by themselves."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TISSER_SIGNIN_LOG_DAYS)
    logs, _ = AccessLog.objects.filter(attempt_time__lt=cutoff).delete()
    failures, _ = AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()
    return logs + failures
