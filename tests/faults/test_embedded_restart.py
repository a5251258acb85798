"""Embedded mode: the queue lives in memory. A process killed after accepting a referral
loses that queue; the outbox makes the next process finish the work."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.faults.conftest import referral_json, wait_until

pytestmark = [pytest.mark.subprocess, pytest.mark.faults]


def test_a_referral_accepted_before_a_kill_completes_after_restart(tisser) -> None:
    instance, key = tisser
    headers = {"Authorization": f"Bearer {key}"}
    # A server with no worker threads: the referral is accepted and its job queued in
    # memory, where nothing will take it before the kill.
    first, base = instance.serve(TISSER_WORKER_THREADS="0")
    accepted = httpx.post(f"{base}/api/v1/referrals", json=referral_json(), headers=headers)
    assert accepted.status_code == 202
    referral_url = f"{base}/api/v1/referrals/{accepted.json()['id']}"
    assert httpx.get(referral_url, headers=headers).json()["stage"] == "submitted"

    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    _, base = instance.serve()

    referral_url = f"{base}/api/v1/referrals/{accepted.json()['id']}"
    try:
        wait_until(
            lambda: httpx.get(referral_url, headers=headers).json()["stage"] == "slip_ready",
            timeout=60,
            what="the slip after the restart",
        )
    except AssertionError:
        pytest.fail(instance.logs())
    slip = httpx.get(f"{referral_url}/slip.pdf", headers=headers)
    assert slip.status_code == 200
    assert slip.content.startswith(b"%PDF")
