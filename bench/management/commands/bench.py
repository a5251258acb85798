from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection


class Command(BaseCommand):
    help = (
        "Benchmarks, in a throw-away database on the configured backend; the last line is "
        "one JSON object. `tisser bench catalog --services 100000`: HSDS import rate and "
        "search latency, each beside a floor measured in the same run. `tisser bench "
        "matching --services 100000 --referrals 1000`: per-referral matching latency "
        "beside a naive scorer in the same run. `tisser bench slips --count 200`: "
        "per-slip render time beside a naive WeasyPrint call, a batch document's per-slip "
        "cost, a fresh worker's first slip, and a day's batch of 100 put together from the "
        "stored slips beside the same laid out anew, in the same run. `tisser bench intake "
        "--seconds 20`: requests per second and latency of `POST /api/v1/referrals` on "
        "the production server beside a bare endpoint that validates the same body and "
        "inserts one row (PostgreSQL and Redis). `tisser bench pipeline --referrals 1000 "
        "--workers K`: referrals filed to slips ready through the production topology, "
        "beside the renderer alone in K processes on the same slips (PostgreSQL and "
        "Redis). `tisser bench harvest --services 100000`: a generated directory served as "
        "an HSDS API over local HTTP and harvested, beside the same records through the "
        "importer alone, and a second run with nothing changed. `tisser bench public`: the "
        "activity pages a slip's QR code opens, rendered and kept, beside the framework's "
        "own /healthz. `tisser bench faults`: "
        "runs the fault and fuzz suites (tests/faults, needs a source checkout, and "
        "DATABASE_URL on PostgreSQL for the production topology's faults) and reports "
        "what they measured: submissions accepted during a broker outage, slips lost, "
        "duplicate slips, fuzz cases tried and 5xx seen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "which",
            choices=[
                "catalog",
                "matching",
                "slips",
                "intake",
                "pipeline",
                "public",
                "harvest",
                "faults",
            ],
        )
        parser.add_argument(
            "--seconds", type=float, default=20, help="intake: seconds of load on each endpoint."
        )
        parser.add_argument(
            "--concurrency", type=int, default=None, help="intake: connections (4 per core)."
        )
        parser.add_argument(
            "--workers", type=int, default=None, help="pipeline: slip worker processes (cores)."
        )
        parser.add_argument(
            "--examples", type=int, default=100, help="Fuzz examples per operation and key."
        )
        parser.add_argument("--count", type=int, default=200, help="Slips to render.")
        parser.add_argument("--services", type=int, default=100_000)
        parser.add_argument("--import", dest="imported", type=int, default=10_000)
        parser.add_argument("--searches", type=int, default=300)
        parser.add_argument("--referrals", type=int, default=1000)
        parser.add_argument(
            "--naive-referrals",
            type=int,
            default=10,
            help="Referrals the naive scorer runs for (it takes seconds each).",
        )
        parser.add_argument("--rounds", type=int, default=5, help="public: rounds over the pages.")
        parser.add_argument("--json", action="store_true", help="Only the JSON line.")

    def handle(
        self,
        *args: Any,
        which: str,
        services: int,
        imported: int,
        searches: int,
        referrals: int,
        naive_referrals: int,
        count: int,
        json: bool,
        examples: int,
        seconds: float,
        concurrency: int | None,
        workers: int | None,
        rounds: int,
        **options: Any,
    ) -> None:
        if which == "faults":
            from bench.fault_report import bench_faults

            log_faults = (lambda _: None) if json else (lambda line: self.stderr.write(line))
            self.stdout.write(_dumps(bench_faults(examples=examples, log=log_faults)))
            return
        from bench.catalog import bench_catalog
        from bench.matching import bench_matching
        from bench.slips import bench_slips

        log = (lambda _: None) if json else (lambda line: self.stderr.write(line))
        # A database of its own, made and dropped the way the test runner does it, under a
        # name of this run's: a bench never meets the test suite's database, or another
        # bench's.
        creation = connection.creation
        old_name = connection.settings_dict["NAME"]
        bench_name = f"tisser_bench_{os.getpid()}"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = (
            str(Path(settings.DATA_DIR) / f"{bench_name}.sqlite3")
            if connection.vendor == "sqlite"
            else bench_name
        )
        creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            if which == "intake":
                from bench.intake import bench_intake

                result = bench_intake(seconds=seconds, concurrency=concurrency, log=log)
            elif which == "pipeline":
                from bench.pipeline import bench_pipeline

                result = bench_pipeline(referrals=referrals, workers=workers, log=log)
            elif which == "public":
                from bench.public import bench_public

                result = bench_public(rounds=rounds, log=log)
            elif which == "slips":
                result = bench_slips(count=count, log=log)
            elif which == "harvest":
                from bench.harvest import bench_harvest

                result = bench_harvest(services=services, log=log)
            elif which == "matching":
                result = bench_matching(
                    services=services,
                    referrals=referrals,
                    naive_referrals=naive_referrals,
                    log=log,
                )
            else:
                result = bench_catalog(
                    services=services, imported=imported, searches=searches, log=log
                )
        finally:
            creation.destroy_test_db(old_name, verbosity=0)
        self.stdout.write(_dumps(result))


def _dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, sort_keys=False)
