"""Events no longer carry free text: take the centre's cancel reason out of the
`referral.cancelled` events written before (it stays on the referral until erasure)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _reasons_out(apps: Any, schema_editor: Any) -> None:
    Event = apps.get_model("referrals", "Event")
    for event in Event.objects.filter(type="referral.cancelled").only("id", "payload"):
        if "reason" in (event.payload or {}):
            payload = {k: v for k, v in event.payload.items() if k != "reason"}
            Event.objects.filter(id=event.id).update(payload=payload)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0016_match_score_erasable")]

    operations = [migrations.RunPython(_reasons_out, migrations.RunPython.noop)]
