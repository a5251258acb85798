"""`/events`: what happened, as a feed to follow with cursors. A health centre and an
organisation alike see only the events about their own referrals, placements and
services."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.audit import audit_ids
from accounts.auth import PartyKey, request_party
from core.errors import FieldProblem, InvalidInput
from core.schemas import ErrorOut, openapi_refusals
from events import examples
from events.outbox import event_referral_id
from events.schemas import EventOut, EventPageOut
from events.selectors import events_visible

events_router = Router(auth=PartyKey(), tags=["events"])

_CURSOR_PREFIX = "ev1:"
_CURSOR = re.compile(r"ev1:([0-9]{1,18})")


def cursor_encode(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{event_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    """The position a cursor stands for; a cursor Tisser did not make is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found = _CURSOR.fullmatch(raw)
        if found is None:
            raise ValueError(raw)
        position = int(found.group(1))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "This cursor is not one Tisser gave.",
            fields=[FieldProblem("cursor", "use next_cursor from a previous page, or omit it")],
        ) from None
    return position


class FeedQuery(Schema):
    cursor: str | None = Field(
        default=None, max_length=100, description="`next_cursor` of the previous page."
    )
    limit: int = Field(default=100, ge=1, le=500, description="How many events per page.")
    type: str | None = Field(
        default=None, max_length=64, pattern=r"^[a-z_.-]+$", description="Only this event type."
    )


@events_router.get(
    "",
    response={200: EventPageOut, 401: ErrorOut, 422: ErrorOut},
    summary="What happened, oldest first: a feed to follow with cursors",
    description=(
        "A health centre sees the events of its referrals and their placements; an "
        "organisation, those of the placements addressed to it and of its services. "
        "Start without `cursor`, then pass each page's `next_cursor`; an empty page means "
        "nothing new yet (keep the cursor and ask again later). Events appear "
        "`TISSER_EVENT_FEED_LAG_SECONDS` (default 5) after they happen, so an event written "
        "by a transaction still open can never be skipped."
    ),
    openapi_extra=openapi_refusals({422: examples.CURSOR_INVALID}),
)
def events_feed(request: HttpRequest, query: Query[FeedQuery]) -> EventPageOut:
    after = cursor_decode(query.cursor) if query.cursor else 0
    # Ids are taken when rows are written but become visible at commit, which can come in
    # another order: a lag lets every transaction that took an id before commit first.
    settled = timezone.now() - timedelta(seconds=settings.TISSER_EVENT_FEED_LAG_SECONDS)
    events = events_visible(request_party(request)).filter(id__gt=after, created_at__lte=settled)
    if query.type:
        events = events.filter(type=query.type)
    page = list(events.order_by("id")[: query.limit])
    audit_ids(request, (event_referral_id(e) for e in page))
    return EventPageOut(
        items=[EventOut.model_validate(e) for e in page],
        next_cursor=cursor_encode(page[-1].id if page else after),
    )
