"""Reports (issue 25): uptake by channel, and what people said on their page beside what
organisations recorded, with the reports' small-cell suppression.

Expected before running: six people reached by e-mail, five with no message; five of the
six said they went and one that it was not for them; one organisation recorded one
start. The e-mail row shows 6, 5; the one "not for them" and the one start are fewer
than five and show "< 5"; the SMS row is all zeros."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from referrals.models import Contact
from reports.outcomes import report_build
from reports.report_model import SUPPRESSED, Scope
from tests.conftest import ApiClient, organization_key, referral_slipped
from tests.transports import Inbox

pytestmark = pytest.mark.django_db


def test_uptake_by_channel_and_what_people_said(
    api: ApiClient, center: Any, catalog: int, smtp: Inbox, client: Any
) -> None:
    consent = {"given": True, "method": "verbal", "at": timezone.now().isoformat()}
    reached = [
        referral_slipped(
            api,
            patient_ref=f"m-{i}",
            contact={"email": f"p{i}@example.org", "messages_consent": consent},
        )
        for i in range(6)
    ]
    for i in range(5):
        referral_slipped(api, patient_ref=f"n-{i}")
    morning = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=1), time(10))
    )
    call_command("messages", "due", "--as-of", morning.isoformat())
    assert len(smtp.messages) == 6
    for i, referral in enumerate(reached):
        token = Contact.objects.get(referral=referral).page_token
        placement = referral.placements.order_by("match__rank").first()
        assert placement is not None
        answer = "went" if i < 5 else "not-for-me"
        client.post(f"/p/{token}/answer", {"activity": str(placement.id), "answer": answer})
    first = reached[0].placements.order_by("match__rank").first()
    assert first is not None
    org = organization_key(first.organization)
    assert org.post(f"/api/v1/inbox/placements/{first.id}/accept", {}).status_code == 200
    assert org.post(f"/api/v1/inbox/placements/{first.id}/start", {}).status_code == 200

    today = timezone.localdate()
    report = report_build(Scope(health_center_id=center[0].id), today, today)
    rows = {row["channel"]: row for row in report.tables["reached"].rows}
    assert rows["Lien de la page envoyé par e-mail"] == {
        "channel": "Lien de la page envoyé par e-mail",
        "people": 6,
        "said_went": 5,
        "said_not_for_me": SUPPRESSED,
        "took_part": SUPPRESSED,
    }
    assert rows["Lien de la page envoyé par SMS"]["people"] == 0
    assert rows["Aucun message"]["people"] == 5
    assert rows["Aucun message"]["said_went"] == 0
