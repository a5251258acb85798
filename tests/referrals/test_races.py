"""Races end in one consistent state: row locks on the referral, then the placement.

Run on both backends; on PostgreSQL the requests really overlap (row locks), on SQLite
they queue on the database's write lock. Each race is repeated a few times."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from events.models import Event
from referrals.models import Placement, Referral
from tests.conftest import ApiClient, organization_key, referral_matched

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = "/api/v1/inbox/placements"


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment on their own threads (and connections)."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = calls[index]()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _events(placement: Placement, type: str) -> int:
    return Event.objects.filter(aggregate_id=placement.id, type=type).count()


@pytest.mark.parametrize("attempt", range(3))
def test_accept_racing_cancel_ends_consistent(api: ApiClient, catalog: int, attempt: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    org = organization_key(placement.organization)

    accepted, cancelled = _together(
        lambda: org.post(f"{INBOX}/{placement.id}/accept", {}),
        lambda: api.post(f"/api/v1/referrals/{referral.id}/cancel", {}),
    )

    assert cancelled.status_code == 200
    assert accepted.status_code in (200, 409)
    referral.refresh_from_db()
    placement.refresh_from_db()
    assert referral.status == "revoked"
    # Whoever came first, the cancellation cancels the placement in the end.
    assert placement.status == "cancelled"
    assert _events(placement, "placement.cancelled") == 1
    assert _events(placement, "placement.accepted") == (1 if accepted.status_code == 200 else 0)
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.cancelled").count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_answers_to_one_placement_one_wins(api: ApiClient, catalog: int, attempt: int) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placement = referral.placements.select_related("organization").first()
    assert placement is not None
    first, second = (
        organization_key(placement.organization),
        organization_key(placement.organization),
    )

    answers = _together(
        lambda: first.post(f"{INBOX}/{placement.id}/accept", {}),
        lambda: second.post(f"{INBOX}/{placement.id}/reject", {"reason": "no-capacity"}),
    )

    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409]
    placement.refresh_from_db()
    winner = "accepted" if answers[0].status_code == 200 else "rejected"
    assert placement.status == winner
    assert _events(placement, "placement.accepted") + _events(placement, "placement.rejected") == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_organisations_completing_at_once_close_the_referral_once(
    api: ApiClient, catalog: int, attempt: int
) -> None:
    referral = referral_matched(api, needs=["walking-group"], max_distance_km=10)
    placements = list(referral.placements.select_related("organization").order_by("match__rank"))
    Placement.objects.filter(id__in=[p.id for p in placements]).update(status="in-progress")
    clients = [organization_key(p.organization) for p in placements]

    answers = _together(
        *(
            (lambda c=client, p=placement: c.post(f"{INBOX}/{p.id}/complete", {}))
            for client, placement in zip(clients, placements, strict=True)
        )
    )

    assert [a.status_code for a in answers] == [200] * len(placements)
    referral.refresh_from_db()
    assert referral.status == Referral.Status.COMPLETED
    assert Event.objects.filter(aggregate_id=referral.id, type="referral.completed").count() == 1
