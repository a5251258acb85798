"""`tisser harvest`: the directory feeds Tisser keeps its catalogue current from.

    tisser harvest add NAME URL --kind hsds-api|hsds-file|data-inclusion [--every HOURS]
                                [--token-env VARIABLE] [--label "Annuaire de …"]
    tisser harvest run NAME          run it now (a progress bar on a terminal)
    tisser harvest list              every source, when it last ran and how
    tisser harvest report NAME       the last run's report, as JSON
    tisser harvest remove NAME       stop harvesting it (its services stay)

URL is an http(s) URL or, for a file or data·inclusion export, a path on this server.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.errors import Problem
from harvest.models import HarvestRun, HarvestSource
from harvest.reports import run_report
from harvest.runs import harvest_run
from harvest.sources import source_add, source_get, source_remove


class Command(BaseCommand):
    help = "Keep the catalogue current from directory feeds (HSDS APIs and files, data·inclusion)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = actions.add_parser("add", help="Add a source.")
        add.add_argument("name", help="A short name: lower-case letters, digits, dashes.")
        add.add_argument("url", help="An http(s) URL, or a path on this server.")
        add.add_argument("--kind", required=True, choices=HarvestSource.Kind.values)
        add.add_argument(
            "--every",
            type=int,
            default=24,
            metavar="HOURS",
            help="Hours between runs (default 24; 0: only when run by hand).",
        )
        add.add_argument(
            "--token-env",
            default="",
            metavar="VARIABLE",
            help="An environment variable holding a bearer token for the source (its name "
            "begins with TISSER_HARVEST_TOKEN_; sent over https only).",
        )
        add.add_argument(
            "--label",
            default="",
            help="The directory's name as people know it, shown on the public pages.",
        )
        run = actions.add_parser("run", help="Run a source now.")
        run.add_argument("name")
        actions.add_parser("list", help="List the sources.")
        report = actions.add_parser("report", help="Print a source's last run report (JSON).")
        report.add_argument("name")
        remove = actions.add_parser("remove", help="Remove a source (its services stay).")
        remove.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"])(options)
        except Problem as exc:
            details = "; ".join(f"{f.field}: {f.message}" for f in getattr(exc, "fields", []))
            raise CommandError(f"{exc.message}{' ' + details if details else ''}") from None

    def _add(self, options: dict[str, Any]) -> None:
        source = source_add(
            name=options["name"],
            url=options["url"],
            kind=options["kind"],
            every_hours=options["every"],
            token_env=options["token_env"],
            label=options["label"],
            paths_allowed=True,
        )
        when = f"every {source.every_hours} h" if source.every_hours else "by hand only"
        self.stdout.write(f"added {source.name} ({source.kind}, {when})")

    def _run(self, options: dict[str, Any]) -> None:
        source = source_get(options["name"])
        with tqdm(unit="service", disable=None, file=self.stderr) as bar:
            run = harvest_run(source, progress=bar.update)
        self.stdout.write(json.dumps(run_report(run), indent=2, ensure_ascii=False))
        if run.status == HarvestRun.Status.FAILED:
            raise CommandError(f"the run failed: {run.error}")

    def _list(self, options: dict[str, Any]) -> None:
        for source in HarvestSource.objects.all():
            last = source.runs.first()
            state = f"{last.status} {last.started_at:%Y-%m-%d %H:%M}" if last else "never run"
            due = f"{source.next_run_at:%Y-%m-%d %H:%M}" if source.next_run_at else "-"
            self.stdout.write(
                "\t".join(
                    [
                        source.name,
                        source.kind,
                        source.url,
                        f"every {source.every_hours} h",
                        state,
                        f"next {due}",
                    ]
                )
            )

    def _report(self, options: dict[str, Any]) -> None:
        source = source_get(options["name"])
        last = source.runs.first()
        if last is None:
            raise CommandError(f"{source.name} has never run")
        self.stdout.write(json.dumps(run_report(last), indent=2, ensure_ascii=False))

    def _remove(self, options: dict[str, Any]) -> None:
        brought = source_remove(options["name"])
        self.stdout.write(
            f"removed {options['name']}; the {brought} service(s) it brought stay as they are"
        )
