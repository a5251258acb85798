"""A subscription counts its attempts in a row that got no answer: past
TISSER_WEBHOOK_BREAKER_FAILURES, its deliveries wait (events.webhooks)."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("referrals", "0019_webhook_errors_without_bodies")]

    operations = [
        migrations.AddField(
            model_name="webhooksubscription",
            name="failures_in_a_row",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="last_failure_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
