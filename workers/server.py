"""The HTTP server: gunicorn, started from `tisser serve`.

In embedded mode there is one gunicorn worker process, and the actors and the relay run
on threads inside it (started after the fork, so WeasyPrint and the in-memory queue
live in the process that serves the requests). With Redis, gunicorn runs
TISSER_WEB_WORKERS processes and the actors run in `tisser worker` processes.

Behind a TLS proxy, gunicorn decides whether a request came over HTTPS: it believes
`X-Forwarded-Proto` only from the addresses in TISSER_TRUSTED_PROXIES (the proxy), and
Django reads the scheme gunicorn decided. Anyone else who reaches the port (another
container, a process on the host) and claims HTTPS is served as plain HTTP, so
redirected.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from django.conf import settings
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from core.broker import embedded
from core.logs import SecretPathFilter, path_redacted, request_id
from workers.runtime import EmbeddedRuntime

_runtime: Any = None


def _post_worker_init(worker: Any) -> None:
    global _runtime
    if embedded():
        _runtime = EmbeddedRuntime()
        _runtime.start()


def _worker_exit(server: Any, worker: Any) -> None:
    if _runtime is not None:
        _runtime.stop()


class RedactingLogger(Logger):
    """gunicorn's plain access log, with a personal page's token left out of the path
    and the request line (`core.logs.path_redacted`), and its error log's lines too."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(SecretPathFilter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = path_redacted(atoms[key])
        return atoms


class JsonLogger(RedactingLogger):
    """gunicorn's logs when Tisser logs JSON (TISSER_LOG_FORMAT=json): its own lines and
    the access log go through Tisser's log handler, one JSON object per line, so a log
    collector reads one format. An access line carries the request's fields and the
    request id the answer was given (`X-Request-ID`), like every line the request wrote.
    The path is logged without its query string, which may hold what someone searched."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
                log.removeHandler(handler)
            log.propagate = True  # to the root logger: Tisser's handler and formatter

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        try:
            self._access(resp, environ, request_time)
        except Exception:  # a log line must never fail a request (as gunicorn's own)
            self.error(traceback.format_exc())

    def _access(self, resp: Any, environ: dict[str, Any], request_time: Any) -> None:
        headers = {str(name).lower(): value for name, value in resp.headers}
        status = str(resp.status).split(None, 1)[0]
        method = environ.get("REQUEST_METHOD", "")
        path = path_redacted(environ.get("PATH_INFO", ""))
        fields = {
            "method": method,
            "path": path,
            "status": int(status) if status.isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "remote_addr": environ.get("REMOTE_ADDR", ""),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR", ""),
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
        }
        token = request_id.set(headers.get("x-request-id", ""))
        try:
            self.access_log.log(logging.INFO, "%s %s %s", method, path, status, extra=fields)
        finally:
            request_id.reset(token)


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
            "forwarded_allow_ips": ",".join(str(n) for n in settings.TISSER_TRUSTED_PROXIES),
        }
        self.options["logger_class"] = (
            JsonLogger if settings.TISSER_LOG_FORMAT == "json" else RedactingLogger
        )
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # What config.wsgi builds, without importing the layer above: settings are set.
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
