"""The outbox relay: every event reaches the broker, once per sweep, whatever runs at once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import dramatiq
import pytest
import redis
from django.db import connection
from django.utils import timezone
from dramatiq.middleware import Middleware

from events.models import Event
from events.outbox import events_sweep


class EnqueueRecorder(Middleware):
    """Records what reaches the broker, through dramatiq's own middleware hooks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.event_ids: list[int] = []

    def after_enqueue(self, broker, message, delay) -> None:
        with self.lock:
            self.event_ids.append(message.kwargs["event_id"])


@pytest.fixture
def recorder(broker: dramatiq.Broker):
    recorder = EnqueueRecorder()
    broker.add_middleware(recorder)
    yield recorder
    broker.middleware.remove(recorder)


def stranded_events(count: int, **fields) -> list[Event]:
    """Events written while nothing published them (the broker was down, say)."""
    return Event.objects.bulk_create(
        Event(
            type="referral.submitted",
            aggregate_type="referral",
            aggregate_id=uuid.uuid4(),
            **fields,
        )
        for _ in range(count)
    )


@pytest.mark.django_db(transaction=True)
def test_two_relays_sweeping_at_once_publish_each_event_once(recorder) -> None:
    events = stranded_events(300)
    start = threading.Barrier(2)
    published: list[int] = []

    def relay() -> None:
        start.wait()
        try:
            published.append(events_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(published) == 300
    assert sorted(recorder.event_ids) == sorted(e.id for e in events)
    assert Event.objects.filter(published_at__isnull=True).count() == 0
    assert set(Event.objects.values_list("publish_count", flat=True)) == {1}


@pytest.mark.django_db
def test_a_sweep_leaves_recent_and_finished_work_alone(recorder) -> None:
    now = timezone.now()
    stranded_events(2, published_at=now - timedelta(seconds=5), publish_count=1)
    stranded_events(2, published_at=now - timedelta(hours=1), processed_at=now, publish_count=1)
    stale = stranded_events(1, published_at=now - timedelta(hours=1), publish_count=1)

    assert events_sweep() == 1
    assert recorder.event_ids == [stale[0].id]


@pytest.mark.django_db
def test_work_that_keeps_failing_is_set_aside(recorder, settings) -> None:
    settings.TISSER_OUTBOX_MAX_PUBLISHES = 3
    old = timezone.now() - timedelta(hours=1)
    [event] = stranded_events(1, published_at=old, publish_count=3)

    assert events_sweep() == 0

    event.refresh_from_db()
    assert event.failed_at is not None
    assert recorder.event_ids == []


@pytest.mark.django_db
def test_events_without_a_handler_are_marked_processed(recorder) -> None:
    [event] = Event.objects.bulk_create(
        [Event(type="referral.matching", aggregate_type="referral", aggregate_id=uuid.uuid4())]
    )

    assert events_sweep() == 1

    event.refresh_from_db()
    assert event.processed_at is not None
    assert recorder.event_ids == []


@pytest.mark.django_db(transaction=True)
def test_an_event_is_claimed_with_its_change_and_handed_over_after_commit(
    recorder, broker: dramatiq.Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import transaction

    from events.outbox import event_record

    with transaction.atomic():
        event = event_record(
            type="referral.submitted", aggregate_type="referral", aggregate_id=uuid.uuid4()
        )
        # Claimed in the transaction of the change: no sweep takes it meanwhile.
        assert recorder.event_ids == []
    event.refresh_from_db()
    assert event.published_at is not None
    assert event.publish_count == 1
    assert recorder.event_ids == [event.id]

    # The broker refuses the next one: the claim is given back, not counted, and the
    # next sweep publishes it.
    actor = broker.get_actor("match_referral")
    real_send = actor.send_with_options

    def refuse(**options):
        raise redis.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(actor, "send_with_options", refuse)
    with transaction.atomic():
        refused = event_record(
            type="referral.submitted", aggregate_type="referral", aggregate_id=uuid.uuid4()
        )
    refused.refresh_from_db()
    assert (refused.published_at, refused.publish_count) == (None, 0)
    monkeypatch.setattr(actor, "send_with_options", real_send)
    assert events_sweep() == 1
    assert recorder.event_ids == [event.id, refused.id]


@pytest.mark.django_db
def test_an_event_without_work_is_stored_as_processed(recorder) -> None:
    from django.db import transaction

    from events.outbox import event_record

    with transaction.atomic():
        event = event_record(
            type="referral.cancelled", aggregate_type="referral", aggregate_id=uuid.uuid4()
        )
    assert event.processed_at is not None
    assert event.published_at is None
    assert events_sweep() == 0
