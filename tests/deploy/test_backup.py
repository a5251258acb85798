"""A backup restores whole: deploy/backup.sh dumps the database with its fingerprint and
archives the slips; deploy/restore-rehearsal.sh restores the dump into a scratch
database and checks it against the fingerprint. Runs on the PostgreSQL pass, against
the test database, with the machine's own pg_dump and pg_restore."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from tests.conftest import ApiClient, referral_slipped

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="pg_dump and pg_restore: runs on the PostgreSQL pass",
)


def _libpq_env(**extra: str) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "PGHOST": db["HOST"] or "127.0.0.1",
        "PGPORT": str(db["PORT"] or 5432),
        "PGUSER": db["USER"] or "",
        "PGDATABASE": db["NAME"],
        **extra,
    }
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY / script), *args],
        env=_libpq_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _scratch_databases() -> set[str]:
    """The rehearsal's scratch databases on the server (other databases come and go:
    the server is shared)."""
    with psycopg.connect(
        host=_libpq_env()["PGHOST"],
        port=_libpq_env()["PGPORT"],
        user=connection.settings_dict["USER"],
        password=connection.settings_dict["PASSWORD"] or None,
        dbname="postgres",
    ) as conn:
        query = "SELECT datname FROM pg_database WHERE datname LIKE 'tisser_rehearsal_%'"
        return {row[0] for row in conn.execute(query)}


@pytest.fixture
def backup(
    transactional_db: None, api: ApiClient, catalog: int, media: Path, tmp_path: Path
) -> dict[str, Any]:
    """A health centre, the demo catalogue and a referral with its slip, backed up."""
    referral = referral_slipped(api)
    result = _run("backup.sh", str(tmp_path / "backups"), TISSER_FILES_DIR=str(media))
    assert result.returncode == 0, result.stderr
    (dump,) = (tmp_path / "backups").glob("*.dump")
    return {"referral": referral, "dump": dump, "base": str(dump)[: -len(".dump")]}


def test_a_backup_restores_whole_in_the_rehearsal(backup: dict[str, Any]) -> None:
    referral = backup["referral"]
    fingerprint = Path(backup["base"] + ".fingerprint").read_text().splitlines()
    assert "rows referrals_referral 1" in fingerprint
    assert "migration referrals 0001_initial" in fingerprint
    (newest,) = [line for line in fingerprint if line.startswith("referral ")]
    assert newest.startswith(f"referral {referral.id} {referral.code} slip_ready active ")
    assert f"slip={referral.slip.file.name}" in newest
    with tarfile.open(backup["base"] + "-files.tar.gz") as archive:
        assert f"./{referral.slip.file.name}" in archive.getnames()
    before = _scratch_databases()

    result = _run("restore-rehearsal.sh", str(backup["dump"]))

    assert result.returncode == 0, result.stderr
    assert f"newest referral {referral.code} (slip_ready)" in result.stdout
    assert "-files.tar.gz: 1 files" in result.stdout
    assert result.stderr == ""
    assert _scratch_databases() == before  # the scratch database is gone


def test_the_rehearsal_fails_when_the_backup_does_not_restore_whole(
    backup: dict[str, Any],
) -> None:
    before = _scratch_databases()
    # The backup held two referrals; its dump restores one.
    fingerprint = Path(backup["base"] + ".fingerprint")
    text = fingerprint.read_text()
    fingerprint.write_text(text.replace("rows referrals_referral 1", "rows referrals_referral 2"))

    short = _run("restore-rehearsal.sh", str(backup["dump"]))

    assert short.returncode == 1
    assert "-rows referrals_referral 2\n+rows referrals_referral 1" in short.stderr
    assert "FAILED" in short.stderr

    # A dump cut in half (a full disk, a copy interrupted) does not restore at all.
    fingerprint.write_text(text)
    dump = backup["dump"]
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])

    damaged = _run("restore-rehearsal.sh", str(dump))

    assert damaged.returncode != 0
    assert "restores whole" not in damaged.stdout
    assert _scratch_databases() == before
