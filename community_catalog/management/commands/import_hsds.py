from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from community_catalog.hsds import hsds_read
from community_catalog.hsds_import import ImportRejected, ImportReport, hsds_import
from community_catalog.models import Organization
from core.bodies import DocumentError, json_depth_check


class Command(BaseCommand):
    help = (
        "Import an HSDS 3.0 JSON file into the catalogue. With --org, the services become "
        "that organisation's; without it, each service's own organization is used "
        "(created when new)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", help="The organisation's name or id.")
        parser.add_argument("--dry-run", action="store_true", help="Report, write nothing.")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="Import the valid records only."
        )

    def handle(
        self,
        *args: Any,
        file: Path,
        org: str | None,
        dry_run: bool,
        skip_invalid: bool,
        **options: Any,
    ) -> None:
        organization = _organization(org) if org else None
        # An operator's own file: no limit on its size or its number of services (the
        # API's and the web's are in `community_catalog.hsds_files`), but its depth.
        try:
            document = json.loads(file.read_bytes())
            json_depth_check(document)
            read = hsds_read(document)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        except DocumentError as exc:
            raise CommandError(f"{file}: {exc}") from None
        except (ValueError, RecursionError) as exc:
            raise CommandError(f"{file} is not JSON: {exc or 'nested too deeply'}") from None
        with tqdm(total=len(read.records), unit="service", disable=None, file=self.stderr) as bar:
            try:
                report = hsds_import(
                    read,
                    organization=organization,
                    dry_run=dry_run,
                    skip_invalid=skip_invalid,
                    progress=bar.update,
                )
            except ImportRejected as rejected:
                for error in rejected.report.errors:
                    self.stderr.write(f"{error['field']}: {error['message']}")
                self._unlisted(rejected.report)
                raise CommandError(
                    f"{rejected.report.skipped} invalid record(s); nothing was imported "
                    "(--skip-invalid imports the rest)."
                ) from None
        for problem in report.errors:
            self.stderr.write(f"skipped {problem['field']}: {problem['message']}")
        self._unlisted(report)
        for warning in report.warnings:
            self.stderr.write(f"warning {warning['field']}: {warning['message']}")
        if report.more_warnings:
            self.stderr.write(f"… and {report.more_warnings} more warning(s)")
        if report.unmapped_terms:
            self.stderr.write(
                f"{len(report.unmapped_terms)} term(s) of other taxonomies are not mapped to "
                "Tisser's codes yet; the services carrying only those are not matched until "
                "a crosswalk maps them (`tisser crosswalk unmapped`, `tisser crosswalk add`):"
            )
            for term in report.unmapped_terms:
                self.stderr.write(
                    f"  {term['taxonomy'] or '(no taxonomy)'}  {term['code']}  "
                    f"{term['label']}  ({term['services']} service(s))"
                )
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            f"{report.created} created, {report.updated} updated, {report.unchanged} "
            f"unchanged, {report.skipped} skipped: services that {verb} imported"
            + (" (dry run: nothing written)" if dry_run else "")
        )

    def _unlisted(self, report: ImportReport) -> None:
        if report.more_invalid_records:
            self.stderr.write(
                f"… and {report.more_invalid_records} more invalid record(s), whose "
                "problems are not listed"
            )


def _organization(value: str) -> Organization:
    try:
        found = Organization.objects.filter(id=uuid.UUID(value)).first()
    except ValueError:
        found = None
    if found is None:
        matches = list(Organization.objects.filter(name=value)[:2])
        if len(matches) > 1:
            raise CommandError(f"Several organisations are named {value!r}; give its id.")
        found = matches[0] if matches else None
    if found is None:
        raise CommandError(f"No organisation {value!r} (tisser create-org NAME creates one).")
    return found
