"""The measurement files of processes that have ended, in whichever container they ran,
are removed when web starts; those of running processes stay.

Every process writes its Prometheus measurements to files named by host and pid in the
shared metrics directory. A container that is recreated (an upgrade, a `--scale` down)
gets a new host name: its old files were never removed, and `/metrics` read more of
them on every scrape.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.metrics import metrics_dir_prune

# A Tisser process in another container: its host name is not ours. It writes one
# measurement, as any process does, then waits.
_OTHER_CONTAINER = """
import socket, sys
socket.gethostname = lambda: sys.argv[1]
from core.metrics import HTTP_SECONDS
HTTP_SECONDS.labels("GET", "healthz", "200").observe(0.01)
print("ready", flush=True)
sys.stdin.read()
"""


def _container(host: str, metrics_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    process = subprocess.Popen(
        [sys.executable, "-c", _OTHER_CONTAINER, host],
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process


def _files(metrics_dir: Path, host: str) -> list[str]:
    return sorted(p.name for p in metrics_dir.iterdir() if f"_{host}-" in p.name)


def test_files_of_ended_processes_go_those_of_running_ones_stay(
    settings: Any, tmp_path: Path
) -> None:
    settings.TISSER_METRICS_DIR = tmp_path
    running = _container("c0ffee000001", tmp_path)
    gone = _container("dead00000002", tmp_path)
    try:
        for process in (running, gone):
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        # The second container is removed: its processes are killed, nothing tidies up.
        gone.send_signal(signal.SIGKILL)
        gone.wait(timeout=10)
        assert _files(tmp_path, "dead00000002")
        assert _files(tmp_path, "c0ffee000001")

        metrics_dir_prune()

        assert _files(tmp_path, "dead00000002") == []
        assert _files(tmp_path, "c0ffee000001") == [f"histogram_c0ffee000001-{running.pid}.db"]
        assert not list(tmp_path.glob("dead00000002-*"))
    finally:
        for process in (running, gone):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
