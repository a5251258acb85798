"""A backup restores whole: deploy/backup.sh dumps the database with its fingerprint and
archives the slips, for root's eyes only; deploy/restore-rehearsal.sh restores the dump
into a scratch database, checks it against the fingerprint, and erases again whoever the
erasure ledger says was erased since. Runs on the PostgreSQL pass, against the test
database, with the machine's own pg_dump and pg_restore."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from referrals.models import Referral
from tests.conftest import ApiClient, referral_slipped

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# The tisser command, as a server without Docker (or CI) has it.
TISSER = f"{sys.executable} -m config.cli"

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
        umask=0o022,  # root's in `docker compose run backup`
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


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
    transactional_db: None,
    api: ApiClient,
    catalog: int,
    media: Path,
    settings: Any,
    tmp_path: Path,
) -> dict[str, Any]:
    """A health centre, the demo catalogue and a referral with its slip, backed up; the
    erasure ledger holds an erasure from before the backup."""
    referral = referral_slipped(api)
    ledger = tmp_path / "erasures" / "ledger.csv"
    ledger.parent.mkdir()
    ledger.write_text(f"time,kind,referral\n2025-01-01T00:00:00+00:00,retention,{uuid.uuid4()}\n")
    settings.TISSER_ERASURE_LEDGER = ledger
    directory = tmp_path / "backups"
    directory.mkdir(mode=0o755)  # as Docker creates a bind mount's missing folder
    result = _run(
        "backup.sh", str(directory), TISSER_FILES_DIR=str(media), TISSER_ERASURE_LEDGER=str(ledger)
    )
    assert result.returncode == 0, result.stderr
    (dump,) = directory.glob("*.dump")
    base = str(dump)[: -len(".dump")]
    return {"referral": referral, "dump": dump, "base": base, "ledger": ledger}


def test_a_backup_is_for_its_owner_only(backup: dict[str, Any]) -> None:
    directory = backup["dump"].parent
    base = backup["base"]

    written = {str(path): _mode(path) for path in directory.iterdir()}

    suffixes = (".dump", ".fingerprint", "-files.tar.gz", ".erasures.csv")
    assert written == {base + suffix: 0o600 for suffix in suffixes}
    assert _mode(directory) == 0o700
    # The ledger is copied beside the dump (for a server lost with its volume), never into
    # the files archive that a restore unpacks.
    assert Path(base + ".erasures.csv").read_bytes() == backup["ledger"].read_bytes()
    with tarfile.open(base + "-files.tar.gz") as archive:
        assert not [name for name in archive.getnames() if "erasure" in name]


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


def test_the_rehearsal_erases_again_whoever_was_erased_after_the_backup(
    backup: dict[str, Any], api: ApiClient
) -> None:
    referral, ledger, dump = backup["referral"], backup["ledger"], str(backup["dump"])
    # After the backup, the person withdraws consent: the ledger records it.
    assert api.post(f"/api/v1/referrals/{referral.id}/consent/withdraw", {}).status_code == 200
    recorded = ledger.read_bytes()
    assert f"consent_withdrawn,{referral.id}" in recorded.decode()
    before = _scratch_databases()
    # Where there is no tisser command (compose's backup container): said, not run.
    path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "tisser").exists()
    )

    told = _run("restore-rehearsal.sh", dump, TISSER_ERASURE_LEDGER=str(ledger), PATH=path)
    # A reapply that erases no one fails the rehearsal.
    idle = _run(
        "restore-rehearsal.sh", dump, TISSER_ERASURE_LEDGER=str(ledger), TISSER_COMMAND="true"
    )
    done = _run(
        "restore-rehearsal.sh", dump, TISSER_ERASURE_LEDGER=str(ledger), TISSER_COMMAND=TISSER
    )

    assert told.returncode == 0, told.stderr
    assert "erasures: 1 referral(s) erased since this backup are back in it" in told.stdout
    assert "after a restore, run `tisser erasures-reapply`" in told.stdout
    assert idle.returncode == 1
    assert "FAILED: 1 referral(s) erased since this backup are still there" in idle.stderr
    assert done.returncode == 0, done.stderr
    assert (
        "erasures: 1 referral(s) erased since this backup were back in it; "
        "tisser erasures-reapply erased them again" in done.stdout
    )
    assert "restores whole" in done.stdout
    # The rehearsal wrote nothing real: neither the ledger, nor the live database.
    assert ledger.read_bytes() == recorded
    assert Referral.objects.get(id=referral.id).consent_withdrawn_at is not None
    assert _scratch_databases() == before


def test_a_backup_before_the_first_slip_works(transactional_db: None, tmp_path: Path) -> None:
    """A fresh server has no slips folder until the first slip: the first backup, as the
    deployment walk runs it (docs/operations/deployment.md, step 5), must not fail on it
    (it did, and removed its own dump)."""
    directory = tmp_path / "backups"
    result = _run("backup.sh", str(directory), TISSER_FILES_DIR=str(tmp_path / "no-slips-yet"))
    assert result.returncode == 0, result.stderr
    (archive,) = directory.glob("*-files.tar.gz")
    assert list(directory.glob("*.dump"))
    with tarfile.open(archive) as files:
        assert [name for name in files.getnames() if name != "."] == []
