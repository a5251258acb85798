"""Services that meet at the same times share one walk of their sessions when their
points are built (issue 24, part 3), but never one another's dates: a rule that ended,
one that starts later, a monthly one and a plain weekly one, all on Tuesdays 14:00 to
16:00, each keep their own.

Written before it ran: the weekly one is offered now with no end; the ended one has no
slot and no run; the one from next month starts on its first Tuesday; the monthly one
reads as monthly.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import hsds_import
from community_catalog.services import organization_create
from matching.models import MatchPoint

pytestmark = pytest.mark.django_db


def _service(name: str, **rule: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "status": "active",
        "service_at_locations": [
            {
                "id": str(uuid.uuid4()),
                "location": {
                    "id": str(uuid.uuid4()),
                    "location_type": "physical",
                    "name": "Salle",
                    "latitude": 45.76,
                    "longitude": 4.84,
                },
                "schedules": [
                    {
                        "id": str(uuid.uuid4()),
                        "freq": "WEEKLY",
                        "byday": "TU",
                        "opens_at": "14:00",
                        "closes_at": "16:00",
                        **rule,
                    }
                ],
            }
        ],
    }


def test_the_same_times_keep_their_own_dates() -> None:
    today = timezone.localdate()
    later = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    first_tuesday = later + timedelta(days=(1 - later.weekday()) % 7)
    organization, _ = organization_create(name="Maison de quartier")
    documents = [
        _service("Chaque mardi"),
        _service("Fini", dtstart="2025-01-07", until=(today - timedelta(days=1)).isoformat()),
        _service("Le mois prochain", valid_from=later.isoformat()),
        _service("Un mardi par mois", freq="MONTHLY", byday="1TU"),
        _service("Encore chaque mardi"),
    ]
    report = hsds_import(hsds_read(documents), organization=organization)
    assert report.created == 5, report.errors
    points = {p.name: p for p in MatchPoint.objects.all()}

    weekly = points["Chaque mardi"]
    assert weekly.slots == "TU 14:00 16:00 W"
    assert (weekly.run_from, weekly.run_until, weekly.starts_on) == (today, None, None)

    ended = points["Fini"]
    assert ended.slots == ""
    assert (ended.run_from, ended.run_until) == (None, None)

    next_month = points["Le mois prochain"]
    assert next_month.starts_on == first_tuesday
    assert next_month.run_from == first_tuesday

    monthly = points["Un mardi par mois"]
    assert monthly.slots == "TU 14:00 16:00 M"

    again = points["Encore chaque mardi"]
    assert (again.slots, again.run_from, again.run_until) == (weekly.slots, today, None)
