from __future__ import annotations

from django.apps import AppConfig


class OutreachConfig(AppConfig):
    """Reaching the person after the slip: their page, and the messages they agreed to."""

    name = "outreach"

    def ready(self) -> None:
        from events.outbox import events_recorded_register
        from outreach.schedule import events_schedule, messages_erase
        from outreach.staff import staff_events_notice
        from referrals.retention import erasure_register

        events_recorded_register(events_schedule)
        events_recorded_register(staff_events_notice)
        erasure_register(messages_erase)
