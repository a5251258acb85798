"""dramatiq actors: thin interfaces that validate their payload, load by id and call one
function. Delivery is at least once, so every function they call is idempotent.

Payloads carry the outbox event's id (to mark the work done in the same transaction as
the work) and the id of the thing to work on.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import dramatiq
from pydantic import BaseModel, ValidationError

from accounts.services import sign_in_logs_prune
from events.webhooks import webhook_deliver
from harvest.runs import leased_run
from outreach.sending import message_send
from outreach.staff import staff_notices_prune, staff_notices_send
from referrals.matching_jobs import (
    capacity_changed,
    placement_rematch,
    referral_match,
    referral_rematch,
)
from referrals.retention import retention_purge
from slips.services import referral_render_slip
from workers.webhook_threads import WEBHOOKS_QUEUE

MATCHING_QUEUE = "matching"
SLIPS_QUEUE = "slips"
# Messages to the person: never behind a long matching or rendering backlog.
MESSAGES_QUEUE = "messages"
# Housekeeping that can wait behind everything else.
MAINTENANCE_QUEUE = "maintenance"
# Webhook calls wait on other people's servers: WEBHOOKS_QUEUE, with threads of its own
# in every worker (workers.webhook_threads), keeps them from delaying matching and slips.


class EventJob(BaseModel):
    event_id: int
    aggregate_id: uuid.UUID


@dramatiq.actor(
    queue_name=MATCHING_QUEUE,
    max_retries=5,
    min_backoff=1_000,
    time_limit=60_000,
    # A malformed payload will never become valid: retrying it only delays the queue.
    throws=(ValidationError,),
)
def match_referral(event_id: int, aggregate_id: str) -> None:
    job = EventJob(event_id=event_id, aggregate_id=aggregate_id)  # type: ignore[arg-type]
    referral_match(referral_id=job.aggregate_id, event_id=job.event_id)


@dramatiq.actor(
    queue_name=SLIPS_QUEUE,
    max_retries=5,
    min_backoff=1_000,
    time_limit=120_000,
    throws=(ValidationError,),
)
def render_slip(event_id: int, aggregate_id: str) -> None:
    job = EventJob(event_id=event_id, aggregate_id=aggregate_id)  # type: ignore[arg-type]
    referral_render_slip(referral_id=job.aggregate_id, event_id=job.event_id)


@dramatiq.actor(
    queue_name=MATCHING_QUEUE,
    max_retries=5,
    min_backoff=1_000,
    time_limit=60_000,
    throws=(ValidationError,),
)
def rematch_referral(event_id: int, aggregate_id: str) -> None:
    """A placement was rejected or expired (`aggregate_id` is the placement)."""
    job = EventJob(event_id=event_id, aggregate_id=aggregate_id)  # type: ignore[arg-type]
    placement_rematch(placement_id=job.aggregate_id, event_id=job.event_id)


@dramatiq.actor(
    queue_name=MATCHING_QUEUE,
    max_retries=5,
    min_backoff=1_000,
    time_limit=60_000,
    throws=(ValidationError,),
)
def rematch_for_person(event_id: int, aggregate_id: str) -> None:
    """The person asked for something else on their page (`aggregate_id` is the
    referral): the next best activities, never one already offered."""
    job = EventJob(event_id=event_id, aggregate_id=aggregate_id)  # type: ignore[arg-type]
    referral_rematch(referral_id=job.aggregate_id, event_id=job.event_id)


@dramatiq.actor(
    queue_name=MATCHING_QUEUE,
    max_retries=5,
    min_backoff=1_000,
    time_limit=300_000,
    throws=(ValidationError,),
)
def capacity_rematch(event_id: int, aggregate_id: str) -> None:
    """A place's capacity changed (`aggregate_id` is the service)."""
    job = EventJob(event_id=event_id, aggregate_id=aggregate_id)  # type: ignore[arg-type]
    capacity_changed(event_id=job.event_id)


class MessageJob(BaseModel):
    message_id: uuid.UUID
    lease: datetime


@dramatiq.actor(
    queue_name=MESSAGES_QUEUE,
    # One attempt per message: a transient failure schedules the next itself, with the
    # attempt count kept in the database (outreach.sending), and the relay hands it over
    # again when it is due.
    max_retries=0,
    time_limit=60_000,
    throws=(ValidationError,),
)
def send_message(message_id: str, lease: str) -> None:
    job = MessageJob(message_id=message_id, lease=lease)  # type: ignore[arg-type]
    message_send(job.message_id, job.lease)


class StaffNoticesJob(BaseModel):
    user_id: int
    lease: datetime


@dramatiq.actor(
    queue_name=MESSAGES_QUEUE, max_retries=0, time_limit=60_000, throws=(ValidationError,)
)
def send_staff_notices(user_id: int, lease: str) -> None:
    """A staff member's notices that are due, as one e-mail (outreach.staff)."""
    job = StaffNoticesJob(user_id=user_id, lease=lease)  # type: ignore[arg-type]
    staff_notices_send(job.user_id, job.lease)


class DeliveryJob(BaseModel):
    delivery_id: uuid.UUID


@dramatiq.actor(
    queue_name=WEBHOOKS_QUEUE,
    # One attempt per message: a failed attempt schedules the next itself, with the
    # backoff and attempt count kept in the database (see events.webhooks).
    max_retries=0,
    time_limit=60_000,
    throws=(ValidationError,),
)
def deliver_webhook(delivery_id: str) -> None:
    job = DeliveryJob(delivery_id=delivery_id)  # type: ignore[arg-type]
    webhook_deliver(job.delivery_id)


@dramatiq.actor(
    queue_name=MAINTENANCE_QUEUE, max_retries=3, min_backoff=60_000, time_limit=3_600_000
)
def purge_personal_data() -> None:
    """Erase the personal data of referrals closed longer ago than TISSER_RETENTION_DAYS.
    The relay sends it every TISSER_RETENTION_CHECK_SECONDS; a run that is missed (the
    broker was down) is made up by the next, which purges everything due."""
    retention_purge()
    sign_in_logs_prune()
    staff_notices_prune()


@dramatiq.actor(queue_name=MAINTENANCE_QUEUE, max_retries=0, time_limit=4 * 3_600_000)
def harvest_source(source_id: str, lease: str) -> None:
    """Run a directory source the relay found due. Not retried: a failed run records
    its failure and the source's next attempt (`harvest.schedule`), and a lost message is
    made up when its lease ends."""
    leased_run(source_id, lease)
