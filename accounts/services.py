"""The first password: who must still change it."""

from __future__ import annotations

from django.contrib.auth.models import User

from accounts.models import PasswordChangeRequired


def password_change_require(*, user: User) -> None:
    """`user` signs in with a password somebody else knows: they must choose their own."""
    PasswordChangeRequired.objects.get_or_create(user=user)


def password_change_required(*, user_id: int) -> bool:
    return PasswordChangeRequired.objects.filter(user_id=user_id).exists()


def password_change_done(*, user_id: int) -> None:
    PasswordChangeRequired.objects.filter(user_id=user_id).delete()
