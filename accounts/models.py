from __future__ import annotations

from django.conf import settings
from django.db import models


class PasswordChangeRequired(models.Model):
    """A person who still has the password somebody else chose for them (the one
    `tisser create-user` printed): the pages send them to choose their own first. The row
    goes when they do."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE
    )
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "password change required"
        verbose_name_plural = "password changes required"

    def __str__(self) -> str:
        return f"{self.user} must change their password"
