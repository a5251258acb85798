from __future__ import annotations

from django.apps import AppConfig

# Which actor does the work an event triggers (events.outbox publishes to it by name).
EVENT_ACTORS = {
    "referral.submitted": "match_referral",
    "referral.matched": "render_slip",
    "referral.unmatched": "render_slip",
    # The next best activity replaces one that will not take the person.
    "placement.rejected": "rematch_referral",
    "placement.expired": "rematch_referral",
    # A place that fills up or opens changes who can be offered it.
    "capacity.changed": "capacity_rematch",
    # The person asked for something else on their page: new activities, if there are.
    "referral.other_wanted": "rematch_for_person",
}


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        # Actors bind to the broker when they are declared, so the broker comes first.
        from workers.broker import broker_setup

        broker_setup()
        from events.outbox import event_handler_register
        from workers import actors  # noqa: F401

        for event_type, actor_name in EVENT_ACTORS.items():
            event_handler_register(event_type, actor_name)
