"""The transactional outbox: events are rows, written with the change they describe.

1. A service calls `event_record` inside its transaction; the event commits or rolls
   back with the change, so no change goes unannounced and no event announces a change
   that did not happen.
2. An event that triggers work is claimed for publishing in that same transaction
   (`published_at` set, `publish_count` 1), and right after commit it is handed to the
   broker from memory: no read and no write more on the request's path. If the broker
   refuses it, the claim is given back (`published_at` cleared) for the next sweep; if
   the process dies between commit and hand-off, the claim goes stale and the sweep
   publishes it again after `TISSER_OUTBOX_RETRY_SECONDS`. Events that trigger no work
   are stored as processed.
3. A relay calls `events_sweep` periodically: it publishes events that were never
   published (the broker was down) and re-publishes events whose work did not complete
   in time (a message lost with an in-memory queue, a worker killed mid-job, a process
   that died before handing its event over). Actors are idempotent, so a duplicate
   message does no harm.

Several relays may sweep at once: each event is claimed with a conditional UPDATE on
the `published_at` value the relay read, so exactly one of them publishes it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.broker import BROKER_ERRORS
from core.bulk import rows_insert
from core.logs import request_id
from events.models import Event

logger = logging.getLogger(__name__)

# What an event may carry, type by type: ids, codes, states, counts and dates, never
# free text or anything about the person (a name, a note, a reason in someone's words).
# Every payload is checked against this list when it is written (`payload_check`), and
# erasure cuts stored payloads back to it (`payload_scrub`), so an event written by an
# older version loses what it should never have held.
_REFERRAL = frozenset({"referral_id", "code"})
_PLACEMENT = frozenset(
    {
        "placement_id",
        "referral_id",
        "referral_code",
        "organization_id",
        "service_id",
        "service_at_location_id",
        "status",
        "status_reason",
    }
)
_PLACEMENT_TYPES = (
    "requested",
    "accepted",
    "rejected",
    "cancelled",
    "in-progress",
    "on-hold",
    "completed",
    "failed",
    "expired",
)
EVENT_PAYLOAD_KEYS: dict[str, frozenset[str]] = {
    "referral.submitted": _REFERRAL,
    "referral.matching": _REFERRAL,
    "referral.matched": _REFERRAL | {"matches", "rematched"},
    "referral.unmatched": _REFERRAL | {"matches", "rematched"},
    "referral.slip_ready": _REFERRAL | {"slip_bytes", "slip_version"},
    "referral.cancelled": _REFERRAL,
    "referral.completed": _REFERRAL | {"outcomes"},
    "referral.consent_withdrawn": _REFERRAL,
    "referral.purged": _REFERRAL | {"retention_days"},
    "referral.wellbeing_recorded": _REFERRAL | {"timepoint", "placement_id"},
    **{f"placement.{name}": _PLACEMENT for name in _PLACEMENT_TYPES},
    "placement.reminder": _PLACEMENT | {"expires_at"},
    # What the person said on their own page (outreach): patient-reported, kept apart
    # from the organisation's answers.
    "placement.patient_chose": _PLACEMENT | {"chosen_session"},
    "placement.patient_reported": _PLACEMENT | {"patient_report"},
    "referral.other_wanted": _REFERRAL | {"cancelled"},
    # Messages to the person: which one, by which channel, and how it went (a code).
    "referral.message_sent": _REFERRAL | {"message_id", "kind", "channel"},
    "referral.message_failed": _REFERRAL | {"message_id", "kind", "channel", "reason"},
    "referral.messages_stopped": _REFERRAL | {"by"},
    "service.updated": frozenset({"action", "changes", "status"}),
    "service.closed": frozenset({"status", "reason", "changes"}),
    "capacity.changed": frozenset(
        {"service_at_location_id", "status", "available", "maximum", "source"}
    ),
    "taxonomy.changed": frozenset({"change", "code", "fields"}),
}


def payload_check(type: str, payload: dict[str, Any]) -> None:
    """Refuse an event type or a payload key the list above does not know: a new key is
    a decision to make there, not a side effect of a change elsewhere."""
    allowed = EVENT_PAYLOAD_KEYS.get(type)
    if allowed is None:
        raise ValueError(f"unknown event type {type!r}: add it to EVENT_PAYLOAD_KEYS")
    extra = set(payload) - allowed
    if extra:
        raise ValueError(f"event {type!r} may not carry {sorted(extra)}")


def event_referral_id(event: Event) -> str | None:
    """The referral an event is about, if any (a catalogue change is about none)."""
    if event.aggregate_type == "referral":
        return str(event.aggregate_id)
    found = event.payload.get("referral_id")
    return str(found) if found else None


# Keys an event carries only until the person is erased: the day they said they would
# come somewhere is theirs.
ERASED_WITH_THE_PERSON = frozenset({"chosen_session"})


def payload_scrub(type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload cut back to what its type may carry once the person is erased
    (nothing, for an unknown type)."""
    allowed = EVENT_PAYLOAD_KEYS.get(type, frozenset()) - ERASED_WITH_THE_PERSON
    return {key: value for key, value in payload.items() if key in allowed}


