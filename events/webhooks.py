"""Webhooks: health centres and organisations subscribe URLs to the events they may see.

- A delivery row is written in the same transaction as its event (`webhook_deliveries_
  create`, called by the outbox), so no committed event misses a subscriber.
- `deliver_webhook` (an actor) makes one attempt at a time. A failed attempt schedules
  the next one with exponential backoff, sent to the broker with a delay; the relay's
  sweep re-sends any delivery whose delayed message was lost (a broker restart).
- After `TISSER_WEBHOOK_MAX_ATTEMPTS` the delivery is `failed`: the dead-letter list,
  visible in the API and the admin, where it can be redelivered.
- One party's receivers must not hold every worker's webhook threads (ten subscriptions
  to a URL that never answers, each event then costs ten deliveries of a whole deadline,
  twelve times over). So:
  - a centre or an organisation has at most `TISSER_WEBHOOK_OWNER_CONCURRENCY`
    deliveries in flight, in all processes (`core.concurrency`'s slots, in Redis). A
    delivery that finds its owner busy is put back for half a deadline: not tried, so
    not counted; it stays pending, so the sweep re-sends it if that message is lost;
  - a breaker per subscription: after `TISSER_WEBHOOK_BREAKER_FAILURES` attempts in a
    row that got no answer (timeout, connection or TLS failure, URL refused), its
    deliveries wait, untried, until `TISSER_WEBHOOK_BREAKER_SECONDS` after the last such
    attempt; then one is tried again. Any answer, even an error status, closes it: the
    receiver is there, and answering costs no one a thread for long. Redelivering, or
    changing the URL, closes it too.
- Requests are signed per the Standard Webhooks specification (`webhook-id`,
  `webhook-timestamp`, `webhook-signature`) with the `standardwebhooks` package, so
  receivers verify them with any Standard Webhooks library.
- How a request reaches its receiver (one resolution, checked and connected to, one
  deadline, nothing kept of the answer but its status) is `events.webhook_transport`.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import dramatiq
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.query import RawQuerySet
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import HealthCenter
from core.broker import BROKER_ERRORS
from core.concurrency import Busy, concurrency_slot
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from events.models import Event, WebhookDelivery, WebhookSubscription
from events.webhook_transport import (
    Resolve,
    UrlRefused,
    addresses_checked,
    host_resolve,
    webhook_post,
)

logger = logging.getLogger(__name__)

# The events a subscription may ask for. Each party receives only those about its own
# referrals, placements and services.
WEBHOOK_EVENT_TYPES = (
    "referral.submitted",
    "referral.matching",
    "referral.matched",
    "referral.unmatched",
    "referral.slip_ready",
    "referral.cancelled",
    "referral.completed",
    "referral.consent_withdrawn",
    "referral.purged",
    "referral.wellbeing_recorded",
    "placement.requested",
    "placement.accepted",
    "placement.rejected",
    "placement.cancelled",
    "placement.in-progress",
    "placement.on-hold",
    "placement.completed",
    "placement.failed",
    "placement.reminder",
    "placement.expired",
    "service.updated",
    "service.closed",
    "capacity.changed",
)
_MAX_BACKOFF = timedelta(hours=6)
_USER_AGENT = "Tisser-Webhooks/1"
# Registering a URL resolves its host on the request's thread: this long at most (and no
# longer than a delivery's whole deadline, which must fit the resolution too).
_CHECK_RESOLVE_SECONDS = 3.0

Owner = HealthCenter | Any  # a HealthCenter or a community_catalog Organization


# --- Subscriptions -------------------------------------------------------------------


def _owner_filter(owner: Owner) -> Q:
    if isinstance(owner, HealthCenter):
        return Q(health_center=owner)
    return Q(organization=owner)


def webhook_secret_generate() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_list(owner: Owner) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(_owner_filter(owner))


def webhook_get(owner: Owner, subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = webhook_list(owner).filter(id=subscription_id).first()
    if subscription is None:
        raise NotFound("No webhook subscription with this id.")
    return subscription


def event_types_check(event_types: list[str]) -> None:
    unknown = [
        FieldProblem(f"event_types[{i}]", f"unknown event type {name!r}")
        for i, name in enumerate(event_types)
        if name not in WEBHOOK_EVENT_TYPES
    ]
    if unknown:
        raise InvalidInput(
            "Unknown event types; see the list in the API documentation.", fields=unknown
        )


def webhook_create(
    owner: Owner, *, url: str, event_types: list[str], description: str = ""
) -> WebhookSubscription:
    """Subscribe `url`, within the party's allowance of subscriptions (each one is a
    delivery per event, made by Tisser's workers)."""
    event_types_check(event_types)
    url_check(url)
    owner_field = "health_center" if isinstance(owner, HealthCenter) else "organization"
    limit = settings.TISSER_WEBHOOK_MAX_SUBSCRIPTIONS
    with transaction.atomic():
        # The owner's row, locked, queues two creations at once, so that both cannot
        # count the same number (SQLite's writers queue already).
        list(type(owner).objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
        if webhook_list(owner).count() >= limit:
            raise Conflict(
                f"You have {limit} webhooks, the most allowed: delete one you no longer "
                "need, or subscribe one URL to more event types.",
                code="webhook_limit_reached",
                extra={"limit": limit},
            )
        return WebhookSubscription.objects.create(
            url=url,
            event_types=sorted(set(event_types)),
            description=description,
            secret=webhook_secret_generate(),
            **{owner_field: owner},
        )


def webhook_update(
    owner: Owner, subscription_id: uuid.UUID, changes: dict[str, Any]
) -> WebhookSubscription:
    subscription = webhook_get(owner, subscription_id)
    if "event_types" in changes:
        event_types_check(changes["event_types"])
    if "url" in changes:
        url_check(changes["url"])
    for name, value in changes.items():
        setattr(subscription, name, sorted(set(value)) if name == "event_types" else value)
    if "url" in changes or changes.get("active"):
        subscription.failures_in_a_row = 0  # a new URL, or the owner says it is back
    subscription.save()
    return subscription


def webhook_secret_rotate(owner: Owner, subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = webhook_get(owner, subscription_id)
    subscription.secret = webhook_secret_generate()
    subscription.save(update_fields=["secret"])
    return subscription


def url_check(url: str, *, field: str = "url", resolve: Resolve = host_resolve) -> None:
    """Refuse URLs that would make Tisser call into its own network (SSRF), unless
    `TISSER_WEBHOOK_ALLOW_PRIVATE` allows it; in production, HTTPS only."""
    problem = url_problem(url, resolve=resolve)
    if problem:
        raise InvalidInput("The webhook URL cannot be used.", fields=[FieldProblem(field, problem)])


def url_problem(url: str, *, resolve: Resolve = host_resolve) -> str:
    """What makes `url` unfit for a webhook, or "". Each delivery checks its host's
    addresses again, at the moment it connects (they may have changed since). A host
    not resolved in `_CHECK_RESOLVE_SECONDS` (or a delivery's deadline, if shorter) is
    refused: the check runs on the request's thread."""
    problem = _url_form_problem(url)
    if problem or settings.TISSER_WEBHOOK_ALLOW_PRIVATE:
        return problem
    parts = urlsplit(url)
    within = min(_CHECK_RESOLVE_SECONDS, settings.TISSER_WEBHOOK_TIMEOUT_SECONDS)
    try:
        addresses_checked(str(parts.hostname), parts.port or 443, within=within, resolve=resolve)
    except UrlRefused as exc:
        return str(exc)
    return ""


def _url_form_problem(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "must not contain spaces or control characters"
    if settings.PRODUCTION and parts.scheme != "https":
        return "must use https"
    if parts.username or parts.password:
        return "must not contain credentials; verify the signature instead"
    return ""


# --- Deliveries ----------------------------------------------------------------------


def webhook_deliveries_create(events: list[Event]) -> list[WebhookDelivery]:
    """Create the deliveries of `events` (in their transaction) and send them after commit."""
    centers = {e.health_center_id for e in events if e.health_center_id}
    organizations = {e.organization_id for e in events if e.organization_id}
    if not centers and not organizations:
        return []
    by_owner: dict[Any, list[WebhookSubscription]] = defaultdict(list)
    for subscription in _active_subscriptions(centers, organizations):
        by_owner[subscription.health_center_id or subscription.organization_id].append(subscription)
    if not by_owner:
        return []
    deliveries = [
        WebhookDelivery(subscription=subscription, event=event)
        for event in events
        for owner in (event.health_center_id, event.organization_id)
        if owner
        for subscription in by_owner.get(owner, [])
        if subscription.wants(event.type)
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.id for d in deliveries]
    if ids:
        transaction.on_commit(lambda: _send(ids))
    return deliveries


_UUID = models.UUIDField()


def _active_subscriptions(
    centers: set[uuid.UUID], organizations: set[uuid.UUID]
) -> RawQuerySet[WebhookSubscription]:
    """The active subscriptions of these owners, with what fanning out needs. Every
    event recorded asks this (a referral's, three times on its way to a slip), and most
    find none: the statement is written here rather than composed by the ORM each time,
    which took most of the lookup's time."""
    conditions, params = [], []
    for column, ids in (("health_center_id", centers), ("organization_id", organizations)):
        if ids:  # only the owners there are (most events have one): no empty IN
            conditions.append(f"{column} IN ({', '.join(['%s'] * len(ids))})")
            params += [_UUID.get_db_prep_value(i, connection) for i in sorted(ids)]
    return WebhookSubscription.objects.raw(
        "SELECT id, health_center_id, organization_id, event_types, active, created_at "  # noqa: S608 - fixed names; values are parameters
        f"FROM {WebhookSubscription._meta.db_table} "
        f"WHERE active = %s AND ({' OR '.join(conditions)}) ORDER BY created_at, id",
        [True, *params],
    )


def _send(delivery_ids: list[uuid.UUID], *, delay_ms: int | None = None) -> None:
    try:
        actor = dramatiq.get_broker().get_actor("deliver_webhook")
        for delivery_id in delivery_ids:
            actor.send_with_options(args=(str(delivery_id),), delay=delay_ms)
    except BROKER_ERRORS as exc:
        # The relay's sweep sends it once the broker is back.
        logger.warning("webhook deliveries not sent, broker unavailable: %s", exc)


def webhook_body(event: Event) -> dict[str, Any]:
    """The Standard Webhooks payload: `type`, `timestamp`, `data`."""
    return {
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": {
            "event_id": event.id,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": str(event.aggregate_id),
            **event.payload,
        },
    }


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: base, then twice, four times as long, capped."""
    wait = timedelta(seconds=settings.TISSER_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1))
    return min(wait, _MAX_BACKOFF)


def webhook_deliver(
    delivery_id: uuid.UUID, *, now: datetime | None = None, resolve: Resolve = host_resolve
) -> str | None:
    """Make one attempt at a delivery that is due. Returns its status afterwards, or None
    when there was nothing to do (delivered, dead, not yet due, or another worker took
    it). Safe to call twice: the claim lets one attempt through. `resolve` answers the
    receiver's addresses (the system's resolver).

    A delivery whose subscription's breaker is open, or whose owner has its allowance of
    deliveries in flight, is put back for later, untried: it stays pending, and its
    attempts are not counted.

    The attempt is counted when it is claimed, so an attempt that never finishes (the
    worker killed, a server that keeps the connection open) still counts towards the
    dead-letter limit.
    """
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_related("subscription", "event")
        .filter(id=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None or delivery.next_attempt_at > now + timedelta(seconds=1):
        return None
    subscription = delivery.subscription
    pending = WebhookDelivery.objects.filter(
        id=delivery.id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=delivery.next_attempt_at,
    )
    if delivery.attempts >= settings.TISSER_WEBHOOK_MAX_ATTEMPTS or not subscription.active:
        error = "" if subscription.active else "the subscription is inactive"
        pending.update(status=WebhookDelivery.Status.FAILED, last_error=error or F("last_error"))
        return WebhookDelivery.Status.FAILED
    paused_until = _breaker_open_until(subscription)
    if paused_until is not None and paused_until > now:
        why = f"paused: {subscription.failures_in_a_row} attempts in a row got no answer"
        return _put_back(delivery.id, pending, paused_until, last_error=why)
    owner = subscription.health_center_id or subscription.organization_id
    try:
        with concurrency_slot(
            f"webhook:{owner}", limit=settings.TISSER_WEBHOOK_OWNER_CONCURRENCY, retry_after=1
        ):
            return _attempt(delivery, pending, now, resolve)
    except Busy:  # taking the slot; `_attempt` raises no `Busy`
        wait = timedelta(seconds=settings.TISSER_WEBHOOK_TIMEOUT_SECONDS / 2)
        return _put_back(delivery.id, pending, now + wait)


def _attempt(
    delivery: WebhookDelivery, pending: QuerySet[WebhookDelivery], now: datetime, resolve: Resolve
) -> str | None:
    """Claim the delivery, POST it, record the outcome and schedule the next try."""
    # Claim: push the due time forward as a lease, conditionally on the value read.
    lease = now + timedelta(seconds=settings.TISSER_WEBHOOK_TIMEOUT_SECONDS * 3)
    if not pending.update(next_attempt_at=lease, attempts=F("attempts") + 1, last_attempt_at=now):
        return None

    status_code, error = _post(delivery, resolve)
    _breaker_record(delivery.subscription_id, answered=status_code is not None)
    attempts = delivery.attempts + 1
    done = status_code is not None and 200 <= status_code < 300
    changes: dict[str, Any] = {"last_status_code": status_code, "last_error": error[:500]}
    if done:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now())
    elif attempts >= settings.TISSER_WEBHOOK_MAX_ATTEMPTS:
        changes.update(status=WebhookDelivery.Status.FAILED)
        logger.warning("webhook delivery %s failed after %s tries", delivery.id, attempts)
    else:
        changes.update(next_attempt_at=timezone.now() + backoff(attempts))
    WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.PENDING).update(
        **changes
    )
    if "next_attempt_at" in changes:
        _send([delivery.id], delay_ms=int(backoff(attempts).total_seconds() * 1000))
    return str(changes.get("status", WebhookDelivery.Status.PENDING))


def _put_back(
    delivery_id: uuid.UUID,
    pending: QuerySet[WebhookDelivery],
    until: datetime,
    *,
    last_error: str | None = None,
) -> str | None:
    """Hold a due delivery until `until`, untried: its message is sent again with that
    delay, and if it is lost the sweep finds the delivery pending and overdue. Only one
    worker moves it (conditionally on the due time read), so copies of its message do
    not multiply."""
    changes: dict[str, Any] = {"next_attempt_at": until}
    if last_error is not None:
        changes["last_error"] = last_error
    if not pending.update(**changes):
        return None
    delay = max(until - timezone.now(), timedelta(0))
    _send([delivery_id], delay_ms=int(delay.total_seconds() * 1000))
    return WebhookDelivery.Status.PENDING


def _breaker_open_until(subscription: WebhookSubscription) -> datetime | None:
    """When a subscription whose receiver keeps not answering may be tried again, or
    None while it has answered recently enough."""
    if (
        subscription.failures_in_a_row < settings.TISSER_WEBHOOK_BREAKER_FAILURES
        or subscription.last_failure_at is None
    ):
        return None
    return subscription.last_failure_at + timedelta(seconds=settings.TISSER_WEBHOOK_BREAKER_SECONDS)


def _breaker_record(subscription_id: uuid.UUID, *, answered: bool) -> None:
    """Count an attempt without an answer; any answer starts the count again. Both are
    single UPDATEs, right for attempts that end at once in several workers."""
    subscriptions = WebhookSubscription.objects.filter(id=subscription_id)
    if answered:
        subscriptions.filter(failures_in_a_row__gt=0).update(failures_in_a_row=0)
    else:
        subscriptions.update(
            failures_in_a_row=F("failures_in_a_row") + 1, last_failure_at=timezone.now()
        )


def _post(delivery: WebhookDelivery, resolve: Resolve) -> tuple[int | None, str]:
    subscription = delivery.subscription
    problem = _url_form_problem(subscription.url)
    if problem:
        return None, f"URL refused: {problem}"
    body = json.dumps(webhook_body(delivery.event), separators=(",", ":"))
    message_id = f"msg_{delivery.id.hex}"
    sent_at = timezone.now()
    signature = Webhook(subscription.secret).sign(message_id, sent_at, body)
    headers = {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    return webhook_post(subscription.url, content=body.encode(), headers=headers, resolve=resolve)


def webhook_deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Re-send pending deliveries whose message seems lost: due for longer than the
    outbox's retry delay. Each is nudged (its due time reset to now) so the next sweep
    leaves it alone for that delay again."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=settings.TISSER_OUTBOX_RETRY_SECONDS)
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=overdue
    ).values_list("id", "next_attempt_at")[:limit]
    sent = []
    for delivery_id, due_at in due:
        if WebhookDelivery.objects.filter(id=delivery_id, next_attempt_at=due_at).update(
            next_attempt_at=now
        ):
            sent.append(delivery_id)
    if sent:
        _send(sent)
    return len(sent)


def deliveries_list(owner: Owner) -> QuerySet[WebhookDelivery]:
    owner_q = (
        Q(subscription__health_center=owner)
        if isinstance(owner, HealthCenter)
        else Q(subscription__organization=owner)
    )
    return WebhookDelivery.objects.filter(owner_q).select_related("event", "subscription")


def delivery_redeliver(delivery_id: uuid.UUID, *, owner: Owner | None = None) -> WebhookDelivery:
    """Try a delivery again from scratch (a full series of attempts), now."""
    deliveries = (
        deliveries_list(owner) if owner is not None else WebhookDelivery.objects.all()
    ).filter(id=delivery_id)
    now = timezone.now()
    updated = deliveries.exclude(status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        delivered_at=None,
    )
    delivery = deliveries.first()
    if delivery is None:
        raise NotFound("No webhook delivery with this id.")
    if updated:
        # Asked for now: the breaker, if open, lets it through (and opens again if the
        # receiver still does not answer).
        WebhookSubscription.objects.filter(id=delivery.subscription_id).update(failures_in_a_row=0)
        _send([delivery.id])
    return delivery


def deliveries_redeliver(deliveries: QuerySet[WebhookDelivery]) -> int:
    """The admin's bulk action."""
    ids = list(deliveries.values_list("id", flat=True))
    for delivery_id in ids:
        delivery_redeliver(delivery_id)
    return len(ids)
