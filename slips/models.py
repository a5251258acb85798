"""slips models."""

from __future__ import annotations

from django.db import models


class Slip(models.Model):
    """The referral's current printed slip. One per referral; a re-match renders a new
    version in its place. `event_id` is the event the render answered, so a re-run of
    the same job leaves the slip as it is."""

    referral = models.OneToOneField(
        "referrals.Referral", on_delete=models.CASCADE, related_name="slip"
    )
    version = models.PositiveSmallIntegerField(default=1)
    event_id = models.BigIntegerField(null=True, blank=True)
    file = models.FileField(upload_to="slips/")
    language = models.CharField(
        max_length=5, help_text='"fr", "en", or "fr+en" when the person\'s language is not printed.'
    )
    size_bytes = models.PositiveIntegerField()
    render_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "referrals_slip"  # kept from before the move to slips

    def __str__(self) -> str:
        return self.file.name or f"slip of {self.referral_id}"