# The events that trigger work: kept here, with the events, so that whether an event
# waits for its work never depends on what a process registered. Events of other types
# trigger nothing yet and are stored as processed.
WORK_EVENTS = frozenset(
    {
        "referral.submitted",
        "referral.matched",
        "referral.unmatched",
        "placement.rejected",
        "placement.expired",
        "capacity.changed",
        "referral.other_wanted",
    }
)
# Which actor does that work, registered by the workers app when it starts
# (`event_handler_register`): the outbox names actors, it never imports them. An event
# whose actor is not registered in this process stays pending, for a process that has
# it (the relay's sweep); it is never marked done without its work.
EVENT_HANDLERS: dict[str, str] = {}

# What else must happen in the transaction that records events: the apps above register
# it (`events_recorded_register`): webhook deliveries (events.apps), matching's index of
# the services that changed (matching.apps).
RecordedHook = Callable[[list[Event]], object]
_recorded_hooks: list[RecordedHook] = []

# Who may see an event of an aggregate type whose owner the recorder did not name: a
# catalogue event's audience is the organisation that runs the service
# (community_catalog.apps registers it). Given aggregate ids, answers their owners.
AudienceFinder = Callable[[list[uuid.UUID]], dict[uuid.UUID, uuid.UUID]]
_audiences: dict[str, AudienceFinder] = {}


def event_handler_register(event_type: str, actor_name: str) -> None:
    if event_type not in WORK_EVENTS:
        raise ValueError(f"{event_type!r} triggers no work (events.outbox.WORK_EVENTS)")
    EVENT_HANDLERS[event_type] = actor_name


def events_recorded_register(hook: RecordedHook) -> None:
    if hook not in _recorded_hooks:
        _recorded_hooks.append(hook)


def audience_register(aggregate_type: str, finder: AudienceFinder) -> None:
    _audiences[aggregate_type] = finder


