"""`tisser serve` as production runs it (gunicorn behind a TLS proxy), over real sockets:
the probes answer whatever the Host, only the proxy may say a request came over HTTPS,
and the access log is JSON when the app logs JSON."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

PUBLIC_HOST = "tisser.example.org"
# Any path that needs no database: the server runs on an empty one.
PAGE = "/api/v1/docs"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("server")
    log_path = data_dir / "serve.log"
    port = _free_port()
    env = {
        **os.environ,
        "TISSER_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-v9Qz_3xLm" * 5,
        "TISSER_ALLOWED_HOSTS": PUBLIC_HOST,
        "TISSER_PUBLIC_URL": f"https://{PUBLIC_HOST}",
        "TISSER_METRICS_TOKEN": "a-scrape-token-of-32-characters!",
        "TISSER_DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "TISSER_WORKER_THREADS": "0",
        # The proxy is 127.0.0.1; the tests also call from 127.0.0.2, which is not it.
        "TISSER_TRUSTED_PROXIES": "127.0.0.1",
    }
    env.pop("TISSER_LOG_FORMAT", None)  # production's default: json
    command = ["serve", "--no-migrate", "--workers", "1", "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.cli", *command, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield {"base": f"http://127.0.0.1:{port}", "log": log_path}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # gunicorn's quick shutdown
            process.wait(timeout=30)


def _client(local_address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=local_address), timeout=10)


def test_the_probe_answers_the_containers_own_address(server: dict[str, Any]) -> None:
    # What Docker's healthcheck sends: Host is 127.0.0.1:<port>, plain HTTP.
    with _client() as client:
        response = client.get(f"{server['base']}/healthz")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_only_the_proxy_may_say_the_request_came_over_https(server: dict[str, Any]) -> None:
    headers = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
    with _client("127.0.0.1") as proxy, _client("127.0.0.2") as stranger:
        through_the_proxy = proxy.get(f"{server['base']}{PAGE}", headers=headers)
        around_it = stranger.get(f"{server['base']}{PAGE}", headers=headers)

    assert through_the_proxy.status_code == 200
    # Anyone else claiming HTTPS is not believed: plain HTTP, so sent to HTTPS.
    assert around_it.status_code == 301
    assert around_it.headers["Location"] == f"https://{PUBLIC_HOST}{PAGE}"


def _json_lines(log: Path) -> list[dict[str, Any]]:
    records = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _records(log: Any, request_id: str, at_least: int, logger: str = "") -> list[dict[str, Any]]:
    """The server's JSON log records of one request id (of one logger), once there are
    `at_least` (the server writes them a moment after answering), or after ten seconds."""
    deadline = time.monotonic() + 10
    while True:
        mine = [
            r
            for r in _json_lines(log)
            if r.get("request_id") == request_id and (not logger or r.get("logger") == logger)
        ]
        if len(mine) >= at_least or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def test_the_access_log_is_json_when_the_app_logs_json(server: dict[str, Any]) -> None:
    with _client() as client:
        client.get(f"{server['base']}/healthz?probe=1", headers={"X-Request-ID": "probe-42"})

    mine = _records(server["log"], "probe-42", 1, logger="gunicorn.access")
    assert mine, server["log"].read_text()[-3000:]
    record = mine[0]
    assert record["method"] == "GET"
    assert record["path"] == "/healthz"  # no query string: it may hold search terms
    assert record["status"] == 200
    assert record["level"] == "INFO"
    assert isinstance(record["duration_ms"], float | int)
    # gunicorn's own lines too: one JSON object per line, none in its plain format.
    text = server["log"].read_text()
    assert any(r.get("logger") == "gunicorn.error" for r in _json_lines(server["log"]))
    assert not [line for line in text.splitlines() if line.startswith("[20")], text[-3000:]


def test_no_log_line_holds_a_personal_pages_token(server: dict[str, Any]) -> None:
    """Issue 25 (review): the token in `/p/<token>` is the key to a person's page; the
    access log and Django's "Not Found" line both wrote it."""
    token = "SECRETtoken" * 4
    with _client() as client:
        for path in (f"/p/{token}", f"/p/{token}/stop", f"/p/{token}/answer"):
            client.get(f"{server['base']}{path}", headers={"X-Request-ID": "pp-7"})
            client.post(f"{server['base']}{path}", headers={"X-Request-ID": "pp-7"})

    mine = _records(server["log"], "pp-7", 6)
    assert [r for r in mine if r.get("logger") == "gunicorn.access"], mine
    assert any(r.get("path", "").startswith("/p/\N{HORIZONTAL ELLIPSIS}") for r in mine)
    assert "SECRETtoken" not in server["log"].read_text()
