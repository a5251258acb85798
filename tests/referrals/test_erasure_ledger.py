"""The erasure ledger: every erasure, once committed, appends one line (its time, its
kind, the referral's id: nothing about the person) to a file that a restore does not
reach, for `tisser erasures-reapply` to read after one."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import stat
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from referrals.erasure_ledger import HEADER, Erasure, erasure_append, ledger_read
from referrals.models import Referral
from referrals.retention import referral_consent_withdraw, retention_purge
from tests.conftest import ApiClient, referral_matched

URL = "/api/v1/referrals"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00,(consent_withdrawn|retention),"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ledger(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "erasures" / "ledger.csv"
    settings.TISSER_ERASURE_LEDGER = path
    return path


@pytest.mark.django_db
def test_withdrawing_consent_appends_a_line_once_committed(
    api: ApiClient,
    catalog: int,
    media: Path,
    ledger: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    referral = referral_matched(api)

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"{URL}/{referral.id}/consent/withdraw", {})
        assert response.status_code == 200, response.json()
    assert not ledger.exists()  # written after the commit, not before
    for callback in callbacks:
        callback()

    referral.refresh_from_db()
    assert referral.purged_at is not None
    header, line = ledger.read_text().splitlines()
    assert header == HEADER
    assert line == f"{referral.purged_at.isoformat()},consent_withdrawn,{referral.id}"
    assert LINE.match(line)  # ids and times only: nothing about the person
    assert mode(ledger) == 0o600
    assert mode(ledger.parent) == 0o700


@pytest.mark.django_db
def test_the_retention_purge_appends_a_retention_line(
    api: ApiClient,
    catalog: int,
    media: Path,
    ledger: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    referral = referral_matched(api)
    assert api.post(f"{URL}/{referral.id}/cancel", {}).status_code == 200
    long_ago = timezone.now() - timedelta(days=settings.TISSER_RETENTION_DAYS + 1)
    Referral.objects.filter(id=referral.id).update(closed_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention_purge() == 1

    referral.refresh_from_db()
    assert referral.purged_at is not None
    (erasure,), unreadable = ledger_read(ledger)
    assert unreadable == []
    assert erasure == Erasure(at=referral.purged_at, kind="retention", referral_id=referral.id)


def test_an_erasure_rolled_back_appends_nothing(
    transactional_db: None, api: ApiClient, catalog: int, media: Path, ledger: Path
) -> None:
    referral = referral_matched(api)
    center = referral.health_center

    def erase_then_fail() -> None:
        with transaction.atomic():
            referral_consent_withdraw(health_center=center, referral_id=referral.id)
            raise RuntimeError("the transaction fails after the erasure")

    with pytest.raises(RuntimeError):
        erase_then_fail()

    assert not ledger.exists()
    referral_consent_withdraw(health_center=center, referral_id=referral.id)
    assert len(ledger.read_text().splitlines()) == 2  # the header and its line


@pytest.mark.django_db
def test_an_erasure_stands_and_its_line_is_logged_when_the_ledger_cannot_be_written(
    api: ApiClient,
    catalog: int,
    media: Path,
    settings: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    not_a_folder = tmp_path / "erasures"
    not_a_folder.write_text("")  # where the ledger's folder should be: even root fails
    settings.TISSER_ERASURE_LEDGER = not_a_folder / "ledger.csv"
    referral = referral_matched(api)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}/{referral.id}/consent/withdraw", {})

    assert response.status_code == 200, response.json()
    referral.refresh_from_db()
    assert referral.purged_at is not None
    (record,) = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    # The whole line, for an operator to append by hand.
    assert f"{referral.purged_at.isoformat()},consent_withdrawn,{referral.id}" in (
        record.getMessage()
    )


def _append_many(path: Path, count: int) -> None:
    for _ in range(count):
        erasure_append(
            Erasure(at=timezone.now(), kind="retention", referral_id=uuid.uuid4()), path=path
        )


def test_several_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "erasures" / "ledger.csv"
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_append_many, args=(path, 50)) for _ in range(4)]

    for process in processes:
        process.start()
    for process in processes:
        process.join(30)

    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    header, *lines = path.read_text().splitlines()
    assert header == HEADER
    assert len(lines) == 200
    assert all(LINE.match(line) for line in lines)
    assert len({line.rsplit(",", 1)[1] for line in lines}) == 200


def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    first = Erasure(at=timezone.now(), kind="consent_withdrawn", referral_id=uuid.uuid4())
    erasure_append(first, path=path)
    with path.open("a") as file:
        file.write("2025-01-01T00:00:00+00:00,retention,3f2c")  # the machine stopped here
    second = Erasure(at=timezone.now(), kind="retention", referral_id=uuid.uuid4())

    erasure_append(second, path=path)

    erasures, unreadable = ledger_read(path)
    assert erasures == [first, second]
    assert unreadable == [3]  # line numbers, for the operator


def test_the_ledger_cannot_be_among_the_files_a_restore_overwrites(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TISSER_DATA_DIR": str(tmp_path),
        "TISSER_ERASURE_LEDGER": str(tmp_path / "files" / "erasures.csv"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "TISSER_ERASURE_LEDGER" in result.stderr
    assert "ImproperlyConfigured" in result.stderr
