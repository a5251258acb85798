"""The first password: who must still change it; how long sign-ins are remembered."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
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


def sign_in_failures_clear(sender: Any, user: User, **kwargs: Any) -> None:
    """A person signed in: the failures counted against their username end (those of
    their address stay, so one's own sign-in never clears guesses at a colleague)."""
    AccessAttempt.objects.filter(username=user.get_username()).delete()


def sign_in_logs_prune(*, now: datetime | None = None) -> int:
    """Forget sign-ins (who, from where, with which browser) older than
    TISSER_SIGNIN_LOG_DAYS, failure counts older than a lockout, and expired sessions."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TISSER_SIGNIN_LOG_DAYS)
    logs, _ = AccessLog.objects.filter(attempt_time__lt=cutoff).delete()
    failures, _ = AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()
    # Failure counts older than a lockout no longer count; axes only clears them when
    # someone signs in again.
    stale = (now or timezone.now()) - settings.AXES_COOLOFF_TIME
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=stale).delete()
    # Sessions last an idle hour; their rows stay until someone deletes them.
    session_store: Any = import_module(settings.SESSION_ENGINE).SessionStore
    session_store.clear_expired()
    return logs + failures + attempts
