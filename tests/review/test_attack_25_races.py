"""A person's tap while an organisation's answer is being written (review of issue 25):
row locks, so PostgreSQL's pass only (tests/conftest.py: ONE_PASS)."""

from __future__ import annotations

import threading
import time as clock

import pytest
from django.db import transaction
from django.utils import timezone

from outreach.services import sessions_offered
from referrals.models import Placement, Referral
from tests.conftest import ApiClient
from tests.review.test_attack_25 import slipped

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_an_offer_ended_while_the_person_taps_is_unavailable_not_a_500(
    api: ApiClient, catalog: int
) -> None:
    from outreach.services import Unavailable, person_choose

    referral, token, placement = slipped(api)
    session = sessions_offered(placement, timezone.now())[0]
    locked = threading.Event()

    def organisation_rejects() -> None:
        try:
            with transaction.atomic():
                Referral.objects.select_for_update().get(id=referral.id)
                Placement.objects.filter(id=placement.id).update(status="rejected")
                locked.set()
                clock.sleep(1.0)
        finally:
            from django.db import connection as c

            c.close()

    thread = threading.Thread(target=organisation_rejects)
    thread.start()
    assert locked.wait(10)
    try:
        with pytest.raises(Unavailable):
            person_choose(token, placement.id, session)
    finally:
        thread.join()
