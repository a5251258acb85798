"""Real Tisser processes (server, workers, relay) on a database of their own.

On the PostgreSQL run these tests get a fresh database on the same server; on the
embedded default, an SQLite file in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tisser:
    """Runs `tisser` commands against one data directory and database."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str, **env: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "config.cli", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{args[0]}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "config.cli", *args],
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so the whole process group can be killed
        )
        self.processes.append(process)
        return process

    def serve(self, **env: str) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        process = self.start("serve", "--port", str(port), "--no-migrate", **env)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base), timeout=60, what="the server to start")
        return process, base

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(check: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def referral_json() -> dict[str, Any]:
    return {
        "patient_ref": "fault-001",
        "first_name": "Odette",
        "year_of_birth": 1950,
        "location": {"latitude": 45.7578, "longitude": 4.8320},
        "needs": ["isolation"],
        "consent": {"given": True, "method": "written", "at": datetime.now(UTC).isoformat()},
    }


@pytest.fixture
def database_url() -> Iterator[str]:
    """'' for the embedded SQLite default, or a fresh PostgreSQL database."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield ""
        return
    name = f"tisser_fault_{uuid.uuid4().hex[:12]}"
    conninfo = dict(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
    )
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    yield f"postgres://{user}@{conninfo['host']}:{conninfo['port']}/{name}"
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def tisser(tmp_path: Path, database_url: str) -> Iterator[tuple[Tisser, str]]:
    """A migrated Tisser with the demo catalogue and a health centre; yields its API key."""
    env = {
        **os.environ,
        "TISSER_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "TISSER_BROKER_NAMESPACE": f"tisser-fault-{uuid.uuid4().hex[:8]}",
        "TISSER_OUTBOX_SWEEP_SECONDS": "1",
        "TISSER_OUTBOX_RETRY_SECONDS": "5",
        "TISSER_WEB_WORKERS": "1",
    }
    instance = Tisser(env, tmp_path)
    instance.run("migrate", "--verbosity", "0")
    instance.run(
        "shell", "-c", "from community_catalog.demo_data import demo_catalog_load as l; l()"
    )
    key = instance.run("create-center", "Centre de test").strip().splitlines()[-1]
    try:
        yield instance, key
    finally:
        instance.stop_all()


class RedisServer:
    """A Redis server of the test's own, on a free port, stopped and started at will.
    It keeps nothing on disk: what was queued in it is lost when it stops."""

    def __init__(self) -> None:
        assert shutil.which("redis-server"), "redis-server is needed for this test"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()
