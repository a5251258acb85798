"""Real `tisser` processes for the benchmarks that measure the production topology
(`bench intake`, `bench pipeline`): started on the benchmark's throw-away database and a
Redis namespace of their own, logged to files, stopped together."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection


def production_topology_required() -> None:
    """These benchmarks measure PostgreSQL + Redis, as deployed."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        raise CommandError(
            "This benchmark measures the production topology: set DATABASE_URL to a "
            "PostgreSQL database and REDIS_URL to a Redis server."
        )


def database_url() -> str:
    """The URL of the database the benchmark made (the test runner's copy)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_by_session() -> dict[tuple[int, str], float]:
    """CPU seconds (user + system) of every live process, keyed by (session id, command
    name), from /proc; empty where there is no /proc."""
    found: dict[tuple[int, str], float] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue  # gone meanwhile
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        session, utime, stime = int(fields[3]), int(fields[11]), int(fields[12])
        key = (session, name)
        found[key] = found.get(key, 0.0) + (utime + stime) / _TICKS
    return found


def _machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent running something (not idle, not
    waiting on I/O, not taken by the hypervisor), from /proc/stat; 0 where there is none."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / _TICKS


class Processes:
    """`tisser` subcommands on the benchmark database; stopped together."""

    def __init__(self, **env: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tisser-bench-"))
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "TISSER_BROKER_NAMESPACE": f"tisser-bench-{uuid.uuid4().hex[:8]}",
            "TISSER_DATA_DIR": str(settings.DATA_DIR),
            "TISSER_RATE_LIMIT_PER_MINUTE": "1000000000",  # counted, never reached
            **env,
        }
        self.running: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{args[0]}-{len(self.running)}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "config.cli", *args],
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append(process)
        queue = args[args.index("-Q") + 1] if "-Q" in args else ""
        self.names.append(f"{args[0]}-{queue}" if queue else args[0])
        return process

    def serve(self, *, workers: int, **env: str) -> str:
        port = free_port()
        self.start(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-migrate",
            TISSER_WEB_WORKERS=str(workers),
            **env,
        )
        base = f"http://127.0.0.1:{port}"
        self.wait(lambda: _healthy(base), "the server to start", timeout=60)
        return base

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far by each started process with its children (by role:
        `serve`, `worker-1`…), by PostgreSQL's and Redis's processes, by the load clients
        this process ran (`load`), by this process itself (`bench`), and by the whole
        machine (`machine`, every core, from /proc/stat)."""
        roles = {p.pid: f"{self.names[i]}" for i, p in enumerate(self.running)}
        totals: dict[str, float] = {}
        for (session, name), seconds in _cpu_by_session().items():
            role = roles.get(session) or next(
                (server for server in ("postgres", "redis") if name.startswith(server)), None
            )
            if role is not None:
                totals[role] = totals.get(role, 0.0) + seconds
        # The load client is a child this process waited for: its time is counted here.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        totals["load"] = children.ru_utime + children.ru_stime
        own = resource.getrusage(resource.RUSAGE_SELF)
        totals["bench"] = own.ru_utime + own.ru_stime
        totals["machine"] = _machine_busy_seconds()
        return totals

    def logs(self, name: str) -> str:
        return "".join(p.read_text(errors="replace") for p in self.dir.glob(f"{name}-*.log"))

    def wait(self, check: Callable[[], bool], what: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            for process in self.running:
                if process.poll() is not None:
                    raise CommandError(f"a benchmark process stopped; logs in {self.dir}")
            if time.monotonic() > deadline:
                raise CommandError(f"timed out waiting for {what}; logs in {self.dir}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def load(plan: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    """Run the load client (bench/load_client.py) in its own process on `plan`."""
    import json

    plan_path = workdir / f"plan-{uuid.uuid4().hex[:6]}.json"
    plan_path.write_text(json.dumps(plan))
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bench.load_client", str(plan_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CommandError(f"the load client failed: {result.stderr[-2000:]}")
    phases: list[dict[str, Any]] = json.loads(result.stdout)
    return phases


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
