"""The HTTP server: gunicorn, started from `tisser serve`.

In embedded mode there is one gunicorn worker process, and the actors and the relay run
on threads inside it (started after the fork, so WeasyPrint and the in-memory queue
live in the process that serves the requests). With Redis, gunicorn runs
TISSER_WEB_WORKERS processes and the actors run in `tisser worker` processes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from gunicorn.app.base import BaseApplication

from config.broker import embedded

_runtime: Any = None


def _post_worker_init(worker: Any) -> None:
    global _runtime
    if embedded():
        from workers.runtime import EmbeddedRuntime

        _runtime = EmbeddedRuntime()
        _runtime.start()


def _worker_exit(server: Any, worker: Any) -> None:
    if _runtime is not None:
        _runtime.stop()


class TisserServer(BaseApplication):
    def __init__(self, *, host: str, port: int, workers: int, threads: int) -> None:
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1 if embedded() else workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 60,
            "graceful_timeout": 20,
            "accesslog": "-",
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
            "forwarded_allow_ips": "*" if settings.PRODUCTION else "127.0.0.1",
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from config.wsgi import application

        return application
