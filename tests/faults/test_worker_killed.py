"""A slip worker killed with SIGKILL in the middle of rendering: its message is never
acknowledged and its transaction never commits, so the slip is rendered again by the
next worker, and once only. Every referral ends with exactly one slip."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests import figures
from tests.faults.conftest import Tisser, production_only, referral_json, wait_until

pytestmark = [pytest.mark.subprocess, pytest.mark.faults, production_only]

REFERRALS = 30
KILLS = 2
RENDERING = re.compile(r"slip (\S+): rendering")
DONE = re.compile(r"slip (\S+): rendered")


def _unfinished_render(log: Path) -> str | None:
    """The code of the slip this worker started and has not finished, if any."""
    started: list[str] = []
    finished: set[str] = set()
    for line in log.read_text(errors="replace").splitlines():
        if found := RENDERING.search(line):
            started.append(found.group(1))
        elif found := DONE.search(line):
            finished.add(found.group(1))
    pending = [code for code in started if code not in finished]
    return pending[-1] if pending else None


def _slip_worker(instance: Tisser, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = instance.workdir / f"worker-{len(instance.processes)}.log"
    process = instance.start("worker", "--processes", "1", "--threads", "1", "-Q", "slips", **env)
    return process, log


def test_a_worker_killed_mid_render_leaves_exactly_one_slip_each(tisser, redis_server) -> None:
    instance, key = tisser
    headers = {"Authorization": f"Bearer {key}"}
    redis_server.start()
    env = {"REDIS_URL": redis_server.url, "TISSER_RATE_LIMIT_PER_MINUTE": "0"}
    _, base = instance.serve(**env)
    instance.start("worker", "--processes", "1", "--threads", "2", "-Q", "matching", **env)
    instance.start("relay", TISSER_OUTBOX_RETRY_SECONDS="5", **env)
    client = httpx.Client(base_url=base, headers=headers, timeout=30)
    for number in range(REFERRALS):
        body = {**referral_json(), "patient_ref": f"kill-{number:03d}"}
        assert client.post("/api/v1/referrals", json=body).status_code == 202

    def slip_ready_count() -> int:
        page = client.get("/api/v1/referrals", params={"stage": "slip_ready", "limit": 1})
        return int(page.json()["total"])

    killed_mid_render: list[str] = []
    attempts = 0
    while len(killed_mid_render) < KILLS:
        attempts += 1
        assert attempts <= 10, f"no kill landed in a render\n{instance.logs()}"
        process, log = _slip_worker(instance, env)
        # Wait until this worker is in the middle of a slip, then kill it on the spot.
        deadline = time.monotonic() + 60
        while _unfinished_render(log) is None:
            assert time.monotonic() < deadline, f"the worker rendered nothing\n{instance.logs()}"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        # Its log, now final, says whether the kill landed before the render finished.
        if (code := _unfinished_render(log)) is not None:
            killed_mid_render.append(code)
    assert slip_ready_count() < REFERRALS, "every slip was done before the kills"

    _slip_worker(instance, env)
    try:
        wait_until(lambda: slip_ready_count() == REFERRALS, timeout=240, what="every slip")
    except AssertionError:
        pytest.fail(f"{slip_ready_count()} of {REFERRALS} slips\n{instance.logs()}")

    items = client.get("/api/v1/referrals", params={"limit": REFERRALS}).json()["items"]
    by_code = {item["code"]: item for item in items}
    slip_files = list((Path(instance.env["TISSER_DATA_DIR"]) / "files" / "slips").rglob("*.pdf"))
    duplicates = sum(1 for item in items if item["slip_version"] != 1)
    duplicates += max(0, len(slip_files) - REFERRALS)
    figures.record(
        kill_referrals=REFERRALS,
        kill_mid_render=len(killed_mid_render),
        kill_slips_lost=REFERRALS - slip_ready_count(),
        kill_duplicate_slips=duplicates,
    )
    # The slips whose render was killed were rendered again, once.
    for code in killed_mid_render:
        assert by_code[code]["stage"] == "slip_ready"
        assert by_code[code]["slip_version"] == 1
        slip = client.get(f"/api/v1/referrals/{by_code[code]['id']}/slip.pdf")
        assert slip.status_code == 200
        assert slip.content.startswith(b"%PDF")
    assert duplicates == 0
    assert len(slip_files) == REFERRALS
