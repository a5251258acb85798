"""`tisser bench faults`: run the fault and fuzz suites (tests/faults) on the configured
backend and report what they measured. The suites assert the figures themselves (no
slip lost, none twice, no 5xx); this command reruns them and prints the figures, for
the table in docs/operations/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError


def bench_faults(*, examples: int, log: Callable[[str], None]) -> dict[str, Any]:
    suite = Path(settings.BASE_DIR) / "tests" / "faults"
    if not suite.is_dir():
        raise CommandError(f"{suite} is not here: `tisser bench faults` runs from a checkout.")
    postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if not postgres:
        log("DATABASE_URL is not PostgreSQL: the production topology's faults are skipped.")
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "figures.json"
        env = {
            **os.environ,
            "TISSER_FIGURES_FILE": str(report),
            "TISSER_FUZZ_EXAMPLES": str(examples),
        }
        started = time.monotonic()
        run = subprocess.run(  # noqa: S603 - our own interpreter and test suite
            [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        log(run.stdout[-4000:])
        if not report.exists():
            raise CommandError(f"the fault suite measured nothing:\n{run.stdout[-2000:]}")
        import json

        figures: dict[str, Any] = json.loads(report.read_text())
    return {
        "backend": "postgresql" if postgres else "sqlite",
        "suite_passed": run.returncode == 0,
        "seconds": round(time.monotonic() - started, 1),
        "outage_submissions": figures.get("outage_submissions"),
        "outage_accepted": figures.get("outage_accepted"),
        "slips_lost": _sum(figures, "outage_slips_lost", "kill_slips_lost"),
        "duplicate_slips": _sum(figures, "outage_duplicate_slips", "kill_duplicate_slips"),
        "kills_mid_render": figures.get("kill_mid_render"),
        "database_down_requests": figures.get("database_down_requests"),
        "database_down_503": figures.get("database_down_503"),
        "database_down_500": figures.get("database_down_500"),
        "fuzz_examples_per_operation": examples,
        "fuzz_cases": figures.get("fuzz_cases"),
        "fuzz_5xx": figures.get("fuzz_5xx"),
    }


def _sum(figures: dict[str, Any], *names: str) -> int | None:
    found = [figures[n] for n in names if n in figures]
    return sum(found) if found else None
