from __future__ import annotations

import uuid
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks


@checks.register()
def work_events_have_actors(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Where the workers app is installed, every event that triggers work has its actor:
    otherwise such events would wait for a process that can do their work."""
    from events.outbox import EVENT_HANDLERS, WORK_EVENTS

    if not apps.is_installed("workers"):
        return []
    return [
        checks.Error(f"no actor registered for the event {name!r}", id="events.E001")
        for name in sorted(WORK_EVENTS - EVENT_HANDLERS.keys())
    ]


def event_referral(object_id: object) -> uuid.UUID | None:
    """The referral an admin event page names, for the audit log."""
    from accounts.audit import audit_int, audit_uuid
    from events.models import Event
    from events.outbox import event_referral_id

    pk = audit_int(object_id)
    event = Event.objects.filter(pk=pk).first() if pk is not None else None
    found = event_referral_id(event) if event else None
    return audit_uuid(found) if found else None


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.audit import audit_finder_register
        from events.outbox import events_recorded_register
        from events.webhooks import webhook_deliveries_create

        audit_finder_register(event_referral, admin_model="events.event")
        # One webhook delivery per event and interested subscription, in the event's
        # transaction: an event that commits is delivered, one that rolls back never is.
        events_recorded_register(webhook_deliveries_create)
