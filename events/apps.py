from __future__ import annotations

import uuid

from django.apps import AppConfig


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