def _owners(aggregate_type: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    finder = _audiences.get(aggregate_type)
    return finder(ids) if finder is not None and ids else {}


def _recorded(events: list[Event]) -> None:
    for hook in _recorded_hooks:
        hook(events)


def event_record(
    *,
    type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    payload: dict[str, Any] | None = None,
    health_center_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> Event:
    """Write an event in the caller's transaction, and publish it once that commits.

    `health_center_id` and `organization_id` name who may see it: their event feeds and
    their webhook subscriptions receive it.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change")
    if organization_id is None:
        organization_id = _owners(aggregate_type, [aggregate_id]).get(aggregate_id)
    payload = payload or {}
    payload_check(type, payload)
    now = timezone.now()
    works = type in WORK_EVENTS
    event = Event.objects.create(
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload,
        health_center_id=health_center_id,
        organization_id=organization_id,
        request_id=request_id.get(),
        created_at=now,
        # Claimed in this transaction; handed to the broker once it commits.
        published_at=now if works else None,
        publish_count=1 if works else 0,
        processed_at=None if works else now,
    )
    if works:
        transaction.on_commit(lambda: _hand_over(event))
    _recorded([event])
    return event


# From this many events at once, `rows_insert` writes them.
_MANY = 100


@dataclass(frozen=True)
class EventDraft:
    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    payload: dict[str, Any] = field(default_factory=dict)
    health_center_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None


def events_record(drafts: list[EventDraft]) -> list[Event]:
    """Write many events in the caller's transaction at once (an import announces
    thousands of changes). Events that trigger no work yet are stored as processed: they
    are the record of the change, and nothing waits on them."""
    if not connection.in_atomic_block:
        raise RuntimeError("events_record must run inside the transaction of the change")
    for draft in drafts:
        payload_check(draft.type, draft.payload)
    now = timezone.now()
    rid = request_id.get()
    owners: dict[uuid.UUID, uuid.UUID] = {}
    for aggregate_type in {d.aggregate_type for d in drafts if not d.organization_id}:
        owners |= _owners(
            aggregate_type,
            [
                d.aggregate_id
                for d in drafts
                if d.aggregate_type == aggregate_type and not d.organization_id
            ],
        )
    events = [
        Event(
            type=draft.type,
            aggregate_type=draft.aggregate_type,
            aggregate_id=draft.aggregate_id,
            payload=draft.payload,
            health_center_id=draft.health_center_id,
            organization_id=draft.organization_id or owners.get(draft.aggregate_id),
            created_at=now,
            published_at=now if draft.type in WORK_EVENTS else None,
            publish_count=1 if draft.type in WORK_EVENTS else 0,
            processed_at=None if draft.type in WORK_EVENTS else now,
            request_id=rid,
        )
        for draft in drafts
    ]
    if len(events) < _MANY:
        Event.objects.bulk_create(events)  # one INSERT … RETURNING
    else:
        # An import announces thousands of changes: values prepared once per column,
        # not once per value as bulk_create does (its keys take one query more).
        rows_insert(Event, events)
    to_publish = [e for e in events if e.processed_at is None and e.id is not None]
    if to_publish:
        transaction.on_commit(lambda: _hand_over_all(to_publish))
    _recorded(events)
    return events


def event_mark_processed(event_id: int) -> None:
    """Record that the work `event_id` triggered is done; call it in that work's transaction."""
    Event.objects.filter(id=event_id, processed_at__isnull=True).update(processed_at=timezone.now())


def _hand_over_all(events: list[Event]) -> None:
    for event in events:
        _hand_over(event)


def _hand_over(event: Event) -> None:
    """Send an event its transaction claimed and committed. A refusal gives the claim
    back for the next sweep; it is not counted as a publish."""
    if not _send(event):
        Event.objects.filter(id=event.id, published_at=event.published_at).update(
            published_at=None, publish_count=F("publish_count") - 1
        )


def _send(event: Event) -> bool:
    actor_name = EVENT_HANDLERS.get(event.type)
    if actor_name is None:
        logger.error(
            "event %s (%s) not published: no actor registered for it in this process "
            "(is the workers app installed?)",
            event.id,
            event.type,
        )
        return False
    try:
        actor = dramatiq.get_broker().get_actor(actor_name)
        # The message carries the id of the request that wrote the event, so the work it
        # triggers logs under that id even when the relay sends it later.
        actor.send_with_options(
            kwargs={"event_id": event.id, "aggregate_id": str(event.aggregate_id)},
            request_id=event.request_id,
        )
    except BROKER_ERRORS as exc:
        logger.warning("event %s not published, broker unavailable: %s", event.id, exc)
        return False
    return True


def events_sweep(*, stale_before: datetime | None = None, limit: int = 500) -> int:
    """Publish unpublished events, and re-publish those published before `stale_before`
    whose work has not completed. Returns how many events were handed to the broker."""
    if stale_before is None:
        stale_before = timezone.now() - timedelta(seconds=settings.TISSER_OUTBOX_RETRY_SECONDS)
    pending = Event.objects.filter(processed_at__isnull=True, failed_at__isnull=True).filter(
        Q(published_at__isnull=True) | Q(published_at__lt=stale_before)
    )
    return sum(1 for event in pending.order_by("id")[:limit] if _publish(event))


def _claim(event: Event, now: datetime) -> bool:
    """Take `event` for publishing; False when another relay took it first."""
    seen = (
        Q(published_at__isnull=True)
        if event.published_at is None
        else Q(published_at=event.published_at)
    )
    claimed = Event.objects.filter(seen, id=event.id, processed_at__isnull=True).update(
        published_at=now
    )
    return claimed == 1


def _publish(event: Event) -> bool:
    now = timezone.now()
    if event.publish_count >= settings.TISSER_OUTBOX_MAX_PUBLISHES:
        # Each publish already had the actor's own retries: this work keeps failing.
        Event.objects.filter(id=event.id, failed_at__isnull=True).update(failed_at=now)
        logger.error(
            "event %s (%s) failed after %s publishes", event.id, event.type, event.publish_count
        )
        return False
    if not _claim(event, now):
        return False
    if event.type not in WORK_EVENTS:
        event_mark_processed(event.id)
        return True
    if not _send(event):
        # The broker is unreachable: give the claim back so the next sweep retries.
        # Failed hand-offs do not count towards the publish limit: an outage only delays.
        Event.objects.filter(id=event.id, published_at=now).update(published_at=None)
        return False
    Event.objects.filter(id=event.id).update(publish_count=F("publish_count") + 1)
    return True
