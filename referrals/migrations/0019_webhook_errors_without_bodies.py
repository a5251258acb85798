"""A delivery's `last_error` no longer holds the receiver's answer: cut what older
versions stored ("HTTP 500: <the body>") back to the status, and exception texts that may
quote a response back to their type."""

from __future__ import annotations

import re
from typing import Any

from django.db import migrations

_STATUS = re.compile(r"^HTTP (\d{3})")


def _bodies_out(apps: Any, schema_editor: Any) -> None:
    Delivery = apps.get_model("referrals", "WebhookDelivery")
    for delivery in Delivery.objects.exclude(last_error="").only("id", "last_error"):
        status = _STATUS.match(delivery.last_error)
        short = f"HTTP {status.group(1)}" if status else delivery.last_error.split(":", 1)[0][:60]
        if short != delivery.last_error:
            Delivery.objects.filter(id=delivery.id).update(last_error=short)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0018_audit_lists_and_refusals")]

    operations = [migrations.RunPython(_bodies_out, migrations.RunPython.noop)]
