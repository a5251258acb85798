"""What Tisser writes about people is for the service's own user: the SQLite database
(and its WAL files) is readable by its owner only, a slip's PDF by its owner and group
(a backup or a web server may share the group), never by everybody on the machine."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from events.models import Event
from referrals.models import Referral
from slips.services import referral_slip_attach
from tests.conftest import ApiClient, referral_body

# In a process of its own, on the settings' database: Django's SQLite connection with its
# options (WAL), writing, then the modes of the files SQLite made.
WRITE_AND_REPORT = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (x)")
    cursor.execute("INSERT INTO probe VALUES (1)")
    name = connection.settings_dict["NAME"]
    print(json.dumps({suffix: os.stat(name + suffix).st_mode & 0o777
                      for suffix in ("", "-wal", "-shm") if os.path.exists(name + suffix)}))
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    env = {"TISSER_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}

    result = subprocess.run(
        [sys.executable, "-c", WRITE_AND_REPORT],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    modes = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(modes) == {"", "-wal", "-shm"}
    assert all(m == 0o600 for m in modes.values()), {k: oct(m) for k, m in modes.items()}
    assert mode(tmp_path / "tisser.sqlite3") == 0o600


@pytest.mark.django_db
def test_a_slip_is_readable_by_its_owner_and_group_only(
    api: ApiClient, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"
    referral_id = api.post("/api/v1/referrals", referral_body()).json()["id"]
    event = Event.objects.filter(aggregate_id=referral_id).latest("id")

    stored = referral_slip_attach(
        referral_id=referral_id, event_id=event.id, pdf=b"%PDF-1.7 x", language="fr", render_ms=1
    )

    assert stored
    path = Path(Referral.objects.get(id=referral_id).slip.file.path)
    assert mode(path) == 0o640
    folder = path.parent
    while folder != settings.MEDIA_ROOT:
        assert mode(folder) == 0o750, folder
        folder = folder.parent
    assert mode(settings.MEDIA_ROOT) == 0o750
