from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        # Actors bind to the broker when they are declared, so the broker comes first.
        from workers.broker import broker_setup

        broker_setup()
        from workers import actors  # noqa: F401
