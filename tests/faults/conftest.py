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

# Faults of the production topology (PostgreSQL, Redis, separate worker processes) run
# on the PostgreSQL pass of the suite; the embedded default has its own (a killed
# `tisser serve`, test_embedded_restart.py).
production_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="a fault of the production topology (PostgreSQL + Redis): runs on the PostgreSQL pass",
)


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
            # Graceful shutdown is not what these tests are about: a few seconds, then
            # the whole group goes (a dramatiq worker whose Redis went away can take
            # longer to wind down its consumers).
            try:
                process.wait(timeout=3)
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


def _postgres() -> dict[str, Any] | None:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    return dict(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
    )


def _postgres_url(conninfo: dict[str, Any], name: str) -> str:
    user = conninfo["user"] + (f":{conninfo['password']}" if conninfo["password"] else "")
    return f"postgres://{user}@{conninfo['host']}:{conninfo['port']}/{name}"


def _base_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "TISSER_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "TISSER_BROKER_NAMESPACE": f"tisser-fault-{uuid.uuid4().hex[:8]}",
        "TISSER_OUTBOX_SWEEP_SECONDS": "1",
        "TISSER_OUTBOX_RETRY_SECONDS": "5",
        "TISSER_WEB_WORKERS": "1",
    }


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A migrated database with the demo catalogue, made once per session: a data
    directory with its SQLite file, or a PostgreSQL database used as a template."""
    data_dir = tmp_path_factory.mktemp("template") / "data"
    conninfo = _postgres()
    name = f"tisser_fault_template_{uuid.uuid4().hex[:12]}"
    if conninfo is not None:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    database_url = _postgres_url(conninfo, name) if conninfo else ""
    maker = Tisser(_base_env(data_dir, database_url), data_dir.parent)
    maker.run(
        "shell",
        "-c",
        "from django.core.management import call_command; call_command('migrate', "
        "verbosity=0); from community_catalog.demo_data import demo_catalog_load; "
        "demo_catalog_load(); from django.db import connection; connection.close()",
    )
    yield data_dir, name if conninfo else ""
    if conninfo is not None:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(template: tuple[Path, str]) -> Iterator[str]:
    """'' for the embedded SQLite default, or a fresh PostgreSQL database copied from
    the session's template."""
    conninfo = _postgres()
    if conninfo is None:
        yield ""
        return
    name = f"tisser_fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template[1]}"')
    yield _postgres_url(conninfo, name)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def tisser(
    tmp_path: Path, database_url: str, template: tuple[Path, str]
) -> Iterator[tuple[Tisser, str]]:
    """A migrated Tisser with the demo catalogue and a health centre; yields its API key."""
    data_dir = tmp_path / "data"
    # The template's data directory: its SQLite file (on the embedded default) and key.
    shutil.copytree(template[0], data_dir)
    instance = Tisser(_base_env(data_dir, database_url), tmp_path)
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
